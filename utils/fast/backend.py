"""The only backend-specific code of the fast CIFAR-10 trainer (chapter 10).

Everything else in :mod:`utils.fast` is written with ``keras.ops`` and runs unchanged on
the TensorFlow and the JAX backend of Keras 3. Four things cannot be written that way,
and they live here, side by side, so the differences are easy to read:

- :func:`value_and_grad`: the loss and its gradient (``tf.GradientTape`` or
  ``jax.value_and_grad``);
- :func:`compile_fn`: XLA compilation (``tf.function(jit_compile=...)`` or ``jax.jit``),
  and :func:`resolve_jit`, the one rule that decides whether TensorFlow uses XLA;
- :func:`synchronize`: wait until the device has finished, so a timer measures real
  work;
- :func:`gpu_compute_capability`: which mixed precision the GPU supports.
"""

from __future__ import annotations

import keras

SUPPORTED = ("tensorflow", "jax")


def backend() -> str:
    """The Keras backend name, ``"tensorflow"`` or ``"jax"`` (chapter 10).

    Raises ``ValueError`` naming ``KERAS_BACKEND`` for any other backend.
    """
    name = keras.backend.backend()
    if name not in SUPPORTED:
        raise ValueError(
            f"the fast CIFAR-10 trainer supports the Keras backends {SUPPORTED}, "
            f"not {name!r}; set KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax "
            "before importing keras"
        )
    return name


def value_and_grad(fn):
    """Wrap ``fn(params, *args) -> (loss, aux)`` into a gradient function.

    The result is ``g(params, *args) -> ((loss, aux), grads)``: ``params`` a list of
    tensors, ``grads`` a list of the same length and order (float32 for float32
    params). Chapter 10 (fast CIFAR-10 training). Raises ``ValueError`` (from
    :func:`backend`) on a backend other than TensorFlow or JAX.
    """
    if backend() == "jax":
        import jax

        return jax.value_and_grad(fn, has_aux=True)

    import tensorflow as tf

    def wrapped(params, *args):
        params = [tf.convert_to_tensor(p) for p in params]
        with tf.GradientTape() as tape:
            tape.watch(params)
            loss, aux = fn(params, *args)
        return (loss, aux), tape.gradient(loss, params)

    return wrapped


def compile_fn(fn, *, jit: bool = True):
    """Compile a pure function of tensors: XLA if ``jit`` (always on JAX), else a graph.

    Chapter 10 (fast CIFAR-10 training); airbench94 compiles its step with
    ``torch.compile``. Raises ``ValueError`` on an unsupported backend.
    """
    if backend() == "jax":
        import jax

        return jax.jit(fn)
    import tensorflow as tf

    return tf.function(fn, jit_compile=bool(jit))


def op_determinism_enabled() -> bool:
    """True when TensorFlow's op determinism is on (``env.seed_everything`` sets it).

    Chapter 10. Always ``False`` on the JAX backend, which has no such switch. Reads
    the same private flag Keras reads before it decides on XLA
    (``keras.src.trainers.trainer.model_supports_jit``).
    """
    if backend() != "tensorflow":
        return False
    from tensorflow.python.framework import config

    return bool(config.is_op_determinism_enabled())


def resolve_jit(jit="auto") -> bool:
    """Whether the trainer compiles with XLA: the one rule for XLA and determinism.

    TensorFlow has no deterministic XLA kernel for the MaxPool gradient on a GPU: with
    op determinism on (every chapter's :func:`utils.env.seed_everything`) an
    XLA-compiled training step of the fast model fails at its first call with "GPU
    MaxPool gradient ops do not yet have a deterministic XLA implementation". So, as
    Keras itself decides for ``Model.fit`` (``model_supports_jit``):

    - ``"auto"``: XLA on a GPU unless op determinism is on; never on a CPU, where a
      TensorFlow graph trained faster in chapter 10's trials;
    - ``True``: XLA, except that on a GPU with op determinism on it raises
      ``ValueError`` naming the two fixes (``jit=False``, or seeding with
      ``env.seed_everything(seed, deterministic=False)``) instead of failing later
      inside TensorFlow;
    - ``False``: a plain graph.

    On the JAX backend :func:`compile_fn` always uses ``jax.jit``; the answer only
    labels the run. Chapter 10 (fast CIFAR-10 training). Raises ``ValueError`` for any
    other ``jit``.
    """
    if jit != "auto" and not isinstance(jit, bool):
        raise ValueError(f"jit must be 'auto', True or False, got {jit!r}")
    on_gpu = gpu_compute_capability() is not None
    deterministic = op_determinism_enabled()
    if jit == "auto":
        return on_gpu and not deterministic
    if jit and on_gpu and deterministic:
        raise ValueError(
            "jit=True on a GPU with TensorFlow's op determinism on: TensorFlow has no "
            "deterministic XLA kernel for the MaxPool gradient. Pass jit=False (or "
            "'auto'), or seed with env.seed_everything(seed, deterministic=False) "
            "before building the trainer"
        )
    return jit


def synchronize(tree) -> None:
    """Block until every tensor in ``tree`` (nested lists/tuples) has been computed.

    Chapter 10 (fast CIFAR-10 training): a timer that stops before the device has
    finished measures only the launch of the work. ``None`` leaves are skipped.
    """
    leaves = []

    def collect(t):
        if isinstance(t, (list, tuple)):
            for item in t:
                collect(item)
        elif t is not None:
            leaves.append(t)

    collect(tree)
    if backend() == "jax":
        for leaf in leaves:
            if hasattr(leaf, "block_until_ready"):
                leaf.block_until_ready()
        return
    # TF: copying one value to the host waits for the device's queue of work to drain.
    # The scalar is cast to float32 first: TensorFlow cannot hand NumPy a bfloat16
    # scalar (np.array fails), which broke mixed_bfloat16 runs on TensorFlow.
    for leaf in reversed(leaves):
        if hasattr(leaf, "numpy"):
            total = keras.ops.cast(keras.ops.sum(leaf), "float32")
            keras.ops.convert_to_numpy(total)
            break


def gpu_compute_capability() -> tuple[int, int] | None:
    """``(major, minor)`` CUDA compute capability of the first GPU, ``None`` without

    Chapter 10 (fast CIFAR-10 training): picks bf16 (>= 8.0) or fp16 mixed precision.
    """
    if backend() == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        if not gpus:
            return None
        cc = getattr(gpus[0], "compute_capability", None)
        if cc is None:
            return (8, 0)  # unknown: assume a modern GPU
        major, minor = str(cc).split(".")[:2]
        return int(major), int(minor)
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    details = tf.config.experimental.get_device_details(gpus[0])
    return tuple(details.get("compute_capability", (8, 0)))
