"""utils.env.by_profile: every chapter's QUICK/FULL knobs come from this one helper."""

import pytest

from utils import env

QUICK = dict(EPOCHS=5, N_TRAIN=6_000, N_TEST=None)
FULL = dict(EPOCHS=30, N_TRAIN=50_000, N_TEST=10_000)


@pytest.mark.parametrize("profile, expected", [("quick", QUICK), ("full", FULL)])
def test_picks_the_profile_and_unpacks_in_written_order(profile, expected):
    knobs = env.by_profile(profile, quick=QUICK, full=FULL)
    assert knobs == expected and list(knobs) == ["EPOCHS", "N_TRAIN", "N_TEST"]
    epochs, n_train, n_test = knobs.values()
    assert (epochs, n_train, n_test) == tuple(expected.values())
    assert knobs is not QUICK and knobs is not FULL  # a new dict: callers may change it


def test_overrides_win_unless_none():
    knobs = env.by_profile(
        "quick", quick=QUICK, full=FULL, overrides=dict(EPOCHS=1, N_TRAIN=None)
    )
    assert knobs == dict(EPOCHS=1, N_TRAIN=6_000, N_TEST=None)
    assert QUICK["EPOCHS"] == 5  # the caller's dicts are untouched


def test_unknown_profile_is_a_clear_error():
    with pytest.raises(ValueError, match="profile must be one of"):
        env.by_profile("fast", quick=QUICK, full=FULL)


@pytest.mark.parametrize(
    "full",
    [dict(EPOCHS=30, N_TRAIN=50_000), dict(N_TRAIN=50_000, EPOCHS=30, N_TEST=None)],
)
def test_quick_and_full_must_name_the_same_knobs_in_order(full):
    with pytest.raises(ValueError, match="same knobs in the same order"):
        env.by_profile("full", quick=QUICK, full=full)


def test_override_of_no_knob_and_non_dicts_are_rejected():
    with pytest.raises(ValueError, match=r"overrides \['EPOCH'\] name no knob"):
        env.by_profile("quick", quick=QUICK, full=FULL, overrides=dict(EPOCH=3))
    with pytest.raises(TypeError, match="quick must be a dict"):
        env.by_profile("quick", quick=[("EPOCHS", 5)], full=FULL)
