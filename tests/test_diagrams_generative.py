"""utils.diagrams_generative: the VAE, GAN and DDPM schematics of chapter 15."""

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils import diagrams_generative as dg  # noqa: E402

pytestmark = pytest.mark.usefixtures("book_style")


def texts(fig):
    return " | ".join(t.get_text() for t in fig.axes[0].texts)


def test_vae_diagram_names_the_parts_and_both_loss_terms():
    fig = dg.vae_diagram()
    words = texts(fig)
    for part in (
        "encoder",
        "decoder",
        "z = μ + σ ⊙ ε",
        "ε ~ N(0, I)",
        "KL(",
        "−log p(x | z)",
    ):
        assert part in words, part
    assert "sampling: z ~ N(0, I)" in words
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)  # the opaque light card
    dashed = [p for p in fig.axes[0].patches if p.get_linestyle() == "--"]
    assert len(dashed) == 1  # the sampling path


def test_gan_diagram_says_which_loss_trains_which_network():
    words = texts(dg.gan_diagram())
    for part in ("generator", "discriminator", "real x", "fake G(z)"):
        assert part in words, part
    assert "real → 1, fake → 0" in words and "−log D(G(z))" in words


@pytest.mark.parametrize("steps", [4, 5, 8])
def test_ddpm_diagram_labels_the_chain_and_dots_the_skipped_steps(steps):
    fig = dg.ddpm_diagram(steps, timesteps=1000)
    words = texts(fig)
    assert "$x_{0}$" in words and "$x_{t-1}$" in words and "$x_T$" in words
    assert "T = 1000" in words
    assert words.count("$q(x_t \\mid x_{t-1})$") == 1
    # two arrows per gap; the ones that skip steps (x_k -> x_t-1, x_t -> x_T) dotted
    arrows = [p for p in fig.axes[0].patches if hasattr(p, "get_connectionstyle")]
    assert len(arrows) == 2 * (steps - 1)
    dotted = [p for p in arrows if p.get_linestyle() == ":"]
    assert len(dotted) == 4


def test_ddpm_diagram_draws_the_given_images():
    rng = np.random.default_rng(0)
    images = [rng.uniform(size=(8, 8)) for _ in range(4)] + [
        rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    ]
    fig = dg.ddpm_diagram(5, thumbnails=images)
    shown = fig.axes[0].images
    assert len(shown) == 5
    np.testing.assert_allclose(shown[0].get_array(), images[0].astype(np.float32))
    assert shown[4].get_clim() == (0, 255)  # uint8 drawn on its own scale


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(steps=3), "between 4 and 8"),
        (dict(steps=9), "between 4 and 8"),
        (dict(steps=4, thumbnails=[np.zeros((4, 4))] * 3), "one image per box"),
        (dict(steps=4, thumbnails=[np.zeros((4, 4, 2))] * 4), "each image must be"),
        (dict(steps=4, timesteps=0), "timesteps"),
    ],
)
def test_ddpm_diagram_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dg.ddpm_diagram(**kwargs)
