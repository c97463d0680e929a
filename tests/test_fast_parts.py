"""utils.fast (chapter 10): the airbench94 pieces, each against a NumPy reference or
Keras.

Recipe, model, augmentation, loss and update rules on small random arrays, and each
function's bad input. The trainer is tested in test_fast_trainer.py.
"""

import keras
import numpy as np
import pytest
from keras import ops

from utils import fast, images

TINY = fast.FastConfig(
    widths=(8, 8, 8), epochs=2, batch_size=16, eval_batch=20, whiten_samples=32
)


def correlated_images(n=64, seed=0):
    """Smooth random images: neighbouring pixels and channels are strongly
    correlated."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 8, 8, 1))
    img = np.kron(base, np.ones((1, 4, 4, 1)))  # 32x32, blocky
    img = img + 0.3 * rng.normal(size=(n, 32, 32, 3))
    return (img * np.array([1.0, 0.8, 0.6])).astype(np.float32)


# ----------------------------------------------------------------- config


def test_airbench_hyperparameters():
    cfg = fast.FastConfig()
    hp = cfg.sgd_hyperparameters()
    assert hp["lr"] == pytest.approx(1.4648e-3, rel=1e-4)
    assert hp["l2"] == pytest.approx(1.3624, rel=1e-4)
    assert hp["lr_bias"] == pytest.approx(0.09375, rel=1e-3)
    assert hp["l2_bias"] == pytest.approx(0.02129, rel=1e-3)
    assert hp["lr"] * hp["l2"] == pytest.approx(
        hp["lr_bias"] * hp["l2_bias"]
    )  # same shrink per step
    assert cfg.steps_per_epoch(50_000) == 48
    assert cfg.total_steps(50_000) == 476


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"widths": (64, 256)}, "three positive ints"),
        ({"widths": [8, 8, 8]}, "tuple of three"),
        ({"epochs": 0}, "epochs must be a positive finite"),
        ({"epochs": float("inf")}, "epochs must be a positive finite"),
        ({"lr": float("nan")}, "lr must be a positive finite"),  # used to train to 10%
        ({"lr": -1.0}, "lr must be a positive finite"),
        ({"weight_decay": float("nan")}, "weight_decay"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 16.0}, "batch_size must be a positive int"),
        ({"eval_batch": 0}, "eval_batch"),
        ({"whiten_samples": 0}, "whiten_samples"),
        ({"momentum": 1.0}, "momentum"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"flip": "sometimes"}, "flip must be one of"),
        ({"tta_level": 3}, "tta_level"),
        ({"translate": -1}, "translate"),
        ({"warmup_frac": 1.5}, "warmup_frac"),
    ],
)
def test_config_rejects_bad_values(changes, match):
    with pytest.raises(ValueError, match=match):
        fast.FastConfig(**changes)


def test_batch_larger_than_data():
    with pytest.raises(ValueError, match="larger than the training set"):
        fast.FastConfig(batch_size=1024).steps_per_epoch(1000)


# ----------------------------------------------------------------- whitening


def test_patches_match_a_valid_convolution():
    x = correlated_images(4)
    kernel = np.random.default_rng(1).normal(size=(2, 2, 3, 5)).astype(np.float32)
    by_patches = (fast.patches_2x2(x) @ kernel.reshape(12, 5)).reshape(4, 31, 31, 5)
    by_conv = ops.convert_to_numpy(ops.conv(x, kernel, padding="valid"))
    np.testing.assert_allclose(by_patches, by_conv, rtol=1e-4, atol=1e-4)


def test_whitening_really_whitens():
    x = correlated_images(64)
    eps = 1e-6
    k = fast.whitening_kernel(x, eps=eps)
    assert k.shape == (2, 2, 3, 24)
    np.testing.assert_array_equal(k[..., 12:], -k[..., :12])
    p = fast.patches_2x2(x).astype(np.float64)
    raw_cov = p.T @ p / len(p)
    assert (
        np.abs(raw_cov - np.diag(np.diag(raw_cov))).max() > 0.5
    )  # the patches are correlated
    z = p @ k[..., :12].reshape(12, 12).astype(np.float64)
    cov = z.T @ z / len(z)  # uncentred, as the kernel was built
    np.testing.assert_allclose(cov, np.eye(12), atol=1e-3)


def test_whitening_eps_shrinks_small_directions():
    x = correlated_images(16)
    k = fast.whitening_kernel(x, eps=5e-4)
    p = fast.patches_2x2(x).astype(np.float64)
    z = p @ k[..., :12].reshape(12, 12)
    variances = np.diag(z.T @ z / len(z))
    assert np.all(variances <= 1 + 1e-6) and np.all(
        np.diff(variances) <= 1e-9
    )  # largest eigenvalue first


def test_whitening_bad_input():
    with pytest.raises(ValueError, match="rank-4"):
        fast.whitening_kernel(np.zeros((32, 32, 3)))
    with pytest.raises(ValueError, match="eps must be positive"):
        fast.whitening_kernel(np.zeros((1, 32, 32, 3)), eps=0)
    with pytest.raises(ValueError, match="at least 2x2"):
        fast.patches_2x2(np.zeros((1, 1, 5, 3)))
    with pytest.raises(ValueError, match="real numbers"):
        fast.patches_2x2(np.zeros((1, 4, 4, 3), bool))
    with pytest.raises(ValueError, match="pass normalize"):  # raw uint8/uint16 images
        fast.whitening_kernel(np.zeros((2, 8, 8, 3), np.uint16))
    with pytest.raises(ValueError, match="empty batch"):  # used to divide by zero: NaNs
        fast.whitening_kernel(np.zeros((0, 8, 8, 3), np.float32))
    bad = np.zeros((2, 8, 8, 3), np.float32)
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fast.whitening_kernel(bad)


def test_patch_whitening_layer():
    x = correlated_images(2)
    layer = fast.PatchWhitening(24)
    layer.build((None, 32, 32, 3))
    k = fast.whitening_kernel(x)
    layer.set_kernel(k)
    layer.bias.assign(np.arange(24, dtype=np.float32))
    y = ops.convert_to_numpy(layer(x))
    expected = (fast.patches_2x2(x) @ k.reshape(12, 24)).reshape(
        2, 31, 31, 24
    ) + np.arange(24)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-3)
    assert [v.name for v in layer.trainable_weights] == ["bias"]  # the kernel is frozen
    with pytest.raises(ValueError, match="whitening kernel must have shape"):
        layer.set_kernel(np.zeros((3, 3, 3, 24)))
    with pytest.raises(ValueError, match="input channels"):
        fast.PatchWhitening(24).build((None, 32, 32, 1))
    with pytest.raises(ValueError, match="finite real"):
        layer.set_kernel(np.full(k.shape, np.nan))
    with pytest.raises(ValueError, match="from build_fast_model"):
        fast.variable_groups(
            keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        )


# ----------------------------------------------------------------- dirac init


def test_dirac_is_the_identity():
    x = np.random.default_rng(0).normal(size=(2, 9, 9, 6)).astype(np.float32)
    conv = keras.layers.Conv2D(
        6, 3, padding="same", use_bias=False, kernel_initializer=fast.DiracInit(0)
    )
    np.testing.assert_allclose(ops.convert_to_numpy(conv(x)), x, atol=1e-6)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(conv.kernel), fast.dirac_kernel((3, 3, 6, 6))
    )


def test_dirac_init_keeps_torch_default_for_extra_filters():
    k = ops.convert_to_numpy(fast.DiracInit(0)((3, 3, 4, 64)))
    np.testing.assert_array_equal(k[..., :4], fast.dirac_kernel((3, 3, 4, 4)))
    bound = 1 / np.sqrt(3 * 3 * 4)
    assert np.abs(k[..., 4:]).max() <= bound and np.abs(k[..., 4:]).max() > 0.9 * bound


def test_dirac_bad_shapes():
    with pytest.raises(ValueError, match="4 positive ints"):
        fast.dirac_kernel((3, 3, 4))
    with pytest.raises(ValueError, match="odd kernel sizes"):
        fast.dirac_kernel((2, 2, 4, 4))
    with pytest.raises(ValueError, match="4 positive ints"):
        fast.dirac_kernel((3, 3, 0, 4))


# ----------------------------------------------------------------- model


def test_model_shapes_and_layers():
    model = fast.build_fast_model(fast.FastConfig())
    assert model.output_shape == (None, 10)
    assert model.get_layer("whiten").output.shape[1:] == (31, 31, 24)
    assert [model.get_layer(f"g{g}_pool").output.shape[1] for g in (1, 2, 3)] == [
        15,
        7,
        3,
    ]
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    widths, c, expected = (64, 256, 256), 24, 24  # whitening bias
    for w in widths:
        expected += 9 * c * w + 9 * w * w + 2 * w  # two convs and two BN biases
        c = w
    expected += 256 * 10
    assert trainable == expected
    bn = model.get_layer("g1_bn1")
    assert bn.momentum == 0.6 and bn.epsilon == 1e-12 and bn.gamma is None
    groups = fast.variable_groups(model)
    assert len(groups["bn_bias"]) == 6


def test_gelu_is_exact():
    model = fast.build_fast_model(TINY)
    act = model.get_layer("g1_gelu1")
    x = np.linspace(-3, 3, 13).astype(np.float32)
    from math import erf

    exact = np.array([v * 0.5 * (1 + erf(v / np.sqrt(2))) for v in x])
    np.testing.assert_allclose(ops.convert_to_numpy(act(x)), exact, atol=1e-6)


# ------------------------------------------------------------ schedule and lookahead


def test_lr_schedule_values():
    s = fast.lr_schedule(476)
    assert s.shape == (477,)
    assert s[0] == pytest.approx(0.2) and s[-1] == pytest.approx(0.07)
    assert s[109] == pytest.approx(1.0) and s.max() == pytest.approx(1.0)
    assert np.all(np.diff(s[:110]) > 0) and np.all(np.diff(s[109:]) < 0)
    assert s[50] == pytest.approx(0.2 + 0.8 * 50 / 109)
    with pytest.raises(ValueError, match="total_steps"):
        fast.lr_schedule(1)
    with pytest.raises(ValueError, match="total_steps"):
        fast.lr_schedule(10.5)
    with pytest.raises(ValueError, match="warmup_frac"):
        fast.lr_schedule(10, warmup_frac=0)


def test_lookahead_decay_values():
    assert fast.lookahead_decay(0, 476) == 0
    assert fast.lookahead_decay(476, 476) == pytest.approx(0.95**5)
    assert fast.lookahead_decay(238, 476) == pytest.approx(0.95**5 / 8)
    with pytest.raises(ValueError, match="step must be"):
        fast.lookahead_decay(477, 476)
    with pytest.raises(ValueError, match="total_steps must be a positive int"):
        fast.lookahead_decay(0, 0)  # used to divide by zero


def test_lookahead_arithmetic():
    rng = np.random.default_rng(0)
    ema = [
        rng.normal(size=(3, 4)).astype(np.float32),
        rng.normal(size=(5,)).astype(np.float32),
    ]
    w = [
        rng.normal(size=(3, 4)).astype(np.float32),
        rng.normal(size=(5,)).astype(np.float32),
    ]
    new_ema, new_w = fast.lookahead_update(
        [ops.convert_to_tensor(e) for e in ema], w, 0.3
    )
    for a, b, e, x in zip(new_ema, new_w, ema, w):
        np.testing.assert_allclose(
            ops.convert_to_numpy(a), 0.3 * e + 0.7 * x, rtol=1e-6, atol=1e-6
        )
        np.testing.assert_array_equal(ops.convert_to_numpy(a), ops.convert_to_numpy(b))
    with pytest.raises(ValueError, match="one entry per variable"):
        fast.lookahead_update(ema, w[:1], 0.3)
    with pytest.raises(ValueError, match="decay must be in"):
        fast.lookahead_update(ema, w, 1.5)


# ----------------------------------------------------------------- loss and optimiser


def test_smoothed_cross_entropy_matches_keras():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(8, 10)).astype(np.float32)
    onehot = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 8)]
    ours = ops.convert_to_numpy(fast.smoothed_cross_entropy(logits, onehot, 0.2))
    ref = keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=0.2, reduction="sum"
    )
    np.testing.assert_allclose(
        ours, ops.convert_to_numpy(ref(onehot, logits)), rtol=1e-5
    )
    mean = ops.convert_to_numpy(
        fast.smoothed_cross_entropy(logits, onehot, 0.2, reduction="mean")
    )
    np.testing.assert_allclose(mean, ours / 8, rtol=1e-5)
    with pytest.raises(ValueError, match="reduction"):
        fast.smoothed_cross_entropy(logits, onehot, 0.2, reduction="none")
    with pytest.raises(ValueError, match="smoothing"):
        fast.smoothed_cross_entropy(logits, onehot, 1.0)
    with pytest.raises(ValueError, match=r"both be \(N, K\)"):
        fast.smoothed_cross_entropy(logits, onehot[:4], 0.2)


def test_nesterov_sgd_matches_pytorch_formula():
    rng = np.random.default_rng(0)
    w, g, b = (rng.normal(size=4).astype(np.float32) for _ in range(3))
    lr, l2, mu = 0.1, 0.5, 0.85
    (nw,), (nb,) = fast.nesterov_sgd(
        [ops.convert_to_tensor(w)], [g], [ops.convert_to_tensor(b)], [lr], [l2], mu
    )
    d = g + l2 * w
    buf = mu * b + d
    np.testing.assert_allclose(ops.convert_to_numpy(nb), buf, rtol=1e-6)
    np.testing.assert_allclose(
        ops.convert_to_numpy(nw), w - lr * (d + mu * buf), rtol=1e-6
    )
    with pytest.raises(
        ValueError, match="one entry per variable"
    ):  # zip used to truncate
        fast.nesterov_sgd([w, w], [g], [b, b], [lr, lr], [l2, l2], mu)
    with pytest.raises(ValueError, match="momentum"):
        fast.nesterov_sgd([w], [g], [b], [lr], [l2], 1.0)


# ----------------------------------------------------------------- augmentation


@pytest.mark.parametrize("pad", [1, 2])
def test_translate_matches_images_translate(pad):
    """One sign convention: positive dy/dx move the content down/right, as
    images.translate."""
    rng = np.random.default_rng(pad)
    x = rng.normal(size=(30, 8, 8, 2)).astype(np.float32)
    dy, dx = rng.integers(-pad, pad + 1, size=(2, 30))
    out = ops.convert_to_numpy(fast.translate(fast.reflect_pad(x, pad), dy, dx, pad))
    assert out.shape == x.shape
    for n in range(30):
        ref = images.translate(x[n : n + 1], int(dy[n]), int(dx[n]), mode="reflect")
        np.testing.assert_array_equal(out[n], ref[0])


def test_translate_moves_content_down_and_right():
    x = np.zeros((1, 5, 5, 1), np.float32)
    x[0, 2, 2, 0] = 1.0
    out = ops.convert_to_numpy(fast.translate(fast.reflect_pad(x, 2), [1], [2], 2))
    assert out[0, 3, 4, 0] == 1.0 and out[0, 2, 2, 0] == 0.0  # moved, not copied


def test_translate_bad_input():
    with pytest.raises(ValueError, match="rank 4"):
        fast.translate(np.zeros((8, 8, 3)), [0], [0], 2)
    with pytest.raises(ValueError, match="rank 4"):
        fast.reflect_pad(np.zeros((8, 8, 3)), 2)
    padded = np.zeros((2, 12, 12, 3), np.float32)
    with pytest.raises(ValueError, match=r"dy must lie in \[-2, 2\]"):
        fast.translate(
            padded, [3, 0], [0, 0], 2
        )  # used to keep the unshifted view silently
    with pytest.raises(ValueError, match="dx must be 2 ints"):
        fast.translate(padded, [0, 0], [0], 2)
    with pytest.raises(ValueError, match="dy must be 2 ints"):
        fast.translate(padded, [0.5, 0.0], [0, 0], 2)
    with pytest.raises(ValueError, match="pad must be an int"):
        fast.reflect_pad(np.zeros((1, 4, 4, 3)), 4)
    with pytest.raises(ValueError, match="pad must be an int"):
        fast.reflect_pad(np.zeros((1, 4, 4, 3)), -1)


def test_alternating_flip():
    base = np.random.default_rng(0).random(1000) < 0.5
    masks = [fast.alternating_flip_mask(base, e) for e in range(4)]
    np.testing.assert_array_equal(masks[0], base)
    np.testing.assert_array_equal(
        masks[1], ~base
    )  # every image changes orientation each epoch
    np.testing.assert_array_equal(masks[2], base)
    assert 0.45 < masks[0].mean() < 0.55
    x = np.arange(2 * 6 * 2, dtype=np.float32).reshape(2, 1, 6, 2)
    flipped = ops.convert_to_numpy(fast.flip_where(x, [True, False]))
    np.testing.assert_array_equal(flipped[0], x[0, :, ::-1])
    np.testing.assert_array_equal(flipped[1], x[1])
    with pytest.raises(ValueError, match="mask must be 2 bools"):
        fast.flip_where(x, [True])
    with pytest.raises(ValueError, match="mask must be 2 bools"):
        fast.flip_where(x, [1, 0])
    with pytest.raises(ValueError, match="1-D bool"):
        fast.alternating_flip_mask(np.array([0, 1]), 0)
    with pytest.raises(ValueError, match="epoch"):
        fast.alternating_flip_mask(base, -1)


# ----------------------------------------------------------------- TTA


def test_tta_weights():
    for level, views in [(0, 1), (1, 2), (2, 6)]:
        w = fast.tta_weights(level)
        assert len(w) == views and sum(w.values()) == pytest.approx(1.0)
    assert fast.tta_weights(2)[(True, -1, -1)] == 0.125
    with pytest.raises(ValueError, match="tta level"):
        fast.tta_weights(5)
    with pytest.raises(ValueError, match="tta level"):
        fast.tta_weights(1.0)


def test_tta_averaging_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 6, 6, 2)).astype(np.float32)
    proj = rng.normal(size=(6 * 6 * 2, 4)).astype(np.float32)

    def predict_np(v):
        return v.reshape(len(v), -1) @ proj

    def predict(v):
        return ops.matmul(ops.reshape(v, (v.shape[0], -1)), proj)

    expected = 0
    for (flipped, dy, dx), wgt in fast.tta_weights(2).items():
        view = images.translate(x, dy, dx, mode="reflect")
        expected = expected + wgt * predict_np(view[:, :, ::-1] if flipped else view)
    with pytest.raises(ValueError, match="rank 4"):
        fast.tta_logits(predict, x[0], 1)
    with pytest.raises(ValueError, match="tta level"):
        fast.tta_logits(predict, x, 3)
    got = ops.convert_to_numpy(fast.tta_logits(predict, x, 2))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        ops.convert_to_numpy(fast.tta_logits(predict, x, 0)),
        predict_np(x),
        rtol=1e-4,
        atol=1e-4,
    )


# -------------------------------------------------------------------- normalisation


def test_normalize_and_errors():
    x = np.full((1, 2, 2, 3), 255, np.uint8)
    np.testing.assert_allclose(
        fast.normalize(x)[0, 0, 0], (1 - fast.CIFAR_MEAN) / fast.CIFAR_STD, rtol=1e-6
    )
    assert fast.normalize(np.zeros((0, 2, 2, 3), np.uint8)).shape == (0, 2, 2, 3)
    for dtype in (
        np.float32,
        np.uint16,
        np.int64,
    ):  # float 0..255 too: never normalise twice
        with pytest.raises(ValueError, match="uint8"):
            fast.normalize(x.astype(dtype))
    with pytest.raises(ValueError, match="real numbers"):
        fast.normalize(x.astype(bool))
    with pytest.raises(ValueError, match="rank-4"):
        fast.normalize(x[0])
    with pytest.raises(ValueError, match="3 channels"):
        fast.normalize(np.zeros((1, 2, 2, 1), np.uint8))


def test_normalize_batch_matches_the_numpy_reference():
    x = np.random.default_rng(3).integers(0, 256, size=(4, 5, 6, 3)).astype(np.uint8)
    x[0, 0, 0] = (0, 128, 255)  # both ends of the range
    got = ops.convert_to_numpy(fast.normalize_batch(ops.convert_to_tensor(x)))
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_allclose(got, fast.normalize(x), rtol=1e-5, atol=1e-5)
    half = fast.normalize_batch(ops.convert_to_tensor(x), "bfloat16")
    assert keras.backend.standardize_dtype(half.dtype) == "bfloat16"
    np.testing.assert_allclose(
        ops.convert_to_numpy(ops.cast(half, "float32")), fast.normalize(x), atol=0.02
    )
    with pytest.raises(ValueError, match="uint8"):  # already normalised: refused
        fast.normalize_batch(ops.convert_to_tensor(fast.normalize(x)))
    with pytest.raises(ValueError, match="3 channels|channels"):
        fast.normalize_batch(ops.zeros((1, 2, 2, 1), "uint8"))
    with pytest.raises(ValueError, match="rank 4"):
        fast.normalize_batch(ops.zeros((2, 2, 3), "uint8"))


def test_to_device_keeps_uint8():
    trainer = fast.FastTrainer(
        fast.FastConfig(widths=(4, 4, 4), batch_size=8, whiten_samples=8),
        precision="float32",
        jit=False,
    )
    x = np.random.default_rng(0).integers(0, 256, size=(10, 32, 32, 3), dtype=np.uint8)
    xd, yd = trainer.to_device(x, np.arange(10) % 10)
    assert keras.backend.standardize_dtype(xd.dtype) == "uint8"
    np.testing.assert_array_equal(ops.convert_to_numpy(xd), x)
    assert ops.convert_to_numpy(yd).shape == (10, 10)


@pytest.mark.parametrize("pad", [0, 1, 2])
def test_crop_flip_shuffle_equals_the_readable_composition(pad):
    rng = np.random.default_rng(pad)
    n = 37
    x = rng.integers(0, 256, size=(n, 8, 8, 3)).astype(np.uint8)
    padded = fast.reflect_pad(ops.convert_to_tensor(x), pad)
    dy, dx = rng.integers(-pad, pad + 1, size=(2, n))
    flip, order = rng.random(n) < 0.5, rng.permutation(n)
    readable = ops.take(
        fast.flip_where(fast.translate(padded, dy, dx, pad), flip), order, axis=0
    )
    fast_way = fast.crop_flip_shuffle(padded, dy, dx, flip, order, pad)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(fast_way), ops.convert_to_numpy(readable)
    )
    assert keras.backend.standardize_dtype(fast_way.dtype) == "uint8"


def test_crop_flip_shuffle_errors():
    padded = ops.zeros((3, 8, 8, 3), "uint8")
    ok = dict(dy=[0, 1, -1], dx=[0, 0, 1], flip=np.zeros(3, bool), order=[2, 0, 1])
    fast.crop_flip_shuffle(padded, pad=1, **ok)
    bad = [
        ({"dy": [0, 2, 0]}, "dy must lie in"),
        ({"dx": [0, 0]}, "dx must be 3 ints"),
        ({"flip": [1, 0, 1]}, "flip must be 3 bools"),
        ({"order": [0, 0, 1]}, "permutation"),
    ]
    for change, message in bad:
        with pytest.raises(ValueError, match=message):
            fast.crop_flip_shuffle(padded, pad=1, **{**ok, **change})
    with pytest.raises(ValueError, match="pad must be"):
        fast.crop_flip_shuffle(padded, pad=4, **ok)
    with pytest.raises(ValueError, match="rank 4"):
        fast.crop_flip_shuffle(padded[0], pad=1, **ok)
