"""utils/calibration.py (chapter 12): ECE and MCE by hand, temperature, bad input."""

import numpy as np
import pytest

from utils.calibration import (
    expected_calibration_error,
    fit_temperature,
    maximum_calibration_error,
    reliability_bins,
    temperature_nll,
)
from utils.nn import softmax


def two_class(conf, correct):
    """Probabilities (N, 2) with max ``conf``; label 0 when correct, else 1."""
    conf = np.asarray(conf, dtype=np.float64)
    probs = np.stack([conf, 1 - conf], axis=1)
    labels = np.where(np.asarray(correct), 0, 1)
    return probs, labels


def test_perfectly_calibrated_case_has_zero_ece():
    # 10 predictions at confidence 0.9, 9 right; 10 at 0.6, 6 right
    probs, labels = two_class(
        [0.9] * 10 + [0.6] * 10, [1] * 9 + [0] + [1] * 6 + [0] * 4
    )
    assert expected_calibration_error(probs, labels) == pytest.approx(0.0, abs=1e-12)
    assert maximum_calibration_error(probs, labels) == pytest.approx(0.0, abs=1e-12)


def test_overconfident_case_by_hand():
    # 4 at 0.95 (2 right: gap 0.45), 6 at 0.55 (6 right: gap 0.45 the other way)
    probs, labels = two_class([0.95] * 4 + [0.55] * 6, [1, 1, 0, 0] + [1] * 6)
    assert expected_calibration_error(probs, labels, 10) == pytest.approx(0.45)
    # one bin only: |acc - conf| = |0.8 - 0.71| over everything
    assert expected_calibration_error(probs, labels, 1) == pytest.approx(0.09)
    assert maximum_calibration_error(probs, labels, 10) == pytest.approx(0.45)


def test_bins_are_right_closed_and_first_bin_takes_zero():
    probs = np.array([[0.5, 0.5], [0.6, 0.4], [0.7, 0.3], [1.0, 0.0]])
    bins = reliability_bins(probs, [0, 0, 1, 0], n_bins=10)
    # 0.5 sits in (0.4, 0.5], 0.6 in (0.5, 0.6], 0.7 in (0.6, 0.7], 1.0 in (0.9, 1]
    assert bins.count.tolist() == [0, 0, 0, 0, 1, 1, 1, 0, 0, 1]
    np.testing.assert_allclose(bins.accuracy[[4, 5, 6, 9]], [1, 1, 0, 1])
    assert np.isnan(bins.confidence[0]) and bins.edges[-1] == 1.0
    zero = reliability_bins(np.array([[0.0, 1.0], [1.0, 0.0]]), [1, 1], 5)
    assert zero.count.sum() == 2


def test_ece_matches_an_independent_loop():
    rng = np.random.default_rng(0)
    probs = softmax(rng.standard_normal((500, 10)) * 3)
    labels = rng.integers(0, 10, 500)
    conf, pred = probs.max(1), probs.argmax(1)
    ece = 0.0
    for lo, hi in zip(np.linspace(0, 1, 16)[:-1], np.linspace(0, 1, 16)[1:]):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            gap = abs((pred[inside] == labels[inside]).mean() - conf[inside].mean())
            ece += inside.mean() * gap
    assert expected_calibration_error(probs, labels[:, None]) == pytest.approx(ece)


def test_temperature_nll_and_fit_match_scipy():
    scipy_opt = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 5, 400)
    logits = rng.standard_normal((400, 5))
    logits[np.arange(400), labels] += 1.0
    logits *= 4.0  # over-confident: the fitted T must be > 1
    t = fit_temperature(logits, labels)
    ref = scipy_opt.minimize_scalar(
        lambda b: temperature_nll(logits, labels, 1 / b),
        bounds=(1 / 20, 1 / 0.05),
        method="bounded",
        options=dict(xatol=1e-9),
    )
    assert t > 1.5
    assert t == pytest.approx(1 / ref.x, rel=1e-4)
    assert temperature_nll(logits, labels, t) <= temperature_nll(logits, labels, 1.0)
    # the arg-max, hence the accuracy, is the same at every temperature
    assert (softmax(logits / t).argmax(1) == logits.argmax(1)).all()


def test_temperature_nll_equals_keras():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((50, 4)).astype(np.float32)
    labels = rng.integers(0, 4, 50)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    expected = float(loss(labels, logits / 2.5))
    assert temperature_nll(logits, labels, 2.5) == pytest.approx(expected, rel=1e-5)


def test_fit_returns_a_bound_when_the_minimum_is_outside():
    logits = np.array([[5.0, 0.0], [6.0, 0.0]])
    # always right: the NLL keeps falling as T shrinks, so the lower bound wins
    assert fit_temperature(logits, [0, 0], low=0.5, high=4.0) == pytest.approx(
        0.5, rel=1e-4
    )


@pytest.mark.parametrize(
    "probs, labels, n_bins, match",
    [
        (np.ones((3,)), [0, 0, 0], 15, r"\(N, K\)"),
        (np.full((2, 2), 0.7), [0, 1], 15, "sum to 1"),
        (np.array([[1.5, -0.5]]), [0], 15, r"\[0, 1\]"),
        (np.array([[np.nan, 1.0]]), [0], 15, "1 NaN"),
        (np.full((2, 2), 0.5), [0, 2], 15, r"in \[0, 1\] for 2 classes.*from 0 to 2"),
        (np.full((2, 2), 0.5), [0.0, 1.0], 15, "integer class indices"),
        (np.full((2, 2), 0.5), [0, 1, 1], 15, "class indices"),
        (np.full((2, 2), 0.5), [0, 1], 0, "n_bins"),
        (np.full((2, 2), 0.5), [0, 1], 2.0, "n_bins"),
    ],
)
def test_bad_bins_input(probs, labels, n_bins, match):
    with pytest.raises(ValueError, match=match):
        expected_calibration_error(probs, labels, n_bins)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(low=0.0), "low"),
        (dict(low=2.0, high=1.0), "high"),
        (dict(tol=0.0), "tol"),
    ],
)
def test_bad_fit_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_temperature(np.zeros((2, 2)), [0, 1], **kwargs)


@pytest.mark.parametrize("t", [0.0, -1.0, float("inf"), True])
def test_bad_temperature(t):
    with pytest.raises(ValueError, match="temperature"):
        temperature_nll(np.zeros((2, 2)), [0, 1], t)


def test_bad_logits_and_labels_for_nll():
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        temperature_nll(np.zeros(3), [0, 1, 1], 1.0)
    with pytest.raises(ValueError):
        fit_temperature(np.zeros((2, 2)), [0, 5])


def test_brier_score_by_hand_and_the_reliability_diagram():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from utils import calibration as cal

    p = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.3]])
    # right and certain: 0; wrong and certain: 2; 0.3^2 + 0.3^2 = 0.18
    assert cal.brier_score(p, [0, 0, 0]) == pytest.approx((0 + 2 + 0.18) / 3)
    probs = np.array([[0.95, 0.05]] * 4 + [[0.55, 0.45]] * 4)
    labels = [0, 1, 1, 1, 0, 0, 0, 0]  # over-confident at 0.95, under at 0.55
    fig, ax = plt.subplots()
    bins = cal.plot_reliability(ax, probs, labels, n_bins=10, title="t")
    assert bins.count.sum() == 8
    legend = [c.get_label() for c in ax.containers]
    assert legend == ["accuracy", "gap: over-confident", "gap: under-confident"]
    over, under = ax.containers[1], ax.containers[2]
    assert len(over.patches) == 1 and len(under.patches) == 1
    assert over.patches[0].get_height() == pytest.approx(0.95 - 0.25)
    assert under.patches[0].get_height() == pytest.approx(0.55 - 1.0)
    plt.close(fig)
    # over-confident everywhere: no under-confident bars, hence no legend entry for them
    fig, ax = plt.subplots()
    cal.plot_reliability(ax, probs[:4], labels[:4], n_bins=10)
    assert [c.get_label() for c in ax.containers] == ["accuracy", "gap: over-confident"]
    plt.close(fig)
    with pytest.raises(ValueError):
        cal.brier_score(p, [0, 0])
