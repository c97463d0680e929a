"""The package's input contract (issue 25): layouts, value domains, NaN and empty input.

Two parts. First, one test per failure of the bug hunt of 2026-12
(``shared/reviews/bug-hunt-2026-12.md``), named after its id (``test_f1_...``): each
snippet of the log now gives the right value or a clear ``ValueError``. Second,
property-based tests (hypothesis) of the shared checks in :mod:`utils.shapes` and of the
policy across the package: a NaN, an infinity or an empty array is refused by name,
boxes are never reshaped into place, channels-first batches are caught, and value
domains (probabilities, alpha-bars, class indices, covariances) are enforced.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from utils import attribution as A
from utils import boxes as B
from utils import calibration as C
from utils import det_data as DD
from utils import detection_metrics as DM
from utils import diffusion as D
from utils import images, losses, optim, pool, segmentation, shapes, transfer
from utils import normalization as N
from utils import sample_quality as Q
from utils.gradcheck import rel_error

ROOT = Path(__file__).resolve().parent.parent
FAST = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture(scope="module")
def tiny_net():
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, name="c1"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3),
        ]
    )


# =========================================================== the bug hunt's failures


def test_f1_match_detections_refuses_boxes_with_a_class_column():
    gt5 = np.array(
        [
            [0, 0, 10, 10, 7],
            [20, 20, 30, 30, 7],
            [40, 40, 50, 50, 7],
            [60, 60, 70, 70, 7],
        ],
        float,
    )
    for gt in (gt5, gt5[:2]):  # (4, 5) was read as 5 wrong boxes, (2, 5) crashed
        with pytest.raises(ValueError, match=r"\(K, 4\).*gt_boxes\[\.\.\., :4\]"):
            DM.match_detections([[20, 20, 30, 30]], [0.9], gt)
    assert DM.match_detections([[20, 20, 30, 30]], [0.9], gt5[:, :4])[1].tolist() == [
        True
    ]
    with pytest.raises(ValueError, match="pred_boxes"):
        DM.match_detections(np.zeros((1, 5)), [0.9], gt5[:, :4])
    det = [(np.zeros((1, 5)), np.ones(1), np.zeros(1, int))]
    with pytest.raises(ValueError, match=r"detections\[0\] boxes"):
        DM.mean_average_precision(det, [(gt5[:, :4], np.zeros(4, int))], 1)


def test_f2_q_sample_checks_abar_and_p_sample_step_checks_betas():
    betas = D.linear_beta_schedule(1000)
    abar = D.alpha_bars(betas)
    x0, eps = np.ones((1, 1)), np.zeros((1, 1))
    assert D.q_sample(x0, 500, abar, eps).item() == pytest.approx(np.sqrt(abar[500]))
    with pytest.raises(ValueError, match="looks like a beta schedule.*alpha_bars"):
        D.q_sample(x0, 500, betas, eps)
    with pytest.raises(ValueError, match=r"abar must lie in \(0, 1\].*1\.5"):
        D.q_sample(x0, 0, np.array([1.5]), eps)
    with pytest.raises(ValueError, match="like alpha-bars"):
        D.p_sample_step(x0, eps, 3, abar, eps)


def test_f3_nan_scores_are_refused_everywhere():
    with pytest.raises(ValueError, match="scores holds 1 NaN"):
        B.nms([[0, 0, 10, 10], [20, 20, 30, 30]], [np.nan, 0.5])
    with pytest.raises(ValueError, match="pred_scores holds 1 NaN"):
        DM.match_detections(
            [[0, 0, 10, 10], [20, 20, 30, 30]], [np.nan, 0.9], [[0] * 4]
        )
    with pytest.raises(ValueError, match="scores holds 1 NaN"):
        DM.precision_recall([np.nan, 0.5], np.array([True, False]), 1)
    dets = [(np.array([[0, 0, 10, 10]]), np.array([np.nan]), np.array([0]))]
    with pytest.raises(ValueError, match=r"detections\[0\] scores holds 1 NaN"):
        DM.mean_average_precision(
            dets, [(np.array([[0, 0, 10, 10]]), np.array([0]))], 1
        )
    with pytest.raises(ValueError, match="precision holds 1 NaN"):
        DM.average_precision([np.nan, 1.0], [0.5, 1.0])


def test_f4_frechet_distance_refuses_covariances_that_are_not_psd():
    with pytest.raises(ValueError, match="cov1 is not positive semi-definite.*-4"):
        Q.frechet_distance(np.zeros(2), np.diag([1.0, -4.0]), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="cov1 is not positive semi-definite"):
        Q.frechet_distance([0.0], [[-1.0]], [0.0], [[1.0]])
    with pytest.raises(ValueError, match="cov2 is not positive semi-definite"):
        Q.frechet_distance([0.0], [[1.0]], [0.0], [[-1.0]])
    # round-off below the tolerance still passes and gives the exact answer
    near = np.diag([1.0, -1e-12])
    assert Q.frechet_distance(np.zeros(2), near, np.zeros(2), near) == pytest.approx(0)


def test_f6_class_indices_are_range_checked_before_tf_gather(tiny_net):
    x = np.zeros((2, 8, 8, 3), np.float32)
    with pytest.raises(ValueError, match=r"in \[0, 2\] for 3 classes.*from 0 to 7"):
        A.input_gradients(tiny_net, x, [0, 7])
    with pytest.raises(
        ValueError, match=r"classes must be class indices that are >= 0"
    ):
        A.grad_cam_inputs(tiny_net, "c1", x, [0, -1])
    with pytest.raises(ValueError, match="integer class indices"):
        A.input_gradients(tiny_net, x, [True, False])
    assert A.input_gradients(tiny_net, x, [0, 2]).shape == x.shape


def test_f7_composite_detection_set_reads_the_scale_from_the_dtype():
    rng = np.random.default_rng(0)
    imgs = rng.uniform(0, 1, (4, 32, 32, 3)).astype(np.float32)
    lab = np.arange(4)
    over = imgs.copy()
    over[0, 0, 0, 0] = 1.0001  # a bicubic-resize overshoot
    xa, ba, _ = DD.composite_detection_set(imgs, lab, 1, seed=1)
    xb, _, _ = DD.composite_detection_set(over, lab, 1, seed=1)
    np.testing.assert_allclose(xa, xb, atol=1e-6)  # was near black (0.499 -> 0.002)
    as_uint8 = (imgs * 255).round().astype(np.uint8)
    xu, _, _ = DD.composite_detection_set(as_uint8, lab, 1, seed=1)
    np.testing.assert_allclose(xa, xu, atol=1 / 255)
    with pytest.raises(DD.DetectionDataError, match=r"\(images \+ 1\) / 2"):
        DD.composite_detection_set(imgs * 2 - 1, lab, 1, seed=1)
    with pytest.raises(DD.DetectionDataError, match="images.astype"):
        DD.composite_detection_set(imgs * 255, lab, 1, seed=1)
    with pytest.raises(DD.DetectionDataError, match="integer class indices"):
        DD.composite_detection_set(imgs, np.array([0.5, 1.7, 2.2, 3.9]), 2, seed=0)


def test_f8_decode_centers_refuses_logits():
    heat, size, off, _ = B.encode_centers(
        np.array([[8, 8, 24, 24]], float), np.array([1]), 2, 8, 4
    )
    p = np.clip(heat, 1e-6, 1 - 1e-6)
    logits = np.log(p / (1 - p))
    with pytest.raises(ValueError, match="heatmap must lie in.*apply a sigmoid"):
        B.decode_centers(logits, size, off, 4)
    boxes, scores, classes = B.decode_centers(heat, size, off, 4)
    np.testing.assert_allclose(boxes[0], [8, 8, 24, 24], atol=1e-5)
    assert scores[0] == pytest.approx(1.0) and classes[0] == 1


def test_f9_chapter_14_states_the_voc_rule_the_code_follows():
    gt = np.array([[0, 0, 10, 10], [2, 0, 12, 10]], float)
    det = np.array([[0, 0, 10, 10], [0.5, 0, 10.5, 10]], float)  # D2: best box taken
    assert DM.match_detections(det, [0.9, 0.8], gt)[1].tolist() == [True, False]
    nb = json.loads((ROOT / "chapters" / "14_object_detection.ipynb").read_text())
    prose = [
        "".join(c["source"])
        for c in nb["cells"]
        if c["cell_type"] == "markdown" and "**true positive**" in "".join(c["source"])
    ]
    assert prose and "best-overlapping true box" in prose[0]
    assert "VOC rule" in prose[0]


def test_f11_occlusion_map_refuses_a_bool_label_before_predicting():
    calls = []

    def predict(b):
        calls.append(len(b))
        return np.tile([[0.2, 0.8]], (len(b), 1))

    with pytest.raises(ValueError, match="a bool, not a class index"):
        A.occlusion_map(predict, np.zeros((8, 8, 3)), True, patch=4, stride=4)
    with pytest.raises(ValueError, match="an int >= 0"):
        A.occlusion_map(predict, np.zeros((8, 8, 3)), -1, patch=4, stride=4)
    assert calls == []  # refused before the model ran on the occluded copies
    with pytest.raises(ValueError, match=r"label must be in \[0, 1\]"):
        A.occlusion_map(predict, np.zeros((8, 8, 3)), 5, patch=4, stride=4)
    with pytest.raises(ValueError, match="probabilities.*softmax"):
        A.occlusion_map(
            lambda b: np.tile([[2.0, -1.0]], (len(b), 1)), np.zeros((8, 8, 3)), 0
        )
    assert A.occlusion_map(
        predict, np.zeros((8, 8, 3)), 1, patch=4, stride=4
    ).shape == (
        8,
        8,
    )


def test_f12_channels_first_arrays_are_refused_with_the_transpose():
    with pytest.raises(ValueError, match=r"channels-first.*np\.transpose"):
        A.saliency_map(np.ones((2, 3, 32, 32)))
    with pytest.raises(ValueError, match="NCHW: 64 channels of 4x4"):
        A.grad_cam(np.ones((1, 64, 4, 4)), np.ones((1, 64, 4, 4)))
    x = np.random.default_rng(0).standard_normal((8, 3, 4, 4))
    with pytest.raises(ValueError, match="channels-first"):
        N.batch_norm_forward(x)
    y, cache = N.batch_norm_forward(x.transpose(0, 2, 3, 1))
    assert cache["mean"].shape == (3,) and y.shape == (8, 4, 4, 3)


def test_f13_an_empty_batch_never_reaches_the_running_statistics():
    with pytest.raises(ValueError, match=r"x is empty \(shape \(0, 3\)\)"):
        N.batch_norm_forward(np.zeros((0, 3), np.float32))
    with pytest.raises(ValueError, match="batch_value holds 3 NaN"):
        N.update_moving(np.zeros(3), np.full(3, np.nan), 0.9)
    with pytest.raises(ValueError, match="moving_var holds 1 NaN"):
        N.batch_norm_inference(np.ones((2, 2)), np.zeros(2), [1.0, np.nan])


def test_f15_ancestral_sample_checks_keep():
    betas = D.linear_beta_schedule(5)

    def run(keep):
        return D.ancestral_sample(
            lambda x, t: np.zeros_like(x), (1, 2), betas, np.random.default_rng(0), keep
        )

    with pytest.raises(ValueError, match=r"for one step write \(3,\)"):
        run(3)
    with pytest.raises(ValueError, match=r"int steps in \[0, 4\].*\[5\]"):
        run((0, 5))
    _, snaps = run((3, 0))
    assert sorted(snaps) == [0, 3]
    with pytest.raises(ValueError, match="output at step t=4 holds 2 NaN"):
        D.ancestral_sample(
            lambda x, t: np.full_like(x, np.nan),
            (1, 2),
            betas,
            np.random.default_rng(0),
        )


def test_f17_the_ece_message_names_the_label_not_the_dtype():
    with pytest.raises(
        ValueError, match=r"labels must be class indices in \[0, 1\]"
    ) as e:
        C.expected_calibration_error(
            np.array([[0.7, 0.3], [0.4, 0.6]]), np.array([0, 2])
        )
    assert "from 0 to 2" in str(e.value) and "dtype" not in str(e.value)


# ============================================ what the audit found beyond the log


def test_mean_average_precision_refuses_classes_it_would_drop():
    gt = [(np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), np.array([0, 5]))]
    det = [(np.array([[0, 0, 10, 10]]), np.array([0.9]), np.array([0]))]
    # the class-5 box used to drop out of the evaluation: mAP 1.0 without a word
    with pytest.raises(ValueError, match=r"ground_truths\[0\] classes.*\[0, 1\]"):
        DM.mean_average_precision(det, gt, 2)
    with pytest.raises(ValueError, match=r"detections\[0\] must be a tuple"):
        DM.mean_average_precision([(np.zeros((0, 4)), np.zeros(0))], [gt[0]], 6)
    with pytest.raises(ValueError, match="2 true positives but n_ground_truth is 1"):
        DM.precision_recall([0.9, 0.8], np.array([True, True]), 1)
    empty = [(np.zeros((0, 4)), np.zeros(0), np.array([]))]
    assert DM.mean_average_precision(empty, gt, 6)[1][0] == 0.0


def test_encode_centers_takes_one_image_of_boxes_never_flattened():
    two_images = np.array([[[0, 0, 8, 8]], [[8, 8, 16, 16]]], float)  # (2, 1, 4)
    with pytest.raises(ValueError, match=r"boxes must be \(K, 4\), one image's"):
        B.encode_centers(two_images, np.array([0, 1]), 2, 4, 4)


def test_temperature_scaling_refuses_probabilities_as_logits():
    probs = np.array([[0.7, 0.3], [0.2, 0.8], [0.5, 0.5]])
    with pytest.raises(ValueError, match="look like probabilities"):
        C.fit_temperature(probs, [0, 1, 0])
    assert C.fit_temperature(np.log(probs), [0, 1, 0]) > 0


def test_losses_optimizers_and_gradient_checks_refuse_nan():
    with pytest.raises(ValueError, match="y_pred holds 1 NaN"):
        losses.sparse_categorical_crossentropy([0], [[np.nan, 1.0]], from_logits=True)
    with pytest.raises(ValueError, match="y_true holds 1 NaN"):
        losses.mean_squared_error([[np.nan]], [[1.0]])
    # a -inf logit is a class of probability 0: accepted
    assert losses.sparse_categorical_crossentropy(
        [0], [[0.0, -np.inf]], from_logits=True
    ) == pytest.approx(0.0)
    w = np.zeros(2)
    with pytest.raises(ValueError, match=r"grads\[0\] holds 0 NaN and 1 infinite"):
        optim.SGD(0.1).step([w], [np.array([np.inf, 0.0])])
    with pytest.raises(ValueError, match="a holds 1 NaN"):
        rel_error(np.array([np.nan]), np.array([1.0]))


def test_statistics_and_labels_elsewhere():
    x = np.zeros((2, 4, 4, 3), np.float32)
    x[1, 2, 3, 1] = np.nan
    with pytest.raises(ValueError, match=r"channel 1\) holds 1 NaN.*\(1, 2, 3\)"):
        images.channel_stats(x)
    with pytest.raises(ValueError, match="that are >= 0.*from -1"):
        transfer.labelled_subset(np.zeros((4, 2)), [0, 1, -1, 1], 1)
    with pytest.raises(ValueError, match=r"in \[0, 1\] for 2 classes"):
        transfer.accuracy(np.zeros((2, 2)), [0, 2])
    with pytest.raises(ValueError, match="no pixel is scored"):
        segmentation.mean_iou(np.zeros((0, 3), int), np.zeros((0, 3), int), 2)
    with pytest.raises(ValueError, match="channels-first"):
        pool.max_pool2d(np.zeros((2, 3, 8, 8)))


@pytest.mark.parametrize("value", [float("nan"), np.float32("inf"), "nan%", "-inf"])
def test_glue_keeps_nan_out_of_the_prose(value):
    from utils.glue import glue

    with pytest.raises(ValueError, match="must not reach the prose"):
        glue("test_value", value)
    glue("test_value", "87.5%")  # outside IPython: checked, then nothing to store


def test_conv_gradient_norms_checks_labels_against_the_logits():
    from utils import residual as rs

    model = rs.build_cnn(blocks=1, widths=(4,), image_size=8, num_classes=3)
    x = np.zeros((2, 8, 8, 3), np.float32)
    with pytest.raises(ValueError, match=r"y must be class indices in \[0, 2\]"):
        rs.conv_gradient_norms(model, x, [0, 3])


# ======================================================== properties of the checks

finite_arrays = st.integers(1, 4).flatmap(
    lambda nd: st.lists(st.integers(1, 5), min_size=nd, max_size=nd).map(tuple)
)


@FAST
@given(
    shape=finite_arrays,
    seed=st.integers(0, 10**6),
    bad=st.sampled_from(["nan", "inf", "-inf"]),
)
def test_check_finite_names_count_and_first_index(shape, seed, bad):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    assert shapes.check_finite(a, "a") is a
    flat = rng.choice(a.size, size=rng.integers(1, a.size + 1), replace=False)
    a.reshape(-1)[flat] = float(bad)
    first = tuple(int(i) for i in np.unravel_index(np.sort(flat)[0], shape))
    if bad == "-inf":
        assert shapes.check_finite(a, "a", allow_neg_inf=True) is a
    with pytest.raises(ValueError, match=r"a holds") as err:
        shapes.check_finite(a, "a")
    n_nan = len(flat) if bad == "nan" else 0
    assert f"holds {n_nan} NaN and {len(flat) - n_nan} infinite" in str(err.value)
    assert f"index {first}" in str(err.value)


@FAST
@given(values=st.lists(st.floats(-1e300, 1e300), min_size=1, max_size=20))
def test_check_finite_never_refuses_finite_values_even_when_the_sum_overflows(values):
    a = np.array(values)
    assert shapes.check_finite(a, "a") is a


@FAST
@given(n=st.integers(0, 6), last=st.integers(1, 8).filter(lambda k: k != 4))
def test_boxes_with_another_last_axis_are_never_reshaped(n, last):
    bad = np.zeros((max(n, 1), last))
    with pytest.raises(ValueError, match=r"gt_boxes must have shape \(K, 4\)"):
        DM.match_detections(np.zeros((1, 4)), [0.5], bad)
    with pytest.raises(ValueError, match=r"boxes_a must have shape \(\.\.\., 4\)"):
        B.iou(bad, np.zeros((1, 4)))


@FAST
@given(
    n=st.integers(1, 3),
    side=st.integers(5, 40),  # (N, 4, 4, 4) is ambiguous and let through on purpose
    c=st.sampled_from([1, 3, 4]),
    h_extra=st.integers(0, 5),
)
def test_nchw_guard_flags_transposed_images_but_not_nhwc_ones(n, side, c, h_extra):
    nhwc = np.zeros((n, side + h_extra, side, c), np.float32)  # any NHWC image batch
    assert not shapes.looks_nchw(nhwc.shape)
    shapes.check_nhwc(nhwc)
    square = np.zeros((n, side, side, c), np.float32)
    nchw = square.transpose(0, 3, 1, 2)
    assert shapes.looks_nchw(nchw.shape)
    with pytest.raises(ValueError, match=r"np\.transpose\(x, \(0, 2, 3, 1\)\)"):
        shapes.check_nhwc(nchw)
    np.testing.assert_array_equal(images.to_layout(nchw, "NCHW", "NHWC"), square)


@FAST
@given(
    values=st.lists(st.floats(-10, 10), min_size=1, max_size=30),
    low=st.floats(-5, 0),
    width=st.floats(0.1, 5),
)
def test_check_range_passes_inside_and_reports_the_span_outside(values, low, width):
    a = np.array(values)
    high = low + width
    inside = (a >= low) & (a <= high)
    if inside.all():
        assert shapes.check_range(a, "a", low=low, high=high) is a
    else:
        with pytest.raises(ValueError, match="a must lie in") as err:
            shapes.check_range(a, "a", low=low, high=high, hint="fix it")
        assert f"from {a.min():.6g} to {a.max():.6g}" in str(err.value)
        assert str(err.value).endswith("fix it")


@FAST
@given(
    labels=st.lists(st.integers(-3, 12), min_size=1, max_size=30),
    k=st.integers(2, 10),
)
def test_class_indices_in_range_pass_and_others_are_named(labels, k):
    y = np.array(labels)
    if y.min() >= 0 and y.max() < k:
        np.testing.assert_array_equal(shapes.check_class_indices(y, k, "y"), y)
    else:
        with pytest.raises(ValueError, match=f"from {y.min()} to {y.max()}"):
            shapes.check_class_indices(y, k, "y")
    with pytest.raises(ValueError, match="integer class indices"):
        shapes.check_class_indices(y.astype(float), k, "y")


@FAST
@given(
    betas=st.lists(st.floats(1e-5, 0.3), min_size=2, max_size=50).map(
        lambda b: np.sort(np.array(b))
    )
)
def test_q_sample_takes_alpha_bars_and_refuses_the_betas(betas):
    abar = D.alpha_bars(betas)
    x0, eps = np.ones((1, 2)), np.zeros((1, 2))
    out = D.q_sample(x0, len(betas) - 1, abar, eps)
    np.testing.assert_allclose(out, np.sqrt(abar[-1]))
    if betas[-1] > betas[0]:  # an increasing schedule is never an alpha-bar one
        with pytest.raises(ValueError, match="abar must not increase"):
            D.q_sample(x0, 0, betas, eps)


@FAST
@given(seed=st.integers(0, 10**6), f=st.integers(1, 5), neg=st.floats(1e-3, 10.0))
def test_frechet_distance_accepts_psd_and_refuses_a_negative_direction(seed, f, neg):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((f, f))
    cov = a @ a.T  # PSD, possibly nearly singular
    mu = rng.standard_normal(f)
    assert Q.frechet_distance(mu, cov, mu, cov) == pytest.approx(0, abs=1e-6)
    w, v = np.linalg.eigh(cov)
    w[0] = -neg * max(1.0, w[-1])
    bad = (v * w) @ v.T
    with pytest.raises(ValueError, match="cov2 is not positive semi-definite"):
        Q.frechet_distance(mu, cov, mu, (bad + bad.T) / 2)


@FAST
@given(seed=st.integers(0, 10**6), value=st.sampled_from([-0.5, 1.5, np.nan]))
def test_decode_centers_refuses_any_heatmap_outside_the_unit_interval(seed, value):
    rng = np.random.default_rng(seed)
    heat = rng.uniform(0, 1, (4, 4, 2)).astype(np.float32)
    size, off = np.ones((4, 4, 2)), np.zeros((4, 4, 2))
    B.decode_centers(heat, size, off, 8)
    heat[tuple(rng.integers(0, [4, 4, 2]))] = value
    with pytest.raises(ValueError, match="heatmap"):
        B.decode_centers(heat, size, off, 8)


# one NaN in one argument of a function that summarises data: a ValueError naming it
NAN_CASES = {
    "nms scores": lambda v: B.nms(np.zeros((2, 4)), v[:2]),
    "match_detections boxes": lambda v: DM.match_detections(
        v[:4].reshape(1, 4), [0.5], np.zeros((1, 4))
    ),
    "frechet mu": lambda v: Q.frechet_distance(
        v[:2], np.eye(2), np.zeros(2), np.eye(2)
    ),
    "gaussian_fit": lambda v: Q.gaussian_fit(v[:6].reshape(3, 2)),
    "ece probs": lambda v: C.expected_calibration_error(
        np.stack([v[:2], 1 - v[:2]], axis=1), [0, 1]
    ),
    "saliency": lambda v: A.saliency_map(v[:8].reshape(1, 2, 2, 2)),
    "rank_correlation": lambda v: A.rank_correlation(v[:4], np.arange(4.0)),
    "q_sample x0": lambda v: D.q_sample(
        v[:2].reshape(1, 2),
        0,
        D.alpha_bars(D.linear_beta_schedule(3)),
        np.zeros((1, 2)),
    ),
    "noise loss": lambda v: D.noise_prediction_loss(v[:3], np.zeros(3)),
    "update_moving": lambda v: N.update_moving(np.zeros(2), v[:2]),
    "mse": lambda v: losses.mean_squared_error(np.zeros((1, 3)), v[:3][None]),
    "softmax regression": lambda v: transfer.softmax_regression(
        v[:4].reshape(2, 2),
        [0, 1],
        np.zeros((2, 2)),
        np.zeros(2),
        steps=1,
        learning_rate=0.1,
    ),
}


@FAST
@given(case=st.sampled_from(sorted(NAN_CASES)), where=st.integers(0, 1))
def test_one_nan_is_refused_by_every_summarising_function(case, where):
    values = np.full(8, 0.25)
    NAN_CASES[case](values)  # the same call without NaN works
    values[where] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        NAN_CASES[case](values)


EMPTY_CASES = {
    "batch_norm_forward": lambda: N.batch_norm_forward(np.zeros((0, 4))),
    "layer_norm": lambda: N.layer_norm(np.zeros((2, 0))),
    "normalize": lambda: N.normalize(np.zeros((0, 3)), 0),
    "noise_prediction_loss": lambda: D.noise_prediction_loss(np.zeros(0), np.zeros(0)),
    "gaussian_fit": lambda: Q.gaussian_fit(np.zeros((5, 0))),
    "frechet_distance": lambda: Q.frechet_distance(
        [], np.zeros((0, 0)), [], np.zeros((0, 0))
    ),
    "mean_iou": lambda: segmentation.mean_iou([], [], 2),
    "saliency_map": lambda: A.saliency_map(np.zeros((0, 2, 2, 1))),
    "reliability_bins": lambda: C.reliability_bins(np.zeros((0, 2)), []),
    "channel_stats": lambda: images.channel_stats(np.zeros((0, 2, 2, 3))),
}


@pytest.mark.parametrize("name", sorted(EMPTY_CASES))
def test_empty_input_is_refused_where_the_answer_is_undefined(name):
    with pytest.raises(
        ValueError, match="empty|at least one|no pixel|N >= 1|F >= 1|>= 1"
    ):
        EMPTY_CASES[name]()


def test_empty_sets_of_objects_are_exact_answers():
    assert B.nms(np.zeros((0, 4)), np.zeros(0)).shape == (0,)
    order, is_tp = DM.match_detections([], [], np.zeros((2, 4)))
    assert order.shape == is_tp.shape == (0,)
    heat, *_ = B.encode_centers(np.zeros((0, 4)), np.zeros(0, int), 2, 4, 8)
    assert heat.shape == (4, 4, 2) and heat.max() == 0
    assert B.decode_centers(
        np.zeros((4, 4, 2)), np.zeros((4, 4, 2)), np.zeros((4, 4, 2)), 8
    )[0].shape == (0, 4)
