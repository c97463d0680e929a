"""utils.labels: label checks, one-hot and smoothing, and where each name is
reachable."""

import numpy as np
import pytest

from utils import labels


def test_integer_labels_names_the_offending_value():
    # bug: the message quoted the first label (0.0), not the non-integer one
    with pytest.raises(ValueError, match="such as 2.5"):
        labels.integer_labels(np.array([0.0, 1.0, 2.5]), 3, "f")


def test_integer_labels_accepts_whole_floats_and_rejects_the_rest():
    np.testing.assert_array_equal(labels.integer_labels([0.0, 2.0], 3, "f"), [0, 2])
    for bad, match in [
        ([np.nan], "whole numbers"),
        ([True], "integers"),
        ([3], r"\[0, 2\]"),
    ]:
        with pytest.raises(ValueError, match=match):
            labels.integer_labels(np.array(bad), 3, "f")


def test_one_hot_and_smoothing():
    np.testing.assert_array_equal(labels.one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    q = labels.smooth_labels(np.eye(4)[0], 0.2)
    np.testing.assert_allclose(q, [0.85, 0.05, 0.05, 0.05])
    with pytest.raises(ValueError, match="label_smoothing"):
        labels.check_smoothing(float("nan"))
    with pytest.raises(ValueError, match="num_classes must be an int >= 2"):
        labels.one_hot([0], 1)


def test_split_modules_keep_the_chapter_names_reachable():
    # one implementation each; the chapters' module.name spellings still work
    from utils import backprop as bp
    from utils import (
        ce_pitfalls,
        conv,
        grad_flow,
        landscapes,
        layer_cost,
        losses,
        nn,
        optim,
        shapes,
    )

    assert losses.one_hot is labels.one_hot
    assert losses.double_softmax_floor is ce_pitfalls.double_softmax_floor
    assert conv.conv2d_params is layer_cost.conv2d_params
    assert conv.resolve_padding is shapes.resolve_padding
    assert optim.run is landscapes.run
    assert nn.dense_param_count is layer_cost.dense_param_count
    assert bp.dense_forward is grad_flow.dense_forward  # grad_flow builds on backprop
