"""utils.fast.backend.resolve_jit (chapter 10): one rule decides XLA and determinism.

TensorFlow has no deterministic XLA kernel for the MaxPool gradient on a GPU, so a
trainer that compiled its step with XLA while op determinism was on (every chapter's
``env.seed_everything``) crashed at its first step on every GPU. The check is
GPU-only, so these tests simulate a GPU: they replace TensorFlow's device query with
one that lists a T4-like GPU (compute capability 7.5), and switch op determinism on
and off around each test.
"""

import pytest
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from utils import fast
from utils.fast import backend

TINY = fast.FastConfig(
    widths=(8, 8, 8), epochs=2, batch_size=16, eval_batch=20, whiten_samples=32
)


@pytest.fixture
def determinism():
    """Yield a setter for TensorFlow's op determinism; restore the old state after."""
    before = tf_config.is_op_determinism_enabled()

    def set_to(on: bool):
        if on:
            tf_config.enable_op_determinism()
        else:
            tf_config.disable_op_determinism()

    yield set_to
    set_to(before)


@pytest.fixture
def fake_gpu(monkeypatch):
    """TensorFlow's device query answers with one GPU of compute capability 7.5."""
    if backend.backend() != "tensorflow":
        # the rule is about TensorFlow's kernels; on JAX (CI's JAX stage) op
        # determinism does not exist, and the TensorFlow stage runs these tests
        pytest.skip("simulates TensorFlow's GPU device query: KERAS_BACKEND=tensorflow")
    real = tf.config.list_physical_devices
    gpu = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")

    def list_devices(device_type=None):
        if device_type == "GPU":
            return [gpu]
        return real(device_type) + ([gpu] if device_type is None else [])

    monkeypatch.setattr(tf.config, "list_physical_devices", list_devices)
    monkeypatch.setattr(
        tf.config.experimental,
        "get_device_details",
        lambda device: {"compute_capability": (7, 5), "device_name": "Tesla T4"},
    )
    assert backend.gpu_compute_capability() == (7, 5)  # the simulation works


def test_on_a_gpu_auto_turns_xla_off_under_op_determinism(fake_gpu, determinism):
    determinism(True)
    assert backend.resolve_jit("auto") is False
    # the trainer the chapter builds (jit="auto") must not compile with XLA: its
    # first step would raise "GPU MaxPool gradient ops do not yet have a
    # deterministic XLA implementation"
    assert fast.FastTrainer(TINY, precision="float32").jit is False


def test_on_a_gpu_auto_uses_xla_without_op_determinism(fake_gpu, determinism):
    determinism(False)
    assert backend.resolve_jit("auto") is True
    assert fast.FastTrainer(TINY, precision="float32").jit is True


def test_on_a_gpu_asking_for_xla_under_determinism_is_a_clear_error(
    fake_gpu, determinism
):
    determinism(True)
    with pytest.raises(ValueError, match=r"deterministic=False.*jit=False|jit=False"):
        backend.resolve_jit(True)
    with pytest.raises(ValueError, match="MaxPool"):
        fast.FastTrainer(TINY, precision="float32", jit=True)
    assert backend.resolve_jit(False) is False


@pytest.mark.parametrize("on", [True, False])
def test_on_a_cpu_auto_is_a_plain_graph_and_xla_may_be_asked_for(determinism, on):
    if backend.gpu_compute_capability() is not None:
        pytest.skip("this machine has a real GPU")
    determinism(on)
    assert backend.resolve_jit("auto") is False
    assert backend.resolve_jit(True) is True  # XLA's check is GPU-only


def test_resolve_jit_refuses_other_values():
    for bad in ("yes", 1, None):
        with pytest.raises(ValueError, match="jit must be 'auto', True or False"):
            backend.resolve_jit(bad)
