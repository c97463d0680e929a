"""utils.env: profiles, seeding, fingerprint, GPU requirement."""

import random

import numpy as np
import pytest

from utils import env


@pytest.mark.parametrize(
    "mode,expected", [("quick", "quick"), ("FULL", "full"), (" full ", "full")]
)
def test_parameter_wins(monkeypatch, mode, expected):
    monkeypatch.setenv("BOOK_MODE", "quick")
    assert env.resolve_profile(mode) == expected


def test_environment_variable_when_no_parameter(monkeypatch):
    monkeypatch.setenv("BOOK_MODE", "full")
    assert env.resolve_profile(None) == "full"


def test_hardware_decides_last(monkeypatch):
    monkeypatch.delenv("BOOK_MODE", raising=False)
    monkeypatch.setattr(env, "has_gpu", lambda: False)
    assert env.resolve_profile() == "quick"
    monkeypatch.setattr(env, "has_gpu", lambda: True)
    assert env.resolve_profile() == "full"


def test_bad_profile_names_the_source(monkeypatch):
    with pytest.raises(ValueError, match="parameter MODE"):
        env.resolve_profile("fast")
    monkeypatch.setenv("BOOK_MODE", "turbo")
    with pytest.raises(ValueError, match="BOOK_MODE"):
        env.resolve_profile()


def test_seeding_repeats_python_numpy_and_keras():
    import keras

    def draw():
        return (
            random.random(),
            np.random.rand(),
            float(keras.random.uniform((1,), seed=None)[0]),
        )

    env.seed_everything(3)
    first = draw()
    env.seed_everything(3)
    assert draw() == first


@pytest.mark.parametrize("bad", [-1, 1.5, "0"])
def test_bad_seed(bad):
    with pytest.raises(ValueError, match="seed"):
        env.seed_everything(bad)


def test_fingerprint_is_one_line_with_versions():
    line = env.fingerprint()
    assert "\n" not in line
    for part in ("Python", "TensorFlow", "Keras", "NumPy"):
        assert part in line
    assert "CPU" in line or "GPU" in line


def test_require_gpu_explains_what_to_do(monkeypatch):
    monkeypatch.setattr(env, "has_gpu", lambda: False)
    with pytest.raises(
        env.NoGPUError, match="FULL training needs a GPU.*BOOK_MODE=quick"
    ):
        env.require_gpu("FULL training")
    monkeypatch.setattr(env, "has_gpu", lambda: True)
    env.require_gpu("FULL training")


def test_not_in_colab_here():
    assert env.in_colab() is False


def test_silence_tensorflow_keeps_explicit_settings(monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    env.silence_tensorflow()
    import os

    assert (
        os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
        and os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0"
    )


# ------------------------------------------------------------------- audit: bad input


@pytest.mark.parametrize("bad", [True, 2**32, -1, 1.0])
def test_seed_rejects_bool_and_out_of_range(bad):
    """True was accepted as seed 1; 2**32 failed inside NumPy, with NumPy's message."""
    with pytest.raises(ValueError, match=r"seed must be an int in \[0, 2\*\*32 - 1\]"):
        env.seed_everything(bad)


def test_seed_accepts_numpy_ints_and_checks_deterministic():
    env.seed_everything(np.int64(5), deterministic=True)
    with pytest.raises(ValueError, match="deterministic"):
        env.seed_everything(0, deterministic="no")


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_book_mode_means_unset(monkeypatch, blank):
    monkeypatch.setenv("BOOK_MODE", blank)
    monkeypatch.setattr(env, "has_gpu", lambda: False)
    assert env.resolve_profile() == "quick"
