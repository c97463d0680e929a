"""Figures for the book that stay legible in its light and dark themes.

Chapter 1 introduces them. Every figure is drawn on an opaque light "card" (a white
background with dark text), so it reads the same whichever theme the reader picked; the
book's CSS gives the card rounded corners in dark mode. Colours come from a palette that
colour-blind readers can tell apart (Okabe & Ito).
"""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from .shapes import positive_int, real_number

# Okabe-Ito colour-blind-safe palette
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
)

BOOK_STYLE = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "figure.dpi": 72,
    "savefig.dpi": 72,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "text.color": "#222222",
    "axes.labelcolor": "#222222",
    "xtick.color": "#222222",
    "ytick.color": "#222222",
    "image.cmap": "gray",
    "font.size": 10,
}


def use_book_style() -> None:
    """Apply the book's matplotlib style: opaque light card, colour-blind palette.

    Chapter 1; every chapter calls it in its profile cell.
    """
    plt.rcParams.update(BOOK_STYLE)


def _as_displayable(img) -> np.ndarray:
    """One image as ``imshow`` should get it: uint8 as is, else float32 in [0, 1].

    uint8 and bool are exact; other integers within 0-255 are pixel values (divided by
    255); floats within [0, 1] are kept; anything else (standardised pixels, 0-255
    floats, uint16) is stretched from its min-max to [0, 1], for display only.
    """
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[-1] not in (3, 4)):
        raise ValueError(
            f"each image must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), "
            f"got shape {img.shape}"
        )
    if img.size == 0:
        raise ValueError(f"each image must have pixels, got shape {img.shape}")
    if img.dtype == np.uint8:
        return img
    if img.dtype != bool and (
        not np.issubdtype(img.dtype, np.number)
        or np.issubdtype(img.dtype, np.complexfloating)
    ):
        raise ValueError(f"images must hold real numbers, got dtype {img.dtype}")
    pixels = img.astype(np.float32)
    if not np.all(np.isfinite(pixels)):
        raise ValueError(
            "an image holds NaN or infinite values; nothing faithful can be drawn "
            "(check the computation that produced it)"
        )
    lo, hi = float(pixels.min()), float(pixels.max())
    if np.issubdtype(img.dtype, np.integer) and lo >= 0 and hi <= 255:
        return pixels / 255.0  # integer pixel values, e.g. uint8 data widened to int64
    if lo < 0.0 or hi > 1.0:  # e.g. standardised pixels: stretched for display only
        pixels = (pixels - lo) / (hi - lo if hi > lo else 1.0)
    return pixels


def _as_image_list(images) -> list:
    """``images`` (a sequence or an ``(N, H, W[, C])`` array) as a list of images."""
    if not isinstance(images, np.ndarray):
        return list(images)
    if images.ndim < 3 or (images.ndim == 3 and images.shape[-1] in (3, 4)):
        raise ValueError(
            f"images of shape {images.shape} look like ONE image; pass a batch "
            f"(N, H, W[, C]), e.g. image[None], or a list [image] (if they are N grey "
            f"images {images.shape[-1]} pixels wide, pass list(images))"
        )
    return [images[i] for i in range(len(images))]


def image_grid(
    images,
    labels=None,
    *,
    ncols: int = 8,
    size: float = 1.3,
    title: str | None = None,
    cmap=None,
):
    """Draw images in a grid with optional captions; returns the figure. Chapter 1.

    ``images`` is a sequence of HW/HWC images or an ``(N, H, W[, C])`` array: uint8
    0-255, bool, integer pixel values 0-255, or floats (within [0, 1] shown as they are,
    outside it stretched from min-max to [0, 1] for display). Grey images are drawn with
    a fixed 0-1 scale (black is 0, white is 1; ``cmap`` defaults to grey), so their
    contrast is not silently stretched. ``labels`` are captions, one per image;
    ``ncols`` (int >= 1) columns of ``size`` inches. Raises ``ValueError`` for no
    images, a single image passed as an array, a label count that differs, a bad
    ``ncols``/``size``, an image of another shape, a non-real dtype, or NaN/inf pixels.
    """
    images = _as_image_list(images)
    if not images:
        raise ValueError("image_grid needs at least one image")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"got {len(images)} images but {len(labels)} labels")
    ncols = positive_int(ncols, "ncols")
    size = real_number(size, "size (inches)", low=0, low_open=True)
    shown = [_as_displayable(img) for img in images]  # check all before drawing
    ncols = min(ncols, len(images))
    nrows = -(-len(images) // ncols)
    figsize = (size * ncols, size * nrows + (0.3 if title else 0))
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, img in enumerate(shown):
        ax = axes.flat[i]
        if img.ndim == 2:  # a fixed scale: imshow would stretch each grey image alone
            top = 255 if img.dtype == np.uint8 else 1
            ax.imshow(
                img, cmap=cmap or "gray", vmin=0, vmax=top, interpolation="nearest"
            )
        else:
            ax.imshow(img, interpolation="nearest")
        if labels is not None:
            ax.set_title(str(labels[i]), fontsize=8, pad=2)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_curves(
    curves: dict,
    *,
    xlabel: str = "epoch",
    ylabel: str = "",
    title: str | None = None,
    ax=None,
    logy=False,
):
    """Plot named 1-D series (``{"train loss": [...], "val loss": [...]}``) on one axis.

    Point ``i`` of each series is drawn at x = ``i + 1`` (epochs count from 1); NaN
    leaves a gap. Returns the axis. Raises ``ValueError`` for no series, a series that
    is not 1-D real numbers, or ``logy`` with a value <= 0. Chapters 1, 2, 5 and 8
    (learning curves).
    """
    if not isinstance(curves, dict) or not curves:
        raise ValueError("plot_curves needs a dict with at least one named series")
    series = {}
    for name, values in curves.items():
        try:
            values = np.asarray(values, dtype=float)
        except (TypeError, ValueError) as err:
            raise ValueError(f"series {name!r} must hold numbers ({err})") from None
        if values.ndim != 1:
            raise ValueError(f"series {name!r} must be 1-D, got shape {values.shape}")
        if logy and np.any(values[~np.isnan(values)] <= 0):
            raise ValueError(
                f"series {name!r} has values <= 0, which a log axis cannot show"
            )
        series[name] = values
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    for name, values in series.items():
        ax.plot(
            np.arange(1, len(values) + 1),
            values,
            marker="o" if len(values) <= 30 else None,
            ms=3,
            label=name,
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.legend(frameon=False)
    return ax


def plot_confusion(
    cm: np.ndarray,
    class_names,
    *,
    ax=None,
    normalize: bool = True,
    title: str | None = None,
):
    """Draw a confusion matrix (rows: true class, columns: predicted) with cell values.

    ``cm`` is a ``(k, k)`` matrix of non-negative counts
    (:func:`utils.first_cnn.confusion_matrix`) for ``k`` class names. ``normalize=True``
    divides each row by its sum (an empty row stays 0) and prints two decimals;
    ``False`` prints the counts. Returns the axis. Raises ``ValueError`` for a wrong
    shape, or values that are negative, NaN or infinite. Chapter 8 (per-class analysis).
    """
    try:
        cm = np.asarray(cm, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"confusion matrix must hold numbers ({err})") from None
    k = len(class_names)
    if cm.shape != (k, k):
        raise ValueError(
            f"confusion matrix must be ({k}, {k}) for {k} class names, got {cm.shape}"
        )
    if not np.all(np.isfinite(cm)) or np.any(cm < 0):
        raise ValueError("confusion matrix must hold finite, non-negative counts")
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5.2))
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=shown.max() or 1)
    ax.grid(False)
    ax.set_xticks(range(k), class_names, rotation=45, ha="right")
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(k):
        for j in range(k):
            value = shown[i, j]
            text = f"{value:.2f}" if normalize else f"{value:g}"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if value > 0.6 * shown.max() else "#222222",
            )
    if title:
        ax.set_title(title)
    ax.figure.colorbar(im, ax=ax, fraction=0.046)
    return ax
