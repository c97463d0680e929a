"""utils.compact: depthwise convolutions against Keras, MACs, costs, timing."""

import numpy as np
import pytest

from utils import compact, layer_cost

keras = pytest.importorskip("keras")


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_depthwise_and_separable_match_keras(padding):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 7, 6, 3)).astype(np.float32)
    dw = keras.layers.DepthwiseConv2D(3, padding=padding, use_bias=False)
    pw = keras.layers.Conv2D(5, 1)
    theirs = pw(dw(x))
    ours_dw = compact.depthwise_conv2d(x, dw.kernel.numpy(), padding=padding)
    np.testing.assert_allclose(ours_dw, dw(x), rtol=1e-5, atol=1e-6)
    ours = compact.separable_conv2d(
        x, dw.kernel.numpy(), pw.kernel.numpy(), pw.bias.numpy(), padding=padding
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_depthwise_refuses_a_mismatched_kernel():
    with pytest.raises(ValueError, match="kernel must be"):
        compact.depthwise_conv2d(np.ones((1, 5, 5, 3)), np.ones((3, 3, 2, 1)))
    with pytest.raises(ValueError, match="does not fit"):
        compact.depthwise_conv2d(np.ones((1, 2, 2, 3)), np.ones((3, 3, 3, 1)))


def test_depthwise_macs_are_kh_kw_per_output_value():
    model = compact.small_cnn((8, 16, 32), separable=True)
    full = compact.small_cnn((8, 16, 32))
    rows = {r["name"]: r for r in compact.layer_costs(model)}
    depthwise = [layer for layer in model.layers if "depthwise" in layer.name]
    assert len(depthwise) == 2
    # 16x16 pixels x 8 channels x 9 taps, then 8x8 x 16 x 9
    assert [rows[layer.name]["macs"] for layer in depthwise] == [
        16 * 16 * 8 * 9,
        8 * 8 * 16 * 9,
    ]
    assert sum(r["macs"] for r in rows.values()) == layer_cost.model_macs(model)
    assert layer_cost.model_macs(model) < layer_cost.model_macs(full) / 2


def test_layer_costs_count_bytes_and_intensity():
    model = compact.small_cnn((4, 4, 4))
    rows = compact.layer_costs(model, batch=2)
    first = rows[0]
    assert first["params"] == 3 * 3 * 3 * 4 + 4
    assert first["macs"] == 2 * 32 * 32 * 4 * 27
    assert first["act_bytes"] == 2 * 32 * 32 * 4 * 4
    assert first["bytes_moved"] == 2 * 32 * 32 * 3 * 4 + first["act_bytes"] + 4 * 112
    pool = rows[1]
    assert pool["macs"] == 0 and pool["intensity"] == 0
    assert sum(r["params"] for r in rows) == model.count_params()
    assert compact.weight_bytes(model) == 4 * model.count_params()
    with pytest.raises(ValueError, match="batch"):
        compact.layer_costs(model, batch=0)


def test_small_cnn_shapes_and_bad_widths():
    model = compact.small_cnn((4, 8, 16))
    assert model.output_shape == (None, 10)
    assert [k.shape[-1] for k, _ in compact.chain_params(model)] == [4, 8, 16, 10]
    with pytest.raises(ValueError, match="widths"):
        compact.small_cnn((4, 8))
    with pytest.raises(ValueError, match="widths"):
        compact.small_cnn((4, 0, 8))


def test_latency_reports_median_and_quartiles():
    calls = []

    def fn(x):
        calls.append(len(x))
        return x

    result = compact.latency_ms(fn, np.ones((4, 2)), repeats=5, warmup=2)
    assert len(calls) == 7 and result["batch"] == 4 and result["repeats"] == 5
    assert 0 <= result["min"] <= result["q1"] <= result["median"] <= result["q3"]
    with pytest.raises(ValueError, match="repeats"):
        compact.latency_ms(fn, np.ones(2), repeats=2)
    with pytest.raises(TypeError, match="callable"):
        compact.latency_ms(None, np.ones(2))


def test_compare_latency_interleaves_the_calls():
    order = []
    fns = {name: (lambda x, n=name: order.append(n) or x) for name in "ab"}
    result = compact.compare_latency(fns, np.ones(3), repeats=4, warmup=1)
    assert order == ["a", "b"] + ["a", "b"] * 4  # warm-up each, then round robin
    assert set(result) == {"a", "b"} and result["a"]["repeats"] == 4
    with pytest.raises(ValueError, match="non-empty dict"):
        compact.compare_latency({}, np.ones(3))
    with pytest.raises(TypeError, match="for 'b'"):
        compact.compare_latency({"a": len, "b": 3}, np.ones(3))


def test_cpu_predictor_equals_the_model():
    model = compact.small_cnn((4, 4, 8))
    x = np.random.default_rng(3).normal(size=(3, 32, 32, 3)).astype(np.float32)
    run = compact.cpu_predictor(model)
    np.testing.assert_allclose(run(x), model.predict_on_batch(x), rtol=1e-5, atol=1e-6)
    assert run(x[:1]).shape == (1, 10)
    with pytest.raises(TypeError, match="callable"):
        compact.cpu_predictor(3)


def test_pin_threads_checks_its_argument():
    with pytest.raises(ValueError, match="n must be"):
        compact.pin_threads(0)
    with pytest.raises(ValueError, match="n must be"):
        compact.pin_threads(2.0)


def test_pin_threads_before_tensorflow_starts_and_refuses_a_change_after(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "from utils import compact\n"
        "import tensorflow as tf\n"
        "assert compact.pin_threads(2) == 2\n"
        "float(tf.reduce_sum(tf.ones(3)))\n"  # TensorFlow has started now
        "assert tf.config.threading.get_intra_op_parallelism_threads() == 2\n"
        "assert compact.pin_threads(2) == 2\n"  # the same count: nothing to do
        "try:\n"
        "    compact.pin_threads(3)\n"
        "except RuntimeError as err:\n"
        "    assert 'restart the kernel' in str(err)\n"
        "else:\n"
        "    raise AssertionError('no error')\n"
    )
    root = Path(__file__).resolve().parent.parent
    env = {**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
