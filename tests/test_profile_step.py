"""benchmarks.profile_step (chapter 10): the per-op profile of a training step.

Sorting profiler events, summing them per step, reading a trace file (fabricated here
in TensorFlow's XSpace format), a tiny end-to-end run, and the committed records in
``results/profile/`` (each command re-parses to its stored configuration).
"""

import json
import shlex
from pathlib import Path

import pytest

from benchmarks import profile_step

ROOT = Path(__file__).resolve().parent.parent
RECORDS = sorted((ROOT / "results" / "profile").glob("*.json"))


@pytest.mark.parametrize(
    "name, layer, pass_, category, op_type",
    [
        (
            "gradient_tape/g1_conv1_1/convolution/Conv2DBackpropFilter:"
            "_MklNativeConv2DBackpropFilter",
            "g1_conv1",
            "backward",
            "conv backward (filter)",
            "Conv2DBackpropFilter",
        ),
        (
            "gradient_tape/g3_conv1_1/convolution/Conv2DBackpropInput:"
            "_MklNativeConv2DBackpropInput",
            "g3_conv1",
            "backward",
            "conv backward (input)",
            "Conv2DBackpropInput",
        ),
        (
            "g2_conv2_1/convolution:_MklNativeConv2D",
            "g2_conv2",
            "forward",
            "conv forward",
            "Conv2D",
        ),
        (
            "whiten_1/add:_MklNativeFusedConv2D",
            "whiten",
            "forward",
            "conv forward",
            "FusedConv2D",
        ),
        ("whiten_gelu_1/Gelu/Erfc:Erfc", "whiten_gelu", "forward", "GELU", "Erfc"),
        ("gradient_tape/g1_gelu2_1/mul:Mul", "g1_gelu2", "backward", "GELU", "Mul"),
        ("g1_bn1_1/moments/mean:Mean", "g1_bn1", "forward", "BatchNorm", "Mean"),
        (
            "gradient_tape/g1_pool_1/MaxPool2d/MaxPoolGrad:_MklNativeMaxPoolGrad",
            "g1_pool",
            "backward",
            "max-pool",
            "MaxPoolGrad",
        ),
        ("AddN_12:AddN", "AddN", "forward", "other", "AddN"),
        (  # FusedGELU's XLA loops: no layer name in the trace
            "CpuExecutable::ExecuteAsyncOnStream",
            "fused GELU (XLA)",
            "forward and backward",
            "GELU",
            "XLA executable",
        ),
        # the names TensorFlow uses with oneDNN off
        (
            "whiten_1/add:_FusedConv2D",
            "whiten",
            "forward",
            "conv forward",
            "FusedConv2D",
        ),
        (
            "gradient_tape/g2_conv1_1/convolution/Conv2DBackpropFilter:"
            "Conv2DBackpropFilter",
            "g2_conv1",
            "backward",
            "conv backward (filter)",
            "Conv2DBackpropFilter",
        ),
    ],
)
def test_classify_op(name, layer, pass_, category, op_type):
    op = profile_step.classify_op(name)
    assert op == {
        "layer": layer,
        "pass": pass_,
        "category": category,
        "op_type": op_type,
    }


@pytest.mark.parametrize(
    "name", ["ExecutorState::Process", "_step", "EagerExecute", "a/b:c/d", ":Mul"]
)
def test_events_that_are_not_ops_are_skipped(name):
    assert profile_step.classify_op(name) is None


def test_classify_op_refuses_a_non_string():
    with pytest.raises(TypeError, match="str"):
        profile_step.classify_op(b"g1_conv1/x:Conv2D")


def test_summarize_events_per_step_and_shares():
    events = [
        ("g1_conv1_1/convolution:_MklNativeConv2D", 30.0),
        ("gradient_tape/g1_conv1_1/c/Conv2DBackpropFilter:Conv2DBackpropFilter", 60),
        ("whiten_gelu_1/Gelu/Erfc:Erfc", 10.0),
        ("ExecutorState::Process", 500.0),  # a wrapper, not an op: skipped
        ("CpuExecutable::ExecuteAsyncOnStream", 4.0),
        ("add_multiply_fusion", 3.0),  # inside the executable: not counted twice
    ]
    s = profile_step.summarize_events(events, steps=2)
    assert s["total_ms"] == pytest.approx(52.0)
    assert s["categories"]["conv forward"] == pytest.approx(15.0)
    assert s["categories"]["conv backward (filter)"] == pytest.approx(30.0)
    assert s["categories"]["GELU"] == pytest.approx(7.0)
    assert s["layers"]["fused GELU (XLA)"]["forward and backward"] == 2.0
    assert s["categories"]["BatchNorm"] == 0.0
    assert set(s["categories"]) == set(profile_step.CATEGORIES)
    assert sum(s["shares"].values()) == pytest.approx(1.0)
    assert s["layers"]["g1_conv1"] == {"forward": 15.0, "backward": 30.0}
    assert list(s["layers"])[0] == "g1_conv1"  # the costliest layer first
    assert s["op_types"]["Conv2DBackpropFilter"] == pytest.approx(30.0)


def test_summarize_events_refuses_empty_traces_and_bad_steps():
    with pytest.raises(ValueError, match="no TensorFlow op events"):
        profile_step.summarize_events([("ExecutorState::Process", 1.0)], steps=1)
    with pytest.raises(ValueError, match="steps"):
        profile_step.summarize_events([("a_1/x:Mul", 1.0)], steps=0)
    with pytest.raises(ValueError, match="steps"):
        profile_step.summarize_events([("a_1/x:Mul", 1.0)], steps=True)
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="duration"):
            profile_step.summarize_events([("a_1/x:Mul", bad)], steps=1)


def test_trace_events_reads_only_the_op_threads(tmp_path):
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    plane = space.planes.add(name="/host:CPU")
    plane.event_metadata[1].name = "g1_conv1_1/convolution:_MklNativeConv2D"
    plane.event_metadata[2].name = "_step"
    ops = plane.lines.add(name="tf_Compute/123")
    ops.events.add(metadata_id=1, duration_ps=2_500_000_000)  # 2.5 ms
    python = plane.lines.add(name="python")
    python.events.add(metadata_id=2, duration_ps=9_000_000_000)
    other = space.planes.add(name="/device:GPU:0")  # another plane: not read
    other.event_metadata[1].name = "g1_conv1_1/convolution:Conv2D"
    other.lines.add(name="tf_Compute/9").events.add(metadata_id=1, duration_ps=10**9)
    folder = tmp_path / "plugins" / "profile" / "run"
    folder.mkdir(parents=True)
    (folder / "host.xplane.pb").write_bytes(space.SerializeToString())
    events = profile_step.trace_events(tmp_path)
    assert events == [("g1_conv1_1/convolution:_MklNativeConv2D", 2.5)]
    with pytest.raises(FileNotFoundError, match="xplane"):
        profile_step.trace_events(tmp_path / "plugins" / "empty")


def test_tiny_profile_end_to_end(tmp_path, capsys):
    out = tmp_path / "tiny.json"
    argv = ["--profile", "quick", "--widths", "8,8,8", "--batch-size", "16"]
    argv += ["--steps", "2", "--repeats", "1", "--json", str(out)]
    assert profile_step.main(argv) == 0
    printed = capsys.readouterr().out
    assert "images/s" in printed and "conv backward (filter)" in printed
    rec = json.loads(out.read_text())
    assert rec["config"]["widths"] == [8, 8, 8] and rec["config"]["batch_size"] == 16
    ops_ms = rec["ops"]
    assert sum(ops_ms["categories"].values()) == pytest.approx(ops_ms["total_ms"])
    for name in ("conv forward", "conv backward (filter)", "GELU", "BatchNorm"):
        assert ops_ms["categories"][name] > 0, name
    for layer in ("g1_conv1", "g3_conv2", "g1_bn1"):
        assert ops_ms["layers"][layer]["backward"] > 0, layer
    # the trainer's FusedGELU runs as XLA executables, counted as GELU once: no
    # launching op of the GELU layers is in the trace beside them
    assert ops_ms["layers"]["fused GELU (XLA)"]["forward and backward"] > 0
    assert not any("gelu" in layer for layer in ops_ms["layers"]), ops_ms["layers"]
    assert not {"PartitionedCall", "XlaLaunch", "XlaRun"} & set(ops_ms["op_types"])
    assert rec["images_per_second"] == pytest.approx(16 / rec["step_seconds"]["median"])
    assert rec["profiled_step_seconds"] > 0
    assert rec["threads"]["inter_op"] == 0  # the default, as configured
    assert rec["command"] == "python -m benchmarks.profile_step " + " ".join(argv)


def test_other_backends_are_refused_with_status_2(monkeypatch, capsys):
    import keras

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    assert profile_step.main(["--profile", "quick", "--steps", "1"]) == 2
    assert "KERAS_BACKEND=tensorflow" in capsys.readouterr().err


def test_inter_op_threads_after_tensorflow_started_is_a_clear_error():
    import tensorflow as tf

    from utils import fast

    tf.constant(1.0) + 1.0  # TensorFlow has started its threads in this process
    other = tf.config.threading.get_inter_op_parallelism_threads() + 3
    cfg = fast.PROFILES["quick"].replace(widths=(8, 8, 8), batch_size=16)
    with pytest.raises(ValueError, match="fresh process"):
        profile_step.measure(cfg, steps=1, repeats=1, inter_op=other)


def test_bad_options_are_refused(capsys):
    with pytest.raises(SystemExit):
        profile_step._parser().parse_args(["--widths", "8,8"])
    with pytest.raises(SystemExit):
        profile_step._parser().parse_args(["--inter-op-threads", "-1"])
    for option in ("--steps", "--repeats"):
        with pytest.raises(SystemExit):
            profile_step._parser().parse_args([option, "0"])
    assert "--inter-op-threads" in capsys.readouterr().err


def test_there_are_committed_records():
    assert RECORDS, "results/profile/ holds the chapter's per-op profiles"


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name)
def test_committed_record_matches_its_command(path):
    rec = json.loads(path.read_text())
    argv = shlex.split(rec["command"])[3:]
    assert argv == rec["argv"]
    resolved = profile_step.config_from_args(profile_step._parser().parse_args(argv))
    assert resolved.to_dict() == rec["config"]
    ops_ms = rec["ops"]
    for part in ("categories", "op_types"):
        assert sum(ops_ms[part].values()) == pytest.approx(ops_ms["total_ms"])
    layer_total = sum(sum(v.values()) for v in ops_ms["layers"].values())
    assert layer_total == pytest.approx(ops_ms["total_ms"])
    if rec["threads"]["inter_op"] == 1:  # one op at a time: the ops fit in a step
        assert ops_ms["total_ms"] < 1.15 * 1000 * rec["step_seconds"]["median"]
    shares = rec["ops"]["shares"]
    assert set(shares) == set(profile_step.CATEGORIES)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert rec["images_per_second"] == pytest.approx(
        rec["config"]["batch_size"] / rec["step_seconds"]["median"]
    )
    for key in ("versions", "hardware", "date", "steps", "repeats"):
        assert rec[key], key
