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

# Okabe-Ito colour-blind-safe palette
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

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
    """Apply the book's matplotlib style (opaque light card, colour-blind palette, small PNGs)."""
    plt.rcParams.update(BOOK_STYLE)


def _as_displayable(img: np.ndarray) -> np.ndarray:
    """Turn an HWC/HW image (uint8 or float) into something ``imshow`` draws faithfully."""
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[-1] not in (3, 4)):
        raise ValueError(f"each image must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got shape {img.shape}")
    if img.dtype != np.uint8:
        img = img.astype(np.float32)
        lo, hi = float(img.min()), float(img.max())
        if lo < 0.0 or hi > 1.0:  # e.g. standardised pixels: stretch to [0, 1] for display only
            img = (img - lo) / (hi - lo if hi > lo else 1.0)
    return img


def image_grid(images, labels=None, *, ncols: int = 8, size: float = 1.3, title: str | None = None, cmap=None):
    """Draw images in a grid with optional captions; returns the figure.

    ``images`` is a sequence or array of HW/HWC images (uint8 0-255 or float; floats outside
    [0, 1] are stretched for display). ``labels`` are caption strings, one per image.
    """
    images = list(images) if not isinstance(images, np.ndarray) else [images[i] for i in range(len(images))]
    if not images:
        raise ValueError("image_grid needs at least one image")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"got {len(images)} images but {len(labels)} labels")
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    ncols = min(ncols, len(images))
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if title else 0)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, img in enumerate(images):
        ax = axes.flat[i]
        ax.imshow(_as_displayable(img), cmap=cmap, interpolation="nearest")
        if labels is not None:
            ax.set_title(str(labels[i]), fontsize=8, pad=2)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_curves(curves: dict, *, xlabel: str = "epoch", ylabel: str = "", title: str | None = None, ax=None, logy=False):
    """Plot named 1-D series (e.g. ``{"train loss": [...], "val loss": [...]}``) on one axis."""
    if not curves:
        raise ValueError("plot_curves needs at least one named series")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    for name, values in curves.items():
        values = np.asarray(values, dtype=float)
        ax.plot(np.arange(1, len(values) + 1), values, marker="o" if len(values) <= 30 else None, ms=3, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.legend(frameon=False)
    return ax


def plot_confusion(cm: np.ndarray, class_names, *, ax=None, normalize: bool = True, title: str | None = None):
    """Draw a confusion matrix (rows: true class, columns: predicted class) with cell values."""
    cm = np.asarray(cm, dtype=float)
    k = len(class_names)
    if cm.shape != (k, k):
        raise ValueError(f"confusion matrix must be ({k}, {k}) for {k} class names, got {cm.shape}")
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
            ax.text(j, i, f"{value:.2f}" if normalize else f"{int(value)}", ha="center", va="center",
                    fontsize=7, color="white" if value > 0.6 * shown.max() else "#222222")
    if title:
        ax.set_title(title)
    ax.figure.colorbar(im, ax=ax, fraction=0.046)
    return ax
