"""What a small network costs, and how to time it honestly (chapter 16).

Chapter 16 ("Small and fast networks") counts a model's cost four ways, per layer
(:func:`layer_costs`): parameters, multiply-accumulates (MACs, from
:func:`utils.layer_cost.model_macs`' per-layer rule), activation bytes and the bytes a
layer must at least read and write. MACs per byte moved (arithmetic intensity) shows
which layers are limited by memory rather than arithmetic, which is why MACs alone do
not predict latency. :func:`depthwise_conv2d` and :func:`separable_conv2d` are the
depthwise-separable convolution of MobileNet (Howard et al. 2017) in NumPy;
:func:`small_cnn` builds the chapter's CIFAR-10 networks (plain or separable, any
widths, any dtype); :func:`latency_ms` times a function the way a benchmark should
(warm-up, repeats, median and quartiles) and :func:`pin_threads` fixes TensorFlow's
thread count first.
"""

from __future__ import annotations

import time

import numpy as np

from . import conv, layer_cost
from .shapes import check_nhwc, positive_int, resolve_padding

__all__ = [
    "depthwise_conv2d",
    "separable_conv2d",
    "small_cnn",
    "chain_params",
    "weight_bytes",
    "layer_costs",
    "pin_threads",
    "cpu_predictor",
    "latency_ms",
    "compare_latency",
]


def depthwise_conv2d(x, kernel, bias=None, *, padding="valid") -> np.ndarray:
    """A depthwise convolution (stride 1): channel ``c`` of the output is channel
    ``c`` of ``x`` cross-correlated with its own ``KH x KW`` filter ``kernel[:, :, c,
    0]``.

    ``x`` NHWC, ``kernel`` ``(KH, KW, C, 1)`` (Keras' ``DepthwiseConv2D`` layout,
    depth multiplier 1), optional ``bias`` ``(C,)``; ``padding`` as in
    :func:`utils.shapes.resolve_padding`. Returns float ``(N, OH, OW, C)``: each
    output value costs ``KH*KW`` MACs, not ``KH*KW*C``. Raises ``ValueError`` for a
    kernel that does not match ``x``'s channels. Chapter 16; Howard et al. (2017).
    """
    x = check_nhwc(x)
    kernel = np.asarray(kernel)
    if kernel.ndim != 4 or kernel.shape[2:] != (x.shape[-1], 1):
        raise ValueError(
            f"kernel must be (KH, KW, {x.shape[-1]}, 1) for x with {x.shape[-1]} "
            f"channels, got {kernel.shape}"
        )
    kh, kw = kernel.shape[:2]
    (top, bottom), (left, right) = resolve_padding(padding, x.shape[1:3], (kh, kw))
    dtype = np.result_type(x.dtype, kernel.dtype, np.float32)
    xp = np.pad(x.astype(dtype), ((0, 0), (top, bottom), (left, right), (0, 0)))
    oh, ow = xp.shape[1] - kh + 1, xp.shape[2] - kw + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"a {kh}x{kw} window does not fit x of shape {x.shape}")
    out = np.zeros((x.shape[0], oh, ow, x.shape[-1]), dtype)
    for i in range(kh):  # one shifted copy of x per filter tap, weighted per channel
        for j in range(kw):
            out += xp[:, i : i + oh, j : j + ow, :] * kernel[i, j, :, 0].astype(dtype)
    return out if bias is None else out + np.asarray(bias, dtype)


def separable_conv2d(x, depthwise, pointwise, bias=None, *, padding="valid"):
    """A depthwise-separable convolution: :func:`depthwise_conv2d` with
    ``depthwise`` ``(KH, KW, C, 1)``, then a 1x1 convolution with ``pointwise``
    ``(1, 1, C, C_out)`` (and optional ``bias`` ``(C_out,)``) that mixes channels.

    Per output pixel it costs ``KH*KW*C + C*C_out`` MACs instead of a full
    convolution's ``KH*KW*C*C_out``: a fraction ``1/C_out + 1/(KH*KW)``. Returns float
    ``(N, OH, OW, C_out)``; errors as :func:`depthwise_conv2d` and
    :func:`utils.conv.conv2d`. Chapter 16; Howard et al. (2017).
    """
    return conv.conv2d(depthwise_conv2d(x, depthwise, padding=padding), pointwise, bias)


def small_cnn(widths=(16, 32, 64), *, separable=False, dtype=None, name=None):
    """The chapter's CIFAR-10 network: three 3x3 convolution blocks and a classifier.

    ``Conv(w0)`` - max-pool - ``Conv(w1)`` - max-pool - ``Conv(w2)`` - global average
    pool - ``Dense(10)`` logits, ReLU after each convolution, "same" padding, on
    ``(32, 32, 3)`` float images. With ``separable=True`` the second and third
    convolutions become depthwise-separable pairs: ``DepthwiseConv2D(3)`` then a 1x1
    ``Conv2D`` (the first stays a full convolution, as in MobileNet; MobileNet's
    batch normalization and ReLU between the two steps are left out). ``dtype`` is a
    Keras dtype policy for every layer (e.g. ``"bfloat16"``). Returns an uncompiled
    ``keras.Sequential``. Raises ``ValueError`` for widths that are not three positive
    ints. Chapter 16.
    """
    import keras

    L = keras.layers
    if not isinstance(widths, (list, tuple)) or len(widths) != 3:
        raise ValueError(f"widths must be three channel counts, got {widths!r}")
    w0, w1, w2 = (positive_int(w, "widths[i]") for w in widths)
    kw = dict(padding="same", dtype=dtype)
    layers = [keras.Input((32, 32, 3)), L.Conv2D(w0, 3, activation="relu", **kw)]
    for width in (w1, w2):
        layers.append(L.MaxPooling2D(dtype=dtype))
        if separable:
            layers += [
                L.DepthwiseConv2D(3, use_bias=False, **kw),
                L.Conv2D(width, 1, activation="relu", **kw),
            ]
        else:
            layers.append(L.Conv2D(width, 3, activation="relu", **kw))
    layers += [L.GlobalAveragePooling2D(dtype=dtype), L.Dense(10, dtype=dtype)]
    return keras.Sequential(layers, name=name)


def chain_params(model) -> list:
    """``(kernel, bias)`` NumPy pairs of a model's ``Conv2D`` and ``Dense`` layers in
    order: the input of :func:`utils.pruning.thin_chain`. Raises ``ValueError`` for a
    layer of those kinds without a bias. Chapter 16."""
    import keras

    pairs = []
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            if layer.bias is None:
                raise ValueError(f"layer {layer.name!r} has no bias")
            pairs.append((layer.kernel.numpy(), layer.bias.numpy()))
    return pairs


def weight_bytes(model) -> int:
    """Bytes of all a model's weights as stored (an int8 kernel counts 1 byte per
    number, its float32 scales 4). Chapter 16."""
    return int(sum(np.asarray(v.numpy()).nbytes for v in model.weights))


def _nbytes(shape, itemsize: int, batch: int) -> int:
    return batch * int(np.prod(shape[1:], dtype=np.int64)) * itemsize


def layer_costs(model, batch: int = 1, itemsize: int = 4) -> list[dict]:
    """One dict per layer of a flat built model: ``name``, ``params``, ``macs``,
    ``weight_bytes``, ``act_bytes`` (its output), ``bytes_moved`` (at least: read the
    input and the weights, write the output) and ``intensity`` (MACs per byte moved).

    Sizes are for ``batch`` images with ``itemsize``-byte numbers (4: float32).
    MACs use :func:`utils.layer_cost.model_macs`' per-layer rule (a depthwise
    convolution counts ``KH*KW`` per output value). A layer with little arithmetic
    per byte (pooling, depthwise, the classifier at batch 1) is limited by memory
    bandwidth, whatever its MACs. Raises ``ValueError`` for an unbuilt model or a
    bad ``batch``. Chapter 16.
    """
    batch = positive_int(batch, "batch")
    itemsize = positive_int(itemsize, "itemsize")
    if not model.built or not model.inputs:
        raise ValueError("the model is not built: give it a keras.Input first")
    rows = []
    for layer in model.layers:
        params = int(layer.count_params())
        w_bytes = params * itemsize
        act_in = _nbytes(layer.input.shape, itemsize, batch)
        act_out = _nbytes(layer.output.shape, itemsize, batch)
        macs = batch * layer_cost._layer_macs(layer)  # the rule model_macs sums
        moved = act_in + act_out + w_bytes
        rows.append(
            dict(
                name=layer.name,
                params=params,
                macs=int(macs),
                weight_bytes=w_bytes,
                act_bytes=act_out,
                bytes_moved=moved,
                intensity=macs / moved,
            )
        )
    return rows


def pin_threads(n: int) -> int:
    """Fix TensorFlow's intra-op thread count to ``n`` (and inter-op to 1) so that
    timings compare like with like; returns ``n``.

    TensorFlow reads these once, when it starts: call this before the first
    TensorFlow operation. A later call with the count already set does nothing; a
    different count then raises ``RuntimeError`` saying to restart the kernel.
    Raises ``ValueError`` for an ``n`` that is not a positive int. Chapter 16.
    """
    n = positive_int(n, "n")
    import tensorflow as tf

    threading = tf.config.threading
    if threading.get_intra_op_parallelism_threads() == n:
        return n
    try:
        threading.set_intra_op_parallelism_threads(n)
        threading.set_inter_op_parallelism_threads(1)
    except RuntimeError as err:
        raise RuntimeError(
            f"TensorFlow has already started with its own thread count, so it cannot "
            f"be pinned to {n} threads now: restart the kernel and call pin_threads "
            "before anything runs TensorFlow"
        ) from err
    return n


def cpu_predictor(model):
    """``run(x) -> NumPy logits``: ``model`` compiled once into a TensorFlow graph
    (``tf.function``) and run on the CPU, even where a GPU is present.

    What a benchmark of inference should time: no Python overhead per layer (as an
    eager call would add) and no GPU. The first call of each batch size traces the
    graph: warm up before timing (:func:`latency_ms` does). Raises ``TypeError`` for
    something that is not callable. Chapter 16.
    """
    import tensorflow as tf

    if not callable(model):
        raise TypeError(f"model must be a callable Keras model, got {model!r}")
    graph = tf.function(lambda x: model(x, training=False))

    def run(x):
        with tf.device("/CPU:0"):
            return np.asarray(graph(tf.constant(x)))

    return run


def _check_timing(repeats, warmup) -> tuple[int, int]:
    repeats = positive_int(repeats, "repeats")
    if repeats < 3:
        raise ValueError(f"repeats must be at least 3 to give quartiles, got {repeats}")
    return repeats, positive_int(warmup, "warmup", allow_zero=True)


def _timed(fn, x) -> float:
    start = time.perf_counter()
    np.asarray(fn(x))
    return (time.perf_counter() - start) * 1e3


def _summary(times, batch: int) -> dict:
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    return dict(
        median=float(median),
        q1=float(q1),
        q3=float(q3),
        min=float(np.min(times)),
        repeats=len(times),
        batch=batch,
    )


def latency_ms(fn, x, *, repeats: int = 20, warmup: int = 3) -> dict:
    """Time ``fn(x)`` in milliseconds: ``warmup`` untimed calls (tracing, caches,
    thread start-up), then ``repeats`` timed calls.

    Returns ``{"median", "q1", "q3", "min", "repeats", "batch"}``: the median and the
    quartiles resist the outliers that a shared machine adds; ``batch`` is
    ``len(x)``. ``fn`` must return its result computed (e.g. a NumPy array:
    :func:`cpu_predictor`); it is converted with ``np.asarray`` inside the timed
    region so that lazy results are paid for. Raises ``ValueError`` for a ``repeats``
    below 3 or a negative ``warmup``, ``TypeError`` for an ``fn`` that is not
    callable. Chapter 16.
    """
    return compare_latency({"fn": fn}, x, repeats=repeats, warmup=warmup)["fn"]


def compare_latency(fns: dict, x, *, repeats: int = 20, warmup: int = 3) -> dict:
    """Time several functions on the same ``x``, interleaved: ``{name: summary}``.

    ``fns`` maps names to callables; each gets ``warmup`` untimed calls, then the
    timed calls go round robin (one call of each, ``repeats`` times), so a burst of
    load from elsewhere on the machine slows all of them alike instead of whichever
    happened to be running. Each summary is :func:`latency_ms`' dict. Raises
    ``ValueError`` for an empty ``fns`` or bad counts, ``TypeError`` for a value
    that is not callable. Chapter 16.
    """
    repeats, warmup = _check_timing(repeats, warmup)
    if not isinstance(fns, dict) or not fns:
        raise ValueError("fns must be a non-empty dict of name: callable")
    for name, fn in fns.items():
        if not callable(fn):
            raise TypeError(
                f"fn must be callable, got {type(fn).__name__} for {name!r}"
            )
    for fn in fns.values():
        for _ in range(warmup):
            np.asarray(fn(x))
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(_timed(fn, x))
    return {name: _summary(t, len(x)) for name, t in times.items()}
