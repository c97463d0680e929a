"""Schematics of the three generative families of chapter 15 ("Generating images").

- :func:`vae_diagram`: encoder, the reparameterized code, decoder, and the two terms
  of the loss (reconstruction and KL), with the sampling path from the prior;
- :func:`gan_diagram`: noise, generator, discriminator between real and generated
  images, and which loss trains which network;
- :func:`ddpm_diagram`: the chain of images ``x_0 .. x_T``, the fixed forward
  process above it, the learned reverse process below it, and the one-line training
  shortcut through ``q(x_t | x_0)``. The images in its boxes can be the chapter's own
  (``thumbnails``), so the figure shows what the noise really does.

Every figure is drawn on the book's opaque light card (``plot.use_book_style``) with
the Okabe-Ito palette (:data:`utils.plot.PALETTE`) and dark ink, so it reads the same
in the light and the dark theme. Each function returns the matplotlib ``Figure``; bad
input raises ``ValueError`` before anything is drawn.
"""

from __future__ import annotations

from functools import partial

from . import diagram_parts as parts
from .plot import PALETTE, _as_displayable
from .shapes import positive_int

__all__ = ["vae_diagram", "gan_diagram", "ddpm_diagram"]

_INK = parts.INK
# one colour per role, the same in all three figures
DATA, NETWORK, LATENT, LOSS = PALETTE[0], PALETTE[2], PALETTE[1], PALETTE[3]


_canvas = parts.canvas
_box = partial(parts.box, w=1.6, h=0.8, fontsize=9)
_arrow = partial(parts.arrow, zorder=1)


def _legend(ax, x, y, items):
    for i, (colour, text) in enumerate(items):
        _box(ax, x + 2.3 * i, y, text, colour, w=2.1, h=0.42, fontsize=7.5)


def vae_diagram():
    """Draw a variational autoencoder: ``x -> q(z|x) -> z -> p(x|z)`` and its loss.

    The encoder outputs ``mu`` and ``sigma``; ``z = mu + sigma * eps`` with ``eps``
    from ``N(0, I)`` entering from below (the reparameterization trick); the decoder
    gives a distribution over images. The loss boxes name the two terms of minus the
    ELBO: ``-log p(x|z)`` and ``KL(q(z|x) || N(0, I))``. A dashed path shows sampling:
    ``z ~ N(0, I)`` straight into the decoder. Returns the ``Figure``. Chapter 15.
    """
    fig, ax = _canvas(8.8, 3.6, (-0.4, 15.6), (-2.9, 3.2))
    _box(ax, 0.6, 0.9, "image x", DATA, w=1.4)
    _box(ax, 3.0, 0.9, "encoder\nq(z | x)", NETWORK)
    _box(ax, 5.6, 0.9, "μ(x), σ(x)", LATENT, w=1.7)
    _box(ax, 8.3, 0.9, "z = μ + σ ⊙ ε", LATENT, w=2.0)
    _box(ax, 8.3, -1.3, "ε ~ N(0, I)", LATENT, w=1.6, h=0.6, alpha=0.12)
    _box(ax, 11.0, 0.9, "decoder\np(x | z)", NETWORK)
    _box(ax, 13.7, 0.9, "a distribution\nover images", DATA, w=1.9)
    _box(
        ax,
        13.7,
        2.55,
        "reconstruction:\n−log p(x | z) of the input x",
        LOSS,
        w=3.5,
        h=0.75,
    )
    _box(ax, 5.6, 2.55, "KL(q(z|x) ‖ N(0, I))", LOSS, w=2.9, h=0.6)
    for a, b in [(1.3, 2.2), (3.8, 4.75), (6.45, 7.3), (9.3, 10.2), (11.8, 12.75)]:
        _arrow(ax, (a, 0.9), (b, 0.9))
    _arrow(ax, (8.3, -1.0), (8.3, 0.5))
    _arrow(ax, (5.6, 1.3), (5.6, 2.25))
    _arrow(ax, (13.7, 1.3), (13.7, 2.17))
    _box(ax, 11.0, -1.3, "sampling: z ~ N(0, I)", LATENT, w=2.6, h=0.6, alpha=0.12)
    _arrow(ax, (11.0, -1.0), (11.0, 0.5), dashed=True)
    ax.text(
        7.4,
        -2.45,
        "training minimises −ELBO = reconstruction + KL"
        "   (dashed: generating new images)",
        ha="center",
        fontsize=8.5,
        color=_INK,
    )
    ax.set_title("A variational autoencoder", fontsize=10, color=_INK)
    fig.tight_layout()
    return fig


def gan_diagram():
    """Draw a GAN: ``z -> G -> fake``, real and fake images into ``D``, and the losses.

    ``D`` outputs a logit ``l`` with ``D(x) = sigmoid(l)``; the discriminator's loss
    labels real images 1 and fakes 0, the generator's (non-saturating) loss labels
    its fakes 1; a dashed arrow shows the generator's gradient passing back through
    ``D``. Returns the ``Figure``. Chapter 15.
    """
    fig, ax = _canvas(8.6, 3.4, (-0.4, 15.2), (-2.6, 3.0))
    _box(ax, 0.7, -0.4, "z ~ N(0, I)", LATENT, w=1.6)
    _box(ax, 3.2, -0.4, "generator\nG", NETWORK)
    _box(ax, 5.9, -0.4, "fake G(z)", DATA, w=1.7)
    _box(ax, 5.9, 1.8, "real x", DATA, w=1.7)
    _box(ax, 8.8, 0.7, "discriminator\nD", NETWORK, w=2.0, h=1.0)
    _box(ax, 11.3, 0.7, "D(·) = σ(ℓ)\nP(real)", LATENT, w=1.7)
    _box(ax, 13.8, 1.8, "D's loss:\nreal → 1, fake → 0", LOSS, w=2.4, h=0.8)
    _box(ax, 13.8, -0.4, "G's loss:\n−log D(G(z))", LOSS, w=2.4, h=0.8)
    _arrow(ax, (1.5, -0.4), (2.4, -0.4))
    _arrow(ax, (4.0, -0.4), (5.05, -0.4))
    _arrow(ax, (6.75, -0.4), (7.8, 0.45))
    _arrow(ax, (6.75, 1.8), (7.8, 0.95))
    _arrow(ax, (9.8, 0.7), (10.45, 0.7))
    _arrow(ax, (12.15, 0.9), (12.6, 1.6))
    _arrow(ax, (12.15, 0.5), (12.6, -0.2))
    _arrow(ax, (12.6, -0.75), (3.2, -0.85), dashed=True, colour=LOSS, rad=-0.18)
    ax.text(
        7.9,
        -2.2,
        "dashed: G's gradient flows back through D (D's weights are not changed by it)",
        ha="center",
        fontsize=8,
        color=_INK,
    )
    ax.set_title(
        "A generative adversarial network: two networks, two losses",
        fontsize=10,
        color=_INK,
    )
    fig.tight_layout()
    return fig


def _thumbnails(thumbnails, steps: int):
    if thumbnails is None:
        return None
    images = [_as_displayable(im) for im in thumbnails]
    if len(images) != steps:
        raise ValueError(
            f"thumbnails must hold one image per box ({steps}: x_0, ..., x_T), got "
            f"{len(images)}"
        )
    return images


def _chain_names(steps: int) -> list[str]:
    """Box labels: x_0, x_1, ..., then x_{t-1}, x_t, then x_T (mathtext)."""
    first = [f"$x_{{{k}}}$" for k in range(steps - 3)]
    return first + ["$x_{t-1}$", "$x_t$", "$x_T$"]


def ddpm_diagram(steps: int = 5, *, thumbnails=None, timesteps: int | None = None):
    """Draw the DDPM chain: images ``x_0, x_1, ..., x_{t-1}, x_t, ..., x_T`` in a row,
    the fixed forward process ``q(x_t | x_{t-1})`` above (noise added), the learned
    reverse process ``p_theta(x_{t-1} | x_t)`` below (the predicted noise removed),
    and the training shortcut ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps``.

    ``steps`` (int, 4 to 8) is the number of boxes; arrows between boxes that are not
    one step apart are dotted. ``thumbnails`` (optional) is a list of ``steps`` images
    (``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``, float in [0, 1] or uint8) drawn in the
    boxes, e.g. one training image noised by the chapter's own schedule at the steps
    the boxes stand for; ``timesteps`` (optional int) writes ``T`` as a number.
    Returns the ``Figure``. Raises ``ValueError`` for ``steps`` outside [4, 8], a
    wrong number of thumbnails or an image that cannot be shown. Chapter 15.
    """
    steps = positive_int(steps, "steps")
    if not 4 <= steps <= 8:
        raise ValueError(f"steps must be between 4 and 8 boxes, got {steps}")
    if timesteps is not None:
        timesteps = positive_int(timesteps, "timesteps")
    images = _thumbnails(thumbnails, steps)
    names = _chain_names(steps)
    gap = 2.4
    right = gap * (steps - 1)
    fig, ax = _canvas(1.5 * steps + 1.2, 3.9, (-1.3, right + 1.3), (-3.0, 2.4))
    for i, name in enumerate(names):
        x = gap * i
        if images is None:
            _box(ax, x, 0, name, DATA, w=1.2, h=1.2, fontsize=11)
        else:
            ax.imshow(
                images[i],
                extent=(x - 0.6, x + 0.6, -0.6, 0.6),
                cmap="gray",
                vmin=0,
                vmax=255 if images[i].dtype.kind == "u" else 1,
                interpolation="nearest",
                zorder=2,
            )
            _box(ax, x, 0, "", DATA, w=1.2, h=1.2, alpha=0.0)
            ax.text(x, -0.95, name, ha="center", va="top", fontsize=10, color=_INK)
        if not i:
            continue
        one_step = i < steps - 3 or i == steps - 2  # x_k -> x_k+1 or x_t-1 -> x_t
        middle = i == steps - 2
        _arrow(
            ax,
            (x - gap + 0.65, 0.75),
            (x - 0.65, 0.75),
            text=("$q(x_t \\mid x_{t-1})$" if middle else "q") if one_step else "⋯",
            rad=-0.35,
            colour=PALETTE[5],
            offset=(0, 0.32),
            dotted=not one_step,
        )
        _arrow(
            ax,
            (x - 0.65, -0.75),
            (x - gap + 0.65, -0.75),
            text=("$p_\\theta(x_{t-1} \\mid x_t)$" if middle else "$p_\\theta$")
            if one_step
            else "⋯",
            rad=-0.35,
            colour=NETWORK,
            offset=(0, -0.95 if images is not None else -0.75),
            dotted=not one_step,
        )
    big_t = "T" if timesteps is None else f"T = {timesteps}"
    ax.text(
        right / 2,
        2.0,
        f"forward process q (fixed): a little Gaussian noise per step, {big_t} steps",
        ha="center",
        fontsize=8.5,
        color=_INK,
    )
    ax.text(
        right / 2,
        -2.7,
        "reverse process $p_\\theta$ (learned): from $x_T$ ~ N(0, I), each step "
        "removes the noise $\\epsilon_\\theta(x_t, t)$ predicts\n"
        "training in one step: $x_t = \\sqrt{\\bar\\alpha_t}\\,x_0 + "
        "\\sqrt{1-\\bar\\alpha_t}\\,\\epsilon$, "
        "loss $\\|\\epsilon - \\epsilon_\\theta(x_t, t)\\|^2$",
        ha="center",
        va="center",
        fontsize=8,
        color=_INK,
    )
    ax.set_title(
        "Denoising diffusion: a fixed chain destroys, a learned one undoes",
        fontsize=10,
        color=_INK,
    )
    fig.tight_layout()
    return fig
