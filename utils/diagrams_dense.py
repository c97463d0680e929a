"""Diagrams for the dense-prediction chapters: segmentation (13) and detection (14).

Every picture is drawn from numbers that the book's tested code computes, never typed:

- :func:`stamping_diagram` shows a transposed convolution as stamping: each input pixel
  adds a weighted copy of the kernel to the output, ``stride`` pixels from its
  neighbour's copy; the number in each output pixel is how many taps land there,
  computed with :func:`utils.segmentation.transposed_conv2d` (chapter 13);
- :func:`unet_diagram` draws a U-Net built by :func:`utils.unet.unet` as the letter U:
  the encoder going down, the decoder coming up, the skip connections across, each
  block labelled with the size and channels read from the Keras model (chapter 13);
- :func:`centre_point_diagram` shows how a centre-point detector encodes one box: the
  grid of cells, the centre cell, the offset and the size it regresses, and the
  Gaussian target heatmap, all from :func:`utils.boxes.encode_centers` (chapter 14);
- :func:`draw_boxes` draws boxes with class names and scores on an image (chapter 14).

All figures are drawn on the book's opaque light card (:mod:`utils.plot`), in the
Okabe-Ito palette, so they read the same in the light and the dark theme. Bad input
raises ``ValueError`` naming what was wrong, before anything is drawn.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

from . import boxes as box_ops
from .plot import PALETTE
from .segmentation import transposed_conv2d
from .shapes import positive_int

__all__ = ["stamping_diagram", "unet_diagram", "centre_point_diagram", "draw_boxes"]

_INK = "#222222"
_GRID = "#888888"


def _int_in(value, name: str, low: int, high: int) -> int:
    value = positive_int(value, name)
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return value


def _arrow(ax, start, end, text="", *, style="-|>", ls="-", colour=_INK, **text_kw):
    ax.add_patch(
        FancyArrowPatch(
            start, end, arrowstyle=style, mutation_scale=12, lw=1.2, ls=ls, color=colour
        )
    )
    if text:
        mid = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
        ax.text(*mid, text, fontsize=8, color=_INK, **text_kw)


# ------------------------------------------------------------------ chapter 13


def stamping_diagram(input_size: int = 2, kernel: int = 3, stride: int = 2):
    """Draw a transposed convolution as stamping; returns the matplotlib ``Figure``.

    Left: an ``input_size x input_size`` input ``u``, one colour per pixel. Right: the
    ``"valid"`` output ``v`` of size ``(input_size - 1) * stride + kernel``, with the
    ``kernel x kernel`` stamp of each input pixel outlined in that pixel's colour,
    placed ``stride`` pixels apart, and in every output pixel the number of taps that
    land on it (:func:`utils.segmentation.transposed_conv2d` of ones, kernel of ones).
    ``input_size`` is an int in [1, 4], ``kernel`` in [1, 5], ``stride`` in [1, 4].
    Raises ``ValueError`` outside those ranges. Chapter 13.
    """
    n = _int_in(input_size, "input_size", 1, 4)
    k = _int_in(kernel, "kernel", 1, 5)
    s = _int_in(stride, "stride", 1, 4)
    taps = transposed_conv2d(
        np.ones((1, n, n, 1)), np.ones((k, k, 1, 1)), stride=s, padding="valid"
    )[0, :, :, 0]
    out = taps.shape[0]
    colours = [PALETTE[c % 6] for c in range(n * n)]
    fig, (left, right) = plt.subplots(
        1,
        2,
        figsize=(max(6.0, 2.2 + 0.55 * out + 0.4 * n), 0.55 * out + 1.5),
        gridspec_kw=dict(width_ratios=[n + 1.5, out]),
    )
    for ax, size in ((left, n), (right, out)):
        ax.set_xlim(-0.2, size + 0.2)
        ax.set_ylim(out + 0.2 if ax is right else n + 0.2, -0.2)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.grid(False)
    for i in range(n):
        for j in range(n):
            colour = colours[i * n + j]
            left.add_patch(Rectangle((j, i), 1, 1, fc=colour, alpha=0.45, ec=_INK))
            left.text(j + 0.5, i + 0.5, f"$u_{{{i}{j}}}$", ha="center", va="center")
            right.add_patch(
                Rectangle((j * s, i * s), k, k, fc=colour, alpha=0.18, ec="none")
            )
            right.add_patch(
                Rectangle(
                    (j * s + 0.06, i * s + 0.06),
                    k - 0.12,
                    k - 0.12,
                    fill=False,
                    ec=colour,
                    lw=2.2,
                )
            )
    for i in range(out):
        for j in range(out):
            right.add_patch(Rectangle((j, i), 1, 1, fill=False, ec=_GRID, lw=0.5))
            right.text(
                j + 0.5,
                i + 0.5,
                f"{taps[i, j]:g}",
                ha="center",
                va="center",
                fontsize=9,
                color=_INK,
            )
    left.set_title(f"input u: {n}x{n}", fontsize=9, color=_INK)
    right.set_title(f"output v: {out}x{out}", fontsize=9, color=_INK)
    fig.suptitle(
        f"Each input pixel stamps a {k}x{k} copy of the kernel (times its value),\n"
        f"{s} px from its neighbour's; numbers: taps per output pixel",
        fontsize=9,
        color=_INK,
    )
    fig.tight_layout()
    return fig


def _unet_levels(model) -> dict:
    """Shapes ``(H, W, C)`` of a :func:`utils.unet.unet` model's blocks, by role."""
    names = {layer.name for layer in model.layers}
    depth = sum(1 for name in names if name.startswith("pool"))
    needed = [f"down{lv}_act2" for lv in range(depth)] + ["bottleneck_act2", "head"]
    needed += [f"dec{lv}_act2" for lv in range(depth)]
    missing = [name for name in needed if name not in names]
    if depth == 0 or missing:
        raise ValueError(
            "model must be a U-Net built by utils.unet.unet (layers named down0_act2, "
            f"pool0, bottleneck_act2, dec0_act2, head, ...); missing {missing[:3]}"
        )

    def shape(name):
        dims = tuple(model.get_layer(name).output.shape[1:])
        if any(d is None for d in dims):
            raise ValueError(
                "build the U-Net on a fixed image size to draw it, got "
                f"{name} of shape {dims}"
            )
        return dims

    return dict(
        input=tuple(model.inputs[0].shape[1:]),
        down=[shape(f"down{lv}_act2") for lv in range(depth)],
        bottleneck=shape("bottleneck_act2"),
        dec=[shape(f"dec{lv}_act2") for lv in range(depth)],
        head=shape("head"),
    )


def unet_diagram(model):
    """Draw a U-Net as the letter U; returns the matplotlib ``Figure``.

    ``model`` is a ``keras.Model`` built by :func:`utils.unet.unet` on a fixed image
    size. Each box is one :func:`utils.unet.conv_block`, labelled with its output height
    x width and channels as the model reports them; arrows mark the 2x2 max pooling
    (down), the upsampling by 2 (up), the skip connections (across: copy and
    concatenate) and the 1x1 head. Raises ``ValueError`` for a model that lacks the
    layer names :func:`utils.unet.unet` gives, or whose size is not fixed. Chapter 13.
    """
    levels = _unet_levels(model)
    depth = len(levels["down"])
    fig, ax = plt.subplots(figsize=(7.4, 1.25 * depth + 2.4))
    ax.set_xlim(-1.3, 9.3)
    ax.set_ylim(-depth - 1.0, 1.45)
    ax.axis("off")
    ax.grid(False)

    def block(x, y, dims, colour, text=""):
        h, w, c = dims
        ax.add_patch(
            FancyBboxPatch(
                (x - 0.95, y - 0.3),
                1.9,
                0.6,
                boxstyle="round,pad=0.02",
                fc=colour,
                alpha=0.35,
                ec=_INK,
                lw=0.8,
            )
        )
        label = f"{h}x{w}, {c} ch" + (f"\n{text}" if text else "")
        ax.text(x, y, label, ha="center", va="center", fontsize=8, color=_INK)

    h, w, c = levels["input"]
    block(0, 1.0, (h, w, c), "white", "input image")
    block(8, 1.0, levels["head"], PALETTE[4], "logits per pixel")
    _arrow(ax, (0, 0.7), (0, 0.3), " 2 conv 3x3", ha="left", va="center")
    _arrow(ax, (8, 0.3), (8, 0.7), " conv 1x1", ha="left", va="center")
    for lv in range(depth):
        y = -lv
        block(0.6 * lv, y, levels["down"][lv], PALETTE[0], "encoder")
        block(8 - 0.6 * lv, y, levels["dec"][lv], PALETTE[2], "decoder")
        _arrow(
            ax,
            (0.6 * lv + 0.97, y),
            (8 - 0.6 * lv - 0.97, y),
            "copy + concatenate (skip)",
            ls="--",
            colour=PALETTE[1],
            ha="center",
            va="bottom",
        )
        below_left = 0.6 * (lv + 1) if lv + 1 < depth else 4
        below_right = 8 - 0.6 * (lv + 1) if lv + 1 < depth else 4
        _arrow(
            ax,
            (0.6 * lv - 0.2, y - 0.32),
            (below_left - 0.2, y - 0.68),
            "max pool 2x2 ",
            ha="right",
            va="center",
        )
        _arrow(
            ax,
            (below_right + 0.2, y - 0.68),
            (8 - 0.6 * lv + 0.2, y - 0.32),
            " upsample x2",
            ha="left",
            va="center",
        )
    block(4, -depth, levels["bottleneck"], PALETTE[3], "bottleneck")
    ax.set_title(
        f"U-Net with {depth + 1} levels: sizes halve going down, channels double; "
        "skips carry the detail across",
        fontsize=9,
        color=_INK,
    )
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ chapter 14


def centre_point_diagram(box=(3.0, 8.0, 26.0, 27.0), *, canvas: int = 32, stride=4):
    """Draw how a centre-point detector encodes one box; returns the ``Figure``.

    ``box`` is one xyxy box in pixels on a ``canvas x canvas`` image (``canvas`` an int
    in [8, 64], divisible by ``stride``, an int in [2, 8]). Left: the image with its
    grid of ``stride``-pixel cells, the box, its centre, the centre cell ``(i, j)``,
    the offset from the cell's corner to the centre and the size in cells. Right: the
    target heatmap, a Gaussian that is 1 at the centre cell. Every number comes from
    :func:`utils.boxes.encode_centers`. Raises ``ValueError`` for a bad canvas or
    stride, or a box that :func:`utils.boxes.encode_centers` refuses. Chapter 14.
    """
    canvas = _int_in(canvas, "canvas", 8, 64)
    stride = _int_in(stride, "stride", 2, 8)
    if canvas % stride:
        raise ValueError(f"canvas ({canvas}) must be divisible by stride ({stride})")
    grid = canvas // stride
    xyxy = np.asarray(box, np.float64).reshape(1, 4)
    heat, size, offset, mask = box_ops.encode_centers(xyxy, [0], 1, grid, stride)
    i, j = (int(v[0]) for v in np.nonzero(mask))
    (w, h), (ox, oy) = size[i, j], offset[i, j]
    cx, cy = (j + ox) * stride, (i + oy) * stride
    x0, y0, x1, y1 = xyxy[0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.9))
    left.set_xlim(0, canvas)
    left.set_ylim(canvas, 0)
    left.set_aspect("equal")
    left.grid(False)
    for t in range(0, canvas + 1, stride):
        left.axhline(t, color=_GRID, lw=0.4)
        left.axvline(t, color=_GRID, lw=0.4)
    left.add_patch(
        Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec=PALETTE[0], lw=2)
    )
    left.add_patch(
        Rectangle((j * stride, i * stride), stride, stride, fc=PALETTE[1], alpha=0.5)
    )
    left.plot([cx], [cy], "o", color=PALETTE[3], ms=5)
    _arrow(left, (j * stride, i * stride), (cx, cy), colour=PALETTE[3])
    left.text(
        x0,
        y0 - 0.6,
        f"centre cell (i, j) = ({i}, {j}); offset (o_x, o_y) = ({ox:.3g}, {oy:.3g})",
        fontsize=8,
        color=_INK,
        ha="left",
        va="bottom",
    )
    _arrow(left, (x0, y1 + 1.5), (x1, y1 + 1.5), style="<|-|>", colour=PALETTE[0])
    left.text(
        (x0 + x1) / 2,
        y1 + 2.2,
        f"w = {w:.2f} cells",
        ha="center",
        va="top",
        fontsize=8,
        color=_INK,
    )
    _arrow(left, (x1 + 1.5, y0), (x1 + 1.5, y1), style="<|-|>", colour=PALETTE[0])
    left.text(
        x1 + 2.2,
        (y0 + y1) / 2,
        f"h = {h:.2f}\ncells",
        ha="left",
        va="center",
        fontsize=8,
        color=_INK,
    )
    left.set_title(f"image, {stride}-px cells, box and its centre", fontsize=9)
    image = right.imshow(heat[..., 0], cmap="magma", vmin=0, vmax=1)
    right.add_patch(
        Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec=PALETTE[5], lw=2)
    )
    right.grid(False)
    right.set_title(
        f"target heatmap ({grid}x{grid} cells): 1 at the centre", fontsize=9
    )
    fig.colorbar(image, ax=right, fraction=0.046, label="target Y")
    fig.tight_layout()
    return fig


def draw_boxes(ax, boxes, classes, names, scores=None, *, style="-", labels=True):
    """Draw xyxy pixel ``boxes`` ``(K, 4)`` on the matplotlib axes ``ax``.

    ``classes`` ``(K,)`` ints index ``names`` (class names) and pick the colour from the
    book's palette; ``scores`` ``(K,)`` (optional) are written after the name; ``style``
    is the line style (``"--"`` for ground truth); ``labels=False`` draws no text.
    Returns ``ax``. Raises ``ValueError`` for boxes that are not ``(K, 4)`` or
    ``classes``/``scores`` of another length, or a class without a name. Chapter 14.
    """
    arr = np.asarray(boxes, np.float64)
    if arr.size == 0:
        arr = arr.reshape(0, 4)
    classes = np.asarray(classes).reshape(-1)
    if arr.ndim != 2 or arr.shape[1] != 4 or len(classes) != len(arr):
        raise ValueError(
            f"boxes must be (K, 4) with one class each, got boxes {arr.shape} and "
            f"{len(classes)} classes"
        )
    if scores is not None and len(scores) != len(arr):
        raise ValueError(f"scores must have {len(arr)} entries, got {len(scores)}")
    if len(classes) and (classes.min() < 0 or classes.max() >= len(names)):
        raise ValueError(f"classes must index names ({len(names)}), got {classes}")
    for k, (x0, y0, x1, y1) in enumerate(arr):
        colour = PALETTE[int(classes[k]) % 6]
        ax.add_patch(
            Rectangle(
                (x0, y0), x1 - x0, y1 - y0, fill=False, lw=1.5, ls=style, ec=colour
            )
        )
        if labels:
            text = str(names[int(classes[k])])[:4]
            text += "" if scores is None else f" {scores[k]:.2f}"
            ax.text(
                x0,
                y0,
                text,
                fontsize=6,
                color="white",
                va="bottom",
                bbox=dict(fc=colour, ec="none", pad=0.5),
            )
    return ax
