"""utils.pruning: magnitude masks, channel ranking and the thinner chain."""

import numpy as np
import pytest

from utils import pruning as Pr


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, "0.5", None, True, np.nan])
def test_sparsity_outside_zero_one_is_refused(bad):
    with pytest.raises(ValueError, match="sparsity must be"):
        Pr.magnitude_mask(np.ones(4), bad)
    with pytest.raises(ValueError, match="sparsity must be"):
        Pr.channels_to_keep(np.ones((3, 3, 2, 4)), bad)


def test_magnitude_mask_drops_exactly_the_smallest():
    w = np.array([[0.5, -3.0, 0.1], [2.0, -0.2, 1.0]])
    mask = Pr.magnitude_mask(w, 0.5)
    assert mask.sum() == 3
    np.testing.assert_array_equal(mask, [[False, True, False], [True, False, True]])
    assert Pr.magnitude_mask(w, 0.0).all()
    pruned = Pr.prune_magnitude(w.astype(np.float32), 0.5)
    assert pruned.dtype == np.float32 and (pruned == 0).sum() == 3


def test_mask_counts_for_many_sparsities():
    w = np.random.default_rng(0).normal(size=(3, 3, 8, 16))
    for s in (0.1, 0.25, 0.5, 0.9, 0.99):
        assert (~Pr.magnitude_mask(w, s)).sum() == int(np.floor(s * w.size))
    with pytest.raises(ValueError, match="non-empty"):
        Pr.magnitude_mask([], 0.5)


def test_channels_to_keep_picks_the_largest_l1_norms():
    k = np.ones((3, 3, 2, 5)) * np.array([0.1, 5.0, 0.2, 3.0, 1.0])
    np.testing.assert_allclose(Pr.channel_l1(k), 18 * np.array([0.1, 5, 0.2, 3, 1]))
    np.testing.assert_array_equal(Pr.channels_to_keep(k, 0.4), [1, 3, 4])
    assert len(Pr.channels_to_keep(k, 0.99)) == 1  # never zero channels
    with pytest.raises(ValueError, match="output axis"):
        Pr.channel_l1(np.ones(3))


def _chain(x, params):
    """1x1 'convolutions' with ReLU as matrix products, a dense layer last."""
    for k, b in params[:-1]:
        x = np.maximum(x @ k.reshape(k.shape[-2], k.shape[-1]) + b, 0)
    k, b = params[-1]
    return x @ k + b


def test_thin_chain_equals_zeroing_the_pruned_channels():
    rng = np.random.default_rng(2)
    params = [
        (rng.normal(size=(1, 1, 3, 8)), rng.normal(size=8)),
        (rng.normal(size=(1, 1, 8, 6)), rng.normal(size=6)),
        (rng.normal(size=(6, 4)), rng.normal(size=4)),
    ]
    thin, kept = Pr.thin_chain(params, 0.5)
    assert [k.shape for k, _ in thin] == [(1, 1, 3, 4), (1, 1, 4, 3), (3, 4)]
    zeroed = [(k.copy(), b.copy()) for k, b in params]
    for (k, b), keep in zip(zeroed[:-1], kept):
        drop = np.setdiff1d(np.arange(k.shape[-1]), keep)
        k[..., drop], b[drop] = 0, 0
    x = rng.normal(size=(5, 3))
    np.testing.assert_allclose(_chain(x, thin), _chain(x, zeroed), rtol=1e-12)


def test_thin_chain_refuses_layers_that_do_not_chain():
    with pytest.raises(ValueError, match="at least two"):
        Pr.thin_chain([(np.ones((3, 4)), np.ones(4))], 0.5)
    with pytest.raises(ValueError, match="expects 5 inputs"):
        Pr.thin_chain(
            [(np.ones((3, 4)), np.ones(4)), (np.ones((5, 2)), np.ones(2))], 0.5
        )
