"""Tests for utils.losses (chapter 6): values, agreement with keras.losses, and every
bad input."""

import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras
import numpy as np
import pytest

from utils import losses as L

RNG = np.random.default_rng(0)
N, K = 6, 5
LOGITS = (RNG.normal(size=(N, K)) * 3).astype(np.float32)
LABELS = RNG.integers(0, K, size=N)
ONEHOT = np.eye(K, dtype=np.float32)[LABELS]
PROBS = L.softmax(LOGITS.astype(np.float64)).astype(np.float32)
F32 = dict(rtol=1e-5, atol=1e-6)


def k(loss, *args):
    return np.asarray(keras.ops.convert_to_numpy(loss(*args)))


# ------------------------------------------------------------------------ stable pieces


def test_log_sum_exp_matches_definition_and_survives_large_logits():
    z = RNG.normal(size=(4, 7))
    np.testing.assert_allclose(L.log_sum_exp(z), np.log(np.exp(z).sum(-1)), rtol=1e-12)
    big = np.array([[1000.0, 1000.0]], dtype=np.float32)
    np.testing.assert_allclose(L.log_sum_exp(big), [1000 + math.log(2)], rtol=1e-6)
    assert L.log_sum_exp(z, keepdims=True).shape == (4, 1)
    assert L.log_sum_exp(np.full((1, 3), -np.inf))[0] == -np.inf


def test_softmax_and_log_softmax_match_keras():
    np.testing.assert_allclose(
        L.softmax(LOGITS), keras.ops.convert_to_numpy(keras.ops.softmax(LOGITS)), **F32
    )
    np.testing.assert_allclose(
        L.log_softmax(LOGITS),
        keras.ops.convert_to_numpy(keras.ops.log_softmax(LOGITS)),
        **F32,
    )
    np.testing.assert_allclose(L.softmax(LOGITS).sum(-1), 1, rtol=1e-6)


def test_naive_log_softmax_breaks_where_stable_one_does_not():
    z = np.array([[100.0, 0.0, -100.0]], dtype=np.float32)
    naive = L.naive_log_softmax(z)
    assert np.isnan(naive[0, 0]) and np.isneginf(naive[0, 2])
    assert np.all(np.isfinite(L.log_softmax(z)))


def test_sigmoid_and_softplus_are_stable():
    z = np.array([-1000.0, -2.0, 0.0, 3.0, 1000.0])
    np.testing.assert_allclose(
        L.sigmoid(z), [0, 1 / (1 + math.e**2), 0.5, 1 / (1 + math.e**-3), 1], atol=1e-12
    )
    np.testing.assert_allclose(
        L.softplus(z),
        [0, math.log1p(math.e**-2), math.log(2), 3 + math.log1p(math.e**-3), 1000],
    )


# --------------------------------------------------------------------------- regression


@pytest.mark.parametrize(
    "reduction", ["sum_over_batch_size", "sum", "none", None, "mean"]
)
def test_regression_losses_match_keras(reduction):
    a = RNG.normal(size=(3, 4, 4, 2)).astype(np.float32)
    b = (a + RNG.normal(size=a.shape) * 1.5).astype(np.float32)
    pairs = [
        (L.mean_squared_error, keras.losses.MeanSquaredError(reduction=reduction)),
        (L.mean_absolute_error, keras.losses.MeanAbsoluteError(reduction=reduction)),
        (
            lambda t, p, reduction: L.huber(t, p, delta=0.7, reduction=reduction),
            keras.losses.Huber(delta=0.7, reduction=reduction),
        ),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(
            ours(a, b, reduction=reduction), k(theirs, a, b), **F32
        )


def test_reduce_divides_by_number_of_elements():
    v = np.arange(12.0).reshape(3, 4)
    assert L.reduce(v) == v.mean() and L.reduce(v, "sum") == v.sum()
    assert L.reduce(v, None) is not None and L.reduce(v, "none").shape == (3, 4)


# ------------------------------------------------------------- cross-entropies vs Keras


@pytest.mark.parametrize("ls", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none"])
def test_categorical_crossentropy_matches_keras(ls, reduction):
    for from_logits, pred in [(True, LOGITS), (False, PROBS)]:
        theirs = keras.losses.CategoricalCrossentropy(
            from_logits=from_logits, label_smoothing=ls, reduction=reduction
        )
        ours = L.categorical_crossentropy(
            ONEHOT,
            pred,
            from_logits=from_logits,
            label_smoothing=ls,
            reduction=reduction,
        )
        np.testing.assert_allclose(ours, k(theirs, ONEHOT, pred), **F32)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none"])
def test_sparse_categorical_crossentropy_matches_keras_with_both_label_shapes(
    reduction,
):
    for from_logits, pred in [(True, LOGITS), (False, PROBS)]:
        theirs = keras.losses.SparseCategoricalCrossentropy(
            from_logits=from_logits, reduction=reduction
        )
        for labels in (LABELS, LABELS[:, None]):
            ours = L.sparse_categorical_crossentropy(
                labels, pred, from_logits=from_logits, reduction=reduction
            )
            np.testing.assert_allclose(ours, k(theirs, labels, pred), **F32)


def test_sparse_equals_categorical_with_one_hot():
    np.testing.assert_allclose(
        L.sparse_categorical_crossentropy(LABELS, LOGITS, from_logits=True),
        L.categorical_crossentropy(ONEHOT, LOGITS, from_logits=True),
        rtol=1e-6,
    )


@pytest.mark.parametrize("ls", [0.0, 0.2])
def test_binary_crossentropy_matches_keras_including_soft_targets(ls):
    z = (RNG.normal(size=(4, 3)) * 4).astype(np.float32)
    y = RNG.uniform(size=(4, 3)).astype(np.float32)
    y[0] = [0, 1, 1]
    for from_logits, pred in [(True, z), (False, L.sigmoid(z).astype(np.float32))]:
        theirs = keras.losses.BinaryCrossentropy(
            from_logits=from_logits, label_smoothing=ls
        )
        ours = L.binary_crossentropy(
            y, pred, from_logits=from_logits, label_smoothing=ls
        )
        np.testing.assert_allclose(ours, k(theirs, y, pred), **F32)


def test_clipping_matches_keras_for_zero_and_one_probabilities():
    y = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)
    p = np.array([[0.0, 1.0, 0.0]], dtype=np.float32)
    ours = L.categorical_crossentropy(y, p)
    np.testing.assert_allclose(
        ours, k(keras.losses.CategoricalCrossentropy(), y, p), rtol=1e-6
    )
    np.testing.assert_allclose(ours, -math.log(1e-7), rtol=1e-6)
    # BCE at p = 1 for y = 0: float32 clips to 1 - 2**-23, so the cost is -log(2**-23),
    # not -log(1e-7)
    bce = L.binary_crossentropy(
        np.zeros((1, 1), np.float32), np.ones((1, 1), np.float32)
    )
    np.testing.assert_allclose(
        bce,
        k(
            keras.losses.BinaryCrossentropy(),
            np.zeros((1, 1)),
            np.ones((1, 1), np.float32),
        ),
        rtol=1e-6,
    )
    np.testing.assert_allclose(bce, 23 * math.log(2), rtol=1e-6)


def test_per_pixel_sparse_crossentropy_matches_keras():
    logits = RNG.normal(size=(2, 5, 5, 3)).astype(np.float32)
    mask = RNG.integers(0, 3, size=(2, 5, 5))
    np.testing.assert_allclose(
        L.sparse_categorical_crossentropy(mask, logits, from_logits=True),
        k(keras.losses.SparseCategoricalCrossentropy(from_logits=True), mask, logits),
        **F32,
    )


# -------------------------------------------------------- dice, smoothing, closed forms


def test_dice_matches_keras_pooled_and_per_image():
    y = (RNG.uniform(size=(2, 6, 6, 1)) > 0.6).astype(np.float32)
    p = RNG.uniform(size=(2, 6, 6, 1)).astype(np.float32)
    np.testing.assert_allclose(L.dice_loss(y, p), k(keras.losses.Dice(), y, p), **F32)
    np.testing.assert_allclose(
        L.dice_loss(y, p, axis=(1, 2, 3), reduction=None),
        k(keras.losses.Dice(axis=(1, 2, 3), reduction=None), y, p),
        **F32,
    )
    assert L.dice_loss(y, y) < 1e-6


def test_smooth_labels_and_optimum():
    y = np.eye(4)[[0, 3]]
    s = L.smooth_labels(y, 0.2)
    np.testing.assert_allclose(s.sum(-1), 1)
    np.testing.assert_allclose(s[0], [0.85, 0.05, 0.05, 0.05])
    p, gap = L.smoothed_optimum(4, 0.2)
    assert p == pytest.approx(0.85) and gap == pytest.approx(math.log(17))
    assert L.smoothed_optimum(4, 0.0)[1] == math.inf


def test_double_softmax_floor_is_reached_by_one_hot_probabilities():
    floor = L.double_softmax_floor(10)
    assert floor == pytest.approx(math.log(1 + 9 / math.e)) and floor == pytest.approx(
        1.4612, abs=1e-4
    )
    onehot = np.eye(10)[[3]]
    assert L.sparse_categorical_crossentropy(
        [3], onehot, from_logits=True
    ) == pytest.approx(floor)
    others = L.softmax(RNG.normal(size=(50, 10)) * 5)
    assert np.all(
        L.sparse_categorical_crossentropy(
            RNG.integers(0, 10, 50), others, from_logits=True, reduction=None
        )
        > floor
    )


@pytest.mark.parametrize("double", [False, True])
def test_logit_gradient_matches_tensorflow(double):
    import tensorflow as tf

    z = tf.constant(LOGITS.astype(np.float64))
    with tf.GradientTape() as tape:
        tape.watch(z)
        inp = tf.nn.softmax(z) if double else z
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=LABELS, logits=inp)
        )
    np.testing.assert_allclose(
        L.cross_entropy_logit_grad(
            LOGITS.astype(np.float64), LABELS, double_softmax=double
        ),
        tape.gradient(loss, z).numpy(),
        rtol=1e-10,
        atol=1e-14,
    )


# --------------------------------------------------------------------------- bad input


def test_shape_mismatch_is_rejected():
    with pytest.raises(
        ValueError, match=r"y_true has shape \(6, 4\) but y_pred has shape \(6, 5\)"
    ):
        L.categorical_crossentropy(ONEHOT[:, :4], PROBS)
    with pytest.raises(ValueError, match="use sparse_categorical_crossentropy"):
        L.categorical_crossentropy(LABELS, PROBS)
    with pytest.raises(ValueError, match="must be equal"):
        L.mean_squared_error(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="must be equal"):
        L.binary_crossentropy(np.zeros((2, 1)), np.zeros((2,)))
    with pytest.raises(ValueError, match="must be equal"):
        L.dice_loss(np.zeros((1, 4, 4, 1)), np.zeros((1, 4, 4, 2)))


def test_sparse_labels_of_wrong_shape_or_rank_are_rejected():
    with pytest.raises(ValueError, match=r"expected labels of shape \(6,\)"):
        L.sparse_categorical_crossentropy(LABELS[:4], LOGITS, from_logits=True)
    with pytest.raises(
        ValueError, match="One-hot targets need categorical_crossentropy"
    ):
        L.sparse_categorical_crossentropy(ONEHOT, LOGITS, from_logits=True)


def test_labels_out_of_range_or_not_integers_are_rejected():
    with pytest.raises(
        ValueError, match=r"must be in \[0, 4\] for 5 classes, got values from 0 to 5"
    ):
        L.sparse_categorical_crossentropy(
            np.array([0, 1, 2, 3, 4, 5]), LOGITS, from_logits=True
        )
    with pytest.raises(ValueError, match="must be in"):
        L.sparse_categorical_crossentropy(
            np.array([-1, 1, 2, 3, 4, 0]), LOGITS, from_logits=True
        )
    with pytest.raises(ValueError, match="whole numbers"):
        L.sparse_categorical_crossentropy(
            np.array([0.5, 1, 2, 3, 4, 0]), LOGITS, from_logits=True
        )
    with pytest.raises(ValueError, match="must be integers"):
        L.sparse_categorical_crossentropy(
            np.array(list("abcdef")), LOGITS, from_logits=True
        )
    with pytest.raises(ValueError, match="must be in"):
        L.one_hot([3], 3)


def test_probabilities_outside_unit_interval_are_rejected_with_a_logits_hint():
    for fn, y in [
        (L.categorical_crossentropy, ONEHOT),
        (L.binary_crossentropy, ONEHOT),
    ]:
        with pytest.raises(ValueError, match="pass from_logits=True"):
            fn(y, LOGITS)
    with pytest.raises(ValueError, match="pass from_logits=True"):
        L.sparse_categorical_crossentropy(LABELS, LOGITS)
    with pytest.raises(ValueError, match="NaN"):
        L.sparse_categorical_crossentropy(LABELS, np.full((N, K), np.nan))
    with pytest.raises(ValueError, match="y_true must hold probabilities"):
        L.binary_crossentropy(np.full((2, 2), 2.0), np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="sums to 0"):
        L.categorical_crossentropy(np.eye(3)[[0]], np.zeros((1, 3)))


def test_wrong_ranks_and_class_counts_are_rejected():
    with pytest.raises(ValueError, match="rank >= 1"):
        L.mean_squared_error(1.0, 2.0)
    with pytest.raises(ValueError, match="rank >= 1"):
        L.sparse_categorical_crossentropy(0, 0.5)
    with pytest.raises(ValueError, match="at least 2"):
        L.categorical_crossentropy(np.ones((3, 1)), np.ones((3, 1)))
    with pytest.raises(ValueError, match="at least 2"):
        L.sparse_categorical_crossentropy([0, 0], np.ones((2, 1)))
    with pytest.raises(ValueError, match=r"rank 2 \(batch, classes\)"):
        L.cross_entropy_logit_grad(np.zeros(3), [0])
    with pytest.raises(ValueError, match="out of range"):
        L.dice_loss(np.zeros((1, 2, 2, 1)), np.zeros((1, 2, 2, 1)), axis=(1, 4))


def test_unknown_reduction_and_bad_parameters_are_rejected():
    with pytest.raises(ValueError, match="unknown reduction 'avg'"):
        L.mean_squared_error(np.zeros((2, 2)), np.zeros((2, 2)), reduction="avg")
    with pytest.raises(ValueError, match="unknown reduction"):
        L.sparse_categorical_crossentropy(
            LABELS, LOGITS, from_logits=True, reduction="batch"
        )
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\]"):
        L.categorical_crossentropy(ONEHOT, PROBS, label_smoothing=1.5)
    with pytest.raises(ValueError, match="delta must be > 0"):
        L.huber(np.zeros((1, 1)), np.zeros((1, 1)), delta=0)
    with pytest.raises(ValueError, match="num_classes must be an int >= 2"):
        L.double_softmax_floor(1)
    with pytest.raises(ValueError, match="num_classes must be an int >= 2"):
        L.smoothed_optimum(1.5, 0.1)
    with pytest.raises(ValueError, match="real numbers"):
        L.mean_squared_error(np.array(["a"]), np.array(["b"]))
    with pytest.raises(ValueError, match="bool array"):
        L.binary_crossentropy(np.array([[True]]), np.array([[0.5]]))


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: L.huber(np.ones((1, 3)), np.ones((1, 3)), delta="a"), "delta"),
        (lambda: L.dice_loss(np.ones((1, 2)), np.ones((1, 2)), axis="a"), "axis"),
        (lambda: L.smooth_labels(np.eye(3), "a"), "label_smoothing"),
        (lambda: L.log_softmax(1.0), "z must have rank"),  # said "y_pred"
    ],
)
def test_audit_bad_input_gives_one_clear_valueerror(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_logit_grad_accepts_whole_number_float_labels_like_the_sparse_loss():
    z = RNG.normal(size=(4, 5))
    np.testing.assert_allclose(
        L.cross_entropy_logit_grad(z, np.array([0.0, 1.0, 4.0, 2.0])),
        L.cross_entropy_logit_grad(z, np.array([0, 1, 4, 2])),
    )


def test_reduce_refuses_non_numbers():
    # was a TypeError from NumPy's add.reduce on strings
    with pytest.raises(ValueError, match="values must hold real numbers"):
        L.reduce(np.array(["a", "b"]))
