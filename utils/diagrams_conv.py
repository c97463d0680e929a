"""Diagrams for the convolution, pooling and backpropagation chapters (3, 4 and 5).

Every picture here is drawn from numbers, never typed by hand:

- :func:`filters_to_images` and :func:`show_filters` show the learned filters of a layer
  on **one symmetric scale** shared by all of them (chapter 3, reused in chapter 10), so
  a weak filter looks weak and a weight of 0 is always mid-grey;
- :func:`draw_multichannel_conv` draws a convolution layer as blocks: each of the
  ``C_out`` filters is a ``k x k x C_in`` block that reads every input channel and
  writes one output channel (chapter 3);
- :func:`window_frames` draws a few steps of a sliding window, with input, window and
  output values; :func:`conv_frames` and :func:`pool_frames` fill the outputs with the
  book's tested :func:`utils.conv.conv2d` and :func:`utils.pool.pool2d` (chapters 3, 4);
- :func:`draw_computational_graph` writes forward values and backward gradients on a
  computational graph; :data:`NEURON_GRAPH` is the layout of chapter 5's worked example
  (both live in :mod:`utils.diagrams_graph` and are re-exported here).

All functions return a matplotlib figure drawn on the book's opaque light card (see
:mod:`utils.plot`), so it reads the same in the light and the dark theme. Bad input
raises ``ValueError`` naming what was wrong, before anything is drawn.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from . import conv, pool
from .diagrams_graph import NEURON_GRAPH, draw_computational_graph
from .plot import PALETTE, image_grid
from .shapes import as_pair, check_real, positive_int, real_number

__all__ = [
    "filters_to_images",
    "show_filters",
    "draw_multichannel_conv",
    "window_frames",
    "conv_frames",
    "pool_frames",
    "NEURON_GRAPH",
    "draw_computational_graph",
]

_GRID = "#888888"
_TEXT = "#222222"
_WINDOW = PALETTE[0]  # blue: the window being read
_OUTPUT = PALETTE[1]  # orange: the output being written


# ---------------------------------------------------------------------------- filters


def filters_to_images(weights, *, scale=None) -> tuple[np.ndarray, float]:
    """HWIO filters as images on one symmetric scale; returns ``(images, scale)``.

    ``weights`` has shape ``(K_H, K_W, C_in, C_out)`` with ``C_in`` 3 (each filter
    becomes a small RGB image) or 1 (a grey image). Every weight ``w`` maps to
    ``0.5 + 0.5 * w / scale``: 0 is mid-grey, ``+scale`` full brightness, ``-scale``
    black, the same for every filter, so filters can be compared by eye (a per-filter
    min-max stretch would paint a nearly uniform filter in saturated colour).
    ``scale`` defaults to the largest ``|w|`` of the whole array; pass one explicitly
    to show two arrays (before and after training) on the same scale. Weights beyond
    ``scale`` are clipped. ``images`` is float32 ``(C_out, K_H, K_W, 3)`` or
    ``(C_out, K_H, K_W)`` in [0, 1]. Chapter 3.

    Raises ``ValueError`` for an array that is not rank 4, ``C_in`` other than 1 or 3,
    no filters, NaN/inf or non-real weights, or a ``scale`` that is not positive.
    """
    w = check_real(weights, "weights").astype(np.float64)
    if w.ndim != 4:
        raise ValueError(
            "weights must be HWIO (kernel_height, kernel_width, in_channels, "
            f"out_channels), got shape {w.shape}; for a Keras Conv2D layer pass "
            "layer.get_weights()[0]"
        )
    if w.shape[2] not in (1, 3):
        raise ValueError(
            f"filters can be drawn as images only for 1 or 3 input channels, got "
            f"{w.shape[2]}; pass one channel slice, e.g. weights[:, :, c:c + 1, :]"
        )
    if w.size == 0:
        raise ValueError(f"weights hold no filter values, got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights hold NaN or infinite values; nothing can be drawn")
    if scale is None:
        scale = float(np.abs(w).max()) or 1.0  # all-zero filters: plain grey
    else:
        scale = real_number(scale, "scale", low=0, low_open=True)
    images = np.clip(0.5 + 0.5 * w / scale, 0.0, 1.0).astype(np.float32)
    images = np.moveaxis(images, -1, 0)  # (C_out, K_H, K_W, C_in)
    if images.shape[-1] == 1:
        images = images[..., 0]
    return images, scale


def show_filters(weights, *, scale=None, labels=None, ncols=12, size=0.75, title=None):
    """Draw every filter of an HWIO array on one shared symmetric scale; returns the
    figure.

    The images come from :func:`filters_to_images` (same ``weights`` and ``scale``
    rules and errors); the title ends with the scale used, e.g. ``"(shared scale:
    +-0.41, grey = 0)"``. ``labels`` (one per filter), ``ncols`` and ``size`` (inches
    per filter) are passed to :func:`utils.plot.image_grid`. Chapters 3 and 10.
    """
    images, used = filters_to_images(weights, scale=scale)
    note = f"(shared scale: +-{used:.2g}, grey = 0)"
    title = f"{title} {note}" if title else note
    return image_grid(list(images), labels, ncols=ncols, size=size, title=title)


# ------------------------------------------------------------ a multi-channel layer


def draw_multichannel_conv(c_in=3, c_out=4, k=3, *, size=5, figsize=(7.5, 4)):
    """Diagram of a convolution layer with ``c_in`` input and ``c_out`` output channels.

    Left: the input, ``c_in`` stacked ``size x size`` maps, with the ``k x k`` window
    that spans all of them. Middle: the ``c_out`` filters, each a ``k x k x c_in``
    block (its slices are the weights for each input channel). Right: the output,
    ``c_out`` maps; filter ``o`` writes output channel ``o`` (one number per window
    position: the sum over all ``k * k * c_in`` products, plus a bias). Every filter
    block carries the matplotlib ``gid`` ``"filter o"``. Chapter 3.

    Raises ``ValueError`` unless ``c_in`` and ``c_out`` are ints in 1..8, ``k`` an int
    in 1..``size`` and ``size`` an int in 1..12 (larger values do not fit the drawing).
    """
    c_in, c_out, k, size = (
        positive_int(v, n)
        for v, n in ((c_in, "c_in"), (c_out, "c_out"), (k, "k"), (size, "size"))
    )
    if c_in > 8 or c_out > 8 or size > 12 or k > size:
        raise ValueError(
            f"draw_multichannel_conv draws c_in, c_out <= 8, size <= 12 and k <= size; "
            f"got c_in={c_in}, c_out={c_out}, k={k}, size={size}"
        )
    colours = [PALETTE[i % 3] for i in range(c_in)]  # one colour per input channel
    fig, ax = plt.subplots(figsize=figsize)
    ax.set_aspect("equal")
    ax.axis("off")
    s = 0.45  # offset between stacked slices
    # input: c_in maps centred on y = 0, the window (through every channel) shaded
    y_in = -size / 2
    for d in reversed(range(c_in)):
        x0, y0 = d * s, y_in + d * s
        ax.add_patch(Rectangle((x0, y0), size, size, fc="white", ec=colours[d], lw=1.2))
        ax.add_patch(
            Rectangle(
                (x0, y0 + size - k), k, k, fc=colours[d], ec=_TEXT, lw=0.8, alpha=0.5
            )
        )
    window_out = (k + (c_in - 1) * s, y_in + size - k / 2 + (c_in - 1) * s)
    ax.text(size / 2, y_in - 0.5, f"input\n{size}x{size}x{c_in}", ha="center", va="top")
    # filters: c_out blocks of k x k x c_in, one below the other, centred on y = 0
    fx = size + (c_in - 1) * s + 2.5
    gap = 0.5
    block = k + (c_in - 1) * s
    total = c_out * block + (c_out - 1) * gap
    osize = size - k + 1
    s_out = 0.55
    out_x = fx + block + 3
    y_out = -osize / 2
    for o in range(c_out):
        y0 = total / 2 - (o + 1) * block - o * gap
        for d in reversed(range(c_in)):
            ax.add_patch(
                Rectangle(
                    (fx + d * s, y0 + d * s),
                    k,
                    k,
                    fc=colours[d],
                    ec="white",
                    lw=1,
                    gid=f"filter {o}",
                )
            )
        ax.text(
            fx + k / 2,
            y0 + k / 2,
            f"filter\n{o}",
            ha="center",
            va="center",
            size=7,
            color="white",
            weight="bold",
        )
        ax.annotate(
            "",
            xy=(fx - 0.1, y0 + k / 2),
            xytext=window_out,
            arrowprops=dict(arrowstyle="->", color=_WINDOW, lw=0.8),
        )
        target = (out_x + o * s_out, y_out + o * s_out + osize - 0.5)
        ax.annotate(
            "",
            xy=target,
            xytext=(fx + block + 0.15, y0 + block / 2),
            arrowprops=dict(arrowstyle="->", color=_OUTPUT, lw=1.2),
        )
    ax.text(
        fx + block / 2,
        -total / 2 - 0.5,
        f"{c_out} filters,\neach {k}x{k}x{c_in}",
        ha="center",
        va="top",
    )
    # output: c_out maps, channel o drawn at depth o, its first number shaded
    for o in reversed(range(c_out)):
        x0, y0 = out_x + o * s_out, y_out + o * s_out
        ax.add_patch(Rectangle((x0, y0), osize, osize, fc="white", ec=_OUTPUT, lw=1.2))
        ax.add_patch(Rectangle((x0, y0 + osize - 1), 1, 1, fc=_OUTPUT, alpha=0.6))
        ax.text(x0 + osize + 0.15, y0 + 0.3, f"{o}", size=7, color=_OUTPUT)
    ax.text(
        out_x + osize / 2,
        y_out - 0.5,
        f"output ('valid')\n{osize}x{osize}x{c_out}",
        ha="center",
        va="top",
    )
    low = min(y_in, -total / 2) - 2.2
    high = max(y_in + size + c_in * s, total / 2) + 0.4
    ax.set_xlim(-0.5, out_x + osize + c_out * s_out + 0.8)
    ax.set_ylim(low, high)
    ax.set_title(
        f"Each filter is a {k}x{k}x{c_in} block: it reads the window in every input "
        f"channel\nand writes one output channel; {c_out} filters give {c_out} "
        "output channels",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- sliding windows


def _grid(ax, values, *, highlight=None, colour=None, shown=None, fmt="{:g}"):
    """A table of numbers; ``highlight`` = (row, col, h, w); ``shown`` masks cells."""
    h, w = values.shape
    ax.vlines(np.arange(w + 1), 0, h, colors=_GRID, lw=0.6)
    ax.hlines(np.arange(h + 1), 0, w, colors=_GRID, lw=0.6)
    for r in range(h):
        for c in range(w):
            if shown is None or shown[r, c]:
                ax.text(
                    c + 0.5,
                    r + 0.5,
                    fmt.format(values[r, c]),
                    ha="center",
                    va="center",
                    size=8,
                    color=_TEXT,
                )
    if highlight is not None:
        r, c, hh, ww = highlight
        ax.add_patch(Rectangle((c, r), ww, hh, fc=colour, ec=colour, lw=2, alpha=0.35))
    ax.set(xlim=(-0.1, w + 0.1), ylim=(h + 0.1, -0.1), aspect="equal")
    ax.axis("off")


def _number_format(*arrays) -> str:
    """``{:g}``-style for whole numbers, else two decimals."""
    whole = all(np.allclose(a, np.round(a)) for a in arrays)
    return "{:.0f}" if whole else "{:.2f}"


def window_frames(x, y, window, stride=1, *, steps=None, kernel=None, label="y"):
    """Draw a few steps of a window sliding over ``x`` and writing ``y``; returns the
    figure.

    ``x`` is one 2-D input ``(H, W)`` and ``y`` the 2-D output ``(OH, OW)`` that a
    ``'valid'`` window of size ``window`` (int or pair) moving by ``stride`` produces:
    compute it with a tested function (:func:`conv_frames` and :func:`pool_frames` do).
    ``steps`` lists the output positions ``(i, j)`` to show, in order (default: the
    first three of the first row and the last output). Each column is one step: the
    input with the window read for output ``(i, j)`` (top) and the output with that
    cell and those before it in row-major order filled in (bottom). ``kernel``
    (a 2-D array, optional) is drawn in an extra first column. Chapters 3 and 4.

    Raises ``ValueError`` for arrays that are not 2-D or hold NaN/inf, an output
    whose shape does not match the window and stride, a step outside the output, or
    more than 6 steps.
    """
    x = check_real(x, "x").astype(np.float64)
    y = check_real(y, "y").astype(np.float64)
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(
            f"x and y must be 2-D (one channel of one image), got shapes {x.shape} "
            f"and {y.shape}; pass e.g. x[0, :, :, 0]"
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite to be written in the cells")
    kh, kw = as_pair(window, "window")
    sh, sw = as_pair(stride, "stride")
    expected = ((x.shape[0] - kh) // sh + 1, (x.shape[1] - kw) // sw + 1)
    if kh > x.shape[0] or kw > x.shape[1] or y.shape != expected:
        raise ValueError(
            f"a {kh}x{kw} window with stride ({sh}, {sw}) over a {x.shape} input "
            f"gives a {expected} output ('valid'), but y has shape {y.shape}"
        )
    oh, ow = y.shape
    if steps is None:
        steps = [(0, j) for j in range(min(3, ow))] + [(oh - 1, ow - 1)]
        steps = list(dict.fromkeys(steps))  # a tiny output: no repeats
    steps = [tuple(int(v) for v in s) for s in steps]
    if not steps or len(steps) > 6:
        raise ValueError(f"show 1 to 6 steps, got {len(steps)}")
    for i, j in steps:
        if not (0 <= i < oh and 0 <= j < ow):
            raise ValueError(f"step {(i, j)} is outside the {oh}x{ow} output")
    if kernel is not None:
        kernel = check_real(kernel, "kernel").astype(np.float64)
        if kernel.shape != (kh, kw):
            raise ValueError(f"kernel must have shape {(kh, kw)}, got {kernel.shape}")
    extra = 0 if kernel is None else 1
    ncols = len(steps) + extra
    fig, axes = plt.subplots(
        2, ncols, figsize=(2.1 * ncols, 4.2), squeeze=False, height_ratios=[1.4, 1]
    )
    fmt_x = _number_format(x)
    fmt_y = _number_format(y)
    if kernel is not None:
        _grid(axes[0, 0], kernel, fmt=_number_format(kernel))
        axes[0, 0].set_title("kernel", fontsize=9)
        axes[1, 0].axis("off")
    order = np.arange(oh * ow).reshape(oh, ow)
    for col, (i, j) in enumerate(steps, start=extra):
        _grid(
            axes[0, col],
            x,
            highlight=(i * sh, j * sw, kh, kw),
            colour=_WINDOW,
            fmt=fmt_x,
        )
        axes[0, col].set_title(f"step {order[i, j] + 1}: window for ({i}, {j})", size=9)
        _grid(
            axes[1, col],
            y,
            highlight=(i, j, 1, 1),
            colour=_OUTPUT,
            shown=order <= order[i, j],
            fmt=fmt_y,
        )
        axes[1, col].set_title(f"{label}[{i}, {j}] = {fmt_y.format(y[i, j])}", size=9)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.93, wspace=0.1)
    return fig


def conv_frames(image, kernel, stride=1, *, steps=None):
    """:func:`window_frames` of a ``'valid'`` cross-correlation of one 2-D ``image``
    with one 2-D ``kernel``, the outputs computed by :func:`utils.conv.conv2d`.
    Chapter 3. Raises ``ValueError`` as :func:`utils.conv.conv2d` and
    :func:`window_frames` do (e.g. a non-2-D image or kernel).
    """
    image = check_real(image, "image")
    kernel = check_real(kernel, "kernel")
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(
            f"image and kernel must be 2-D, got shapes {image.shape} and {kernel.shape}"
        )
    y = conv.conv2d(image[None, :, :, None], kernel[:, :, None, None], stride=stride)
    return window_frames(
        image, y[0, :, :, 0], kernel.shape, stride, steps=steps, kernel=kernel
    )


def pool_frames(image, pool_size=2, stride=None, *, mode="max", steps=None):
    """:func:`window_frames` of ``'valid'`` max or average pooling of one 2-D
    ``image``, the outputs computed by :func:`utils.pool.pool2d` (``stride`` defaults
    to ``pool_size``). Chapter 4. Raises ``ValueError`` as :func:`utils.pool.pool2d`
    and :func:`window_frames` do.
    """
    image = check_real(image, "image")
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D, got shape {image.shape}")
    stride = pool_size if stride is None else stride
    y = pool.pool2d(image[None, :, :, None], pool_size, strides=stride, mode=mode)
    return window_frames(
        image, y[0, :, :, 0], pool_size, stride, steps=steps, label=f"{mode} pool"
    )
