"""utils.fast.trainer and utils.fast.distribute (chapter 10): the one training loop.

Tiny runs (64 random images, widths 8) on the CPU. The JAX run and the tf.distribute run
need a fresh process (the Keras backend and TensorFlow's devices are fixed at start-up),
so they run in a subprocess; the JAX one is skipped without JAX.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from utils import fast
from utils.fast import backend

ROOT = Path(__file__).resolve().parent.parent
TINY = fast.FastConfig(
    widths=(8, 8, 8), epochs=2, batch_size=16, eval_batch=20, whiten_samples=32
)


def run_script(script: str, **env) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh Python (own Keras backend, TF devices); must pass."""
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out


def tiny_data(seed=0, n=64):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    return x, rng.integers(0, 10, size=(n, 1))


def test_tiny_training_run():
    x, y = tiny_data()
    trainer = fast.FastTrainer(TINY, precision="float32", jit=False)
    assert trainer.warmup() > 0
    train, test = trainer.to_device(x, y), trainer.to_device(x[:20], y[:20])
    res, (t, nt) = trainer.run(train, test, seed=0, track_epochs=True)
    assert res.steps == TINY.total_steps(64) == 8
    assert 0 <= res.accuracy <= 1 and res.images_per_second > 0
    assert [e for e, _ in res.epoch_accuracy] == [1, 2]
    assert set(res.to_dict()) == {
        "accuracy",
        "seconds",
        "train_seconds",
        "images_per_second",
        "steps",
        "epoch_accuracy",
    }
    # the frozen whitening kernel did not move; the whitening bias did
    names = [v.path for v in trainer.model.non_trainable_variables]
    kernel = ops.convert_to_numpy(nt[names.index("whiten/kernel")])
    expected = fast.whitening_kernel(fast.normalize(x)[:32])
    np.testing.assert_allclose(kernel, expected, rtol=1e-5, atol=1e-5)


def test_each_compiled_function_is_traced_once_per_trainer():
    """Fresh state is plain tensors, so the first step does not trace a second time
    (variables and tensors trace separately; chapter 10 warned about retracing)."""
    if backend.backend() != "tensorflow":
        pytest.skip("tracing counts are a TensorFlow notion")
    x, y = tiny_data()
    trainer = fast.FastTrainer(TINY, precision="float32", jit=False)  # no warm-up
    trainer.run(trainer.to_device(x, y), trainer.to_device(x[:20], y[:20]), seed=0)
    trainer.run(trainer.to_device(x, y), trainer.to_device(x[:20], y[:20]), seed=1)
    assert trainer._train_step.experimental_get_tracing_count() == 1
    assert trainer._predict.experimental_get_tracing_count() == 1


def test_evaluate_at_other_tta_levels_matches_a_trainer_configured_so():
    x, y = tiny_data()
    trainer = fast.FastTrainer(TINY, precision="float32", jit=False)
    train, test = trainer.to_device(x, y), trainer.to_device(x[:20], y[:20])
    _, state = trainer.run(train, test, seed=0)
    plain = trainer.evaluate(*state, *test, tta=False)
    assert trainer.evaluate(*state, *test, tta_level=0) == plain
    for level in (1, 2):
        other = fast.FastTrainer(TINY.replace(tta_level=level), jit=False)
        assert trainer.evaluate(*state, *test, tta_level=level) == other.evaluate(
            *state, *test
        )
    with pytest.raises(ValueError, match="tta_level must be 0, 1 or 2"):
        trainer.evaluate(*state, *test, tta_level=3)


def test_whitening_bias_frozen_after_its_epochs():
    x, y = tiny_data(1)
    cfg = TINY.replace(whiten_bias_epochs=0, lookahead=False, epochs=1)
    trainer = fast.FastTrainer(cfg, precision="float32", jit=False)
    _, (t, _) = trainer.run(trainer.to_device(x, y), trainer.to_device(x[:20], y[:20]))
    np.testing.assert_array_equal(
        ops.convert_to_numpy(t[trainer.whiten_bias_index]), np.zeros(24)
    )


def test_a_diverging_run_stops_with_a_clear_error():
    x, y = tiny_data(2)
    cfg = TINY.replace(lr=1e30, lookahead=False)
    trainer = fast.FastTrainer(cfg, precision="float32", jit=False)
    with pytest.raises(
        fast.TrainingDivergedError, match=r"epoch 1 \(by step 4\).*--lr"
    ):
        trainer.run(trainer.to_device(x, y), trainer.to_device(x[:20], y[:20]))


def test_evaluate_refuses_nan_logits():
    # argmax skips NaN, so a diverged model would otherwise get a believable accuracy
    x, y = tiny_data(3)
    trainer = fast.FastTrainer(TINY.replace(epochs=1), precision="float32", jit=False)
    _, (t, nt) = trainer.run(trainer.to_device(x, y), trainer.to_device(x[:20], y[:20]))
    t = [ops.full_like(v, float("nan")) for v in t]
    with pytest.raises(fast.TrainingDivergedError, match="NaN or infinite"):
        trainer.evaluate(t, nt, *trainer.to_device(x[:20], y[:20]))


def test_trainer_bad_input():
    x, y = tiny_data()
    trainer = fast.FastTrainer(TINY, precision="float32", jit=False)
    with pytest.raises(ValueError, match="labels"):
        trainer.to_device(x, y[:10])
    with pytest.raises(ValueError, match="ints in 0..9"):
        trainer.to_device(
            x[:2], np.array([0, -1])
        )  # -1 used to become class 9 silently
    with pytest.raises(ValueError, match="ints in 0..9"):
        trainer.to_device(x[:2], np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="uint8"):
        trainer.to_device(x.astype(np.float32))
    state = trainer.fresh_state(0, fast.normalize(x[:4]))
    with pytest.raises(ValueError, match="empty"):  # used to return NaN
        trainer.evaluate(
            state[0], state[1], trainer.to_device(x[:0]), np.zeros((0, 10))
        )
    x_dev, y_dev = trainer.to_device(x[:20], y[:20])
    with pytest.raises(ValueError, match="20 test images but 10 labels"):
        trainer.evaluate(state[0], state[1], x_dev, y_dev[:10])
    with pytest.raises(ValueError, match="larger than the training set"):
        trainer.run(trainer.to_device(x[:8], y[:8]), trainer.to_device(x[:8], y[:8]))
    with pytest.raises(ValueError, match="FastConfig"):
        fast.FastTrainer({"widths": (8, 8, 8)})
    with pytest.raises(ValueError, match="jit"):
        fast.FastTrainer(TINY, jit="yes")
    with pytest.raises(ValueError, match="loss_scale"):
        fast.FastTrainer(TINY, loss_scale=float("nan"))


def test_pick_precision():
    assert fast.pick_precision("float32") == "float32"
    with pytest.raises(ValueError, match="precision"):
        fast.pick_precision("float8")


JAX_SCRIPT = """
import numpy as np
from utils import fast
cfg = fast.FastConfig(widths=(8, 8, 8), epochs=1, batch_size=16, eval_batch=20,
                      whiten_samples=32)
rng = np.random.default_rng(0)
x = rng.integers(0, 256, size=(48, 32, 32, 3), dtype=np.uint8)
y = rng.integers(0, 10, size=(48, 1))
tr = fast.FastTrainer(cfg, precision="float32")
tr.warmup()
res, _ = tr.run(tr.to_device(x, y), tr.to_device(x[:20], y[:20]), seed=0)
print("OK", res.steps, 0 <= res.accuracy <= 1)
"""


def test_runs_on_the_jax_backend():
    pytest.importorskip("jax")
    out = run_script(JAX_SCRIPT, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    assert "OK 3 True" in out.stdout


# ------------------------------------------------------ tf.distribute (TensorFlow only)

DIST_SCRIPT = """
import json
from utils.fast import distribute
distribute.split_cpu(2)
import numpy as np
from utils import fast
strategy = distribute.make_strategy("mirrored")
cfg = fast.FastConfig(widths=(8, 8, 8), epochs=2, batch_size=16, eval_batch=20,
                      whiten_samples=32)
rng = np.random.default_rng(0)
x = rng.integers(0, 256, size=(64, 32, 32, 3), dtype=np.uint8)
y = rng.integers(0, 10, size=(64, 1))
out = {"replicas": strategy.num_replicas_in_sync}
for name, tr in [("single", fast.FastTrainer(cfg, precision="float32")),
                 ("distributed", distribute.DistributedFastTrainer(cfg, strategy,
                                                                   precision="float32"))]:
    train, test = tr.to_device(x, y), tr.to_device(x[:20], y[:20])
    res, _ = tr.run(train, test, seed=0, track_epochs=True)
    # a second run reuses the trainer's state containers
    again, _ = tr.run(train, test, seed=1, track_epochs=True)
    out[name] = {"keys": sorted(res.to_dict()), "steps": [res.steps, again.steps],
                 "epochs": [e for e, _ in res.epoch_accuracy],
                 "again_epochs": [e for e, _ in again.epoch_accuracy],
                 "acc_ok": all(0 <= a <= 1 for _, a in res.epoch_accuracy)}
w = tr.replica_values(1)
out["same_on_replicas"] = all(np.array_equal(w[0], v) for v in w[1:])
print("RESULT", json.dumps(out))
"""


def test_distributed_reuses_the_loop_on_two_logical_cpus():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.distribute needs the TensorFlow backend")
    out = run_script(DIST_SCRIPT, KERAS_BACKEND="tensorflow")
    line = [s for s in out.stdout.splitlines() if s.startswith("RESULT ")][-1]
    got = json.loads(line[len("RESULT ") :])
    assert got["replicas"] == 2 and got["same_on_replicas"]
    # track_epochs used to be ignored by the distributed copy of the loop
    assert got["distributed"]["epochs"] == got["distributed"]["again_epochs"] == [1, 2]
    assert got["distributed"] == got["single"]  # same RunResult structure, same steps
    assert got["single"]["steps"] == [8, 8] and got["single"]["acc_ok"]


def test_distributed_uses_the_parent_run():
    from utils.fast import distribute

    assert distribute.DistributedFastTrainer.run is fast.FastTrainer.run
    assert (
        distribute.DistributedFastTrainer._train_epoch is fast.FastTrainer._train_epoch
    )


def test_distribute_guards():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.distribute needs the TensorFlow backend")
    from utils.fast import distribute

    ops.convert_to_numpy(ops.ones(1))  # TensorFlow is initialised now
    with pytest.raises(RuntimeError, match="before TensorFlow initialises"):
        distribute.split_cpu(2)
    with pytest.raises(ValueError, match="positive int"):
        distribute.split_cpu(0)
    with pytest.raises(ValueError, match="'mirrored' or 'tpu'"):
        distribute.make_strategy("gpu")


def _frozen_vs_gated(trainer, x, y):
    """One step from the same state: gated (whiten_gate 0) and frozen-whitening."""
    trainer._start(0, fast.normalize(x[:32]))
    t, nt, b = (trainer._state[k] for k in ("t", "nt", "b"))
    xb, yb = trainer.to_device(x[:16], y[:16])
    lr, zero = ops.convert_to_tensor(0.5), ops.convert_to_tensor(0.0)
    gated = trainer._train_step(t, nt, b, xb, yb, lr, zero)
    frozen = trainer._train_step_frozen(t, nt, b, xb, yb, lr)
    return gated, frozen


def test_frozen_whitening_step_is_the_gated_step():
    """After whiten_bias_epochs the step skips the whitening bias's backward pass
    (as airbench94's requires_grad=False does) and updates the same weights."""
    x, y = tiny_data()
    trainer = fast.FastTrainer(TINY, precision="float32", jit=False)
    (gt, gnt, gb, gloss), (ft, fnt, fb, floss) = _frozen_vs_gated(trainer, x, y)
    np.testing.assert_allclose(float(gloss), float(floss), rtol=1e-6)
    for a, c in zip([*gt, *gnt], [*ft, *fnt]):
        np.testing.assert_allclose(
            ops.convert_to_numpy(a), ops.convert_to_numpy(c), rtol=1e-5, atol=1e-6
        )
    i = trainer.whiten_bias_index  # frozen: unchanged by either step
    np.testing.assert_array_equal(
        ops.convert_to_numpy(ft[i]), ops.convert_to_numpy(trainer._state["t"][i])
    )
    assert not np.allclose(  # its momentum saw a gradient only in the gated step
        ops.convert_to_numpy(gb[i]), ops.convert_to_numpy(fb[i])
    )


def test_frozen_whitening_step_has_less_backward_work():
    if backend.backend() != "tensorflow":
        pytest.skip("counts ops of a TensorFlow graph")
    x, y = tiny_data()
    trainer = fast.FastTrainer(TINY, precision="float32", jit=False)
    _frozen_vs_gated(trainer, x, y)

    def conv_input_grads(fn):
        """Conv2DBackpropInput ops that the step's outputs depend on (what TensorFlow
        runs: an op no output needs is pruned before the graph executes)."""
        (concrete,) = fn._list_all_concrete_functions()
        seen, todo = set(), [t.op for t in concrete.graph.outputs]
        while todo:
            op = todo.pop()
            if op.name not in seen:
                seen.add(op.name)
                todo += [t.op for t in op.inputs] + list(op.control_inputs)
        ops_run = [concrete.graph.get_operation_by_name(n) for n in seen]
        return sum(op.type == "Conv2DBackpropInput" for op in ops_run)

    gated = conv_input_grads(trainer._train_step)
    frozen = conv_input_grads(trainer._train_step_frozen)
    assert frozen == gated - 1, (gated, frozen)  # g1_conv1's gradient to its input


def test_runs_with_and_without_the_frozen_step_agree():
    x, y = tiny_data()
    cfg = TINY.replace(epochs=3, whiten_bias_epochs=1)
    results = []
    for skip in (True, False):
        trainer = fast.FastTrainer(cfg, precision="float32", jit=False)
        trainer.skip_frozen_backward = skip
        train, test = trainer.to_device(x, y), trainer.to_device(x[:20], y[:20])
        res, (t, _) = trainer.run(train, test, seed=0)
        results.append((res.accuracy, [ops.convert_to_numpy(v) for v in t]))
        if backend.backend() == "tensorflow":  # epochs 2 and 3 took the frozen step
            traced = trainer._train_step_frozen.experimental_get_tracing_count()
            assert traced == (1 if skip else 0)
    (acc_a, t_a), (acc_b, t_b) = results
    assert acc_a == acc_b
    for a, b in zip(t_a, t_b):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_fused_bn_must_be_a_bool():
    with pytest.raises(ValueError, match="fused_bn must be True .* got 'no'"):
        fast.FastTrainer(TINY, fused_bn="no")
