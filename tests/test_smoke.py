"""utils.smoke (outcome claims, FULL-smoke) and env's profile knobs under BOOK_SMOKE."""

import json
import re
from pathlib import Path

import pytest

from utils import env, smoke

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
CALL = re.compile(r"smoke\.claim\(\s*\"([^\"]+)\"")


def chapter_calls():
    found = {}
    for path in CHAPTERS:
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join(
            "".join(c["source"]) for c in cells if c["cell_type"] == "code"
        )
        found[path.stem] = CALL.findall(code)
    return found


def test_every_declared_claim_is_made_exactly_once_by_its_chapter():
    calls = chapter_calls()
    made = [name for names in calls.values() for name in names]
    assert len(smoke.CLAIMS) >= 15, "every chapter declares its outcome claims"
    for name, text in smoke.CLAIMS.items():
        assert smoke.NAME.fullmatch(name), f"{name}: use 'NN/short-name'"
        assert text.strip(), f"{name}: say what the claim claims"
        owners = [stem for stem, names in calls.items() if name in names]
        assert owners and all(o.startswith(name[:2]) for o in owners), (name, owners)
        assert made.count(name) == 1, f"{name} is made {made.count(name)} times"
    undeclared = sorted(set(made) - set(smoke.CLAIMS))
    assert not undeclared, f"declare {undeclared} in utils/smoke.py"


def test_every_chapter_declares_smoke_sizes():
    for path in CHAPTERS:
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join(
            "".join(c["source"]) for c in cells if c["cell_type"] == "code"
        )
        assert "env.by_profile(" in code and "smoke=dict(" in code, path.name


def test_claims_of_a_chapter(monkeypatch):
    monkeypatch.setattr(smoke, "CLAIMS", {"09/a": "x", "09/b": "y", "10/c": "z"})
    assert smoke.claims_of("09_normalization_residual") == {"09/a": "x", "09/b": "y"}
    assert smoke.claims_of("11") == {}


@pytest.fixture
def one_claim(monkeypatch):
    monkeypatch.setattr(smoke, "CLAIMS", {"09/resnet-wins": "the ResNet wins"})


def test_a_claim_asserts_outside_smoke(one_claim, monkeypatch, capsys):
    monkeypatch.delenv("BOOK_SMOKE", raising=False)
    smoke.claim("09/resnet-wins", True)
    with pytest.raises(
        AssertionError, match=r"09/resnet-wins .*ResNet wins \(acc=0.1\)"
    ):
        smoke.claim("09/resnet-wins", False, "acc=0.1")
    assert capsys.readouterr().out == ""


def test_under_smoke_a_claim_is_reported_not_raised(one_claim, monkeypatch, capsys):
    monkeypatch.setenv("BOOK_SMOKE", "1")
    smoke.claim("09/resnet-wins", False)
    line = capsys.readouterr().out.strip()
    assert line.startswith(smoke.SKIP_MARK) and "does not hold" in line


def test_claim_input_errors(one_claim):
    with pytest.raises(KeyError, match="add it with a one-line description"):
        smoke.claim("09/unknown", True)
    with pytest.raises(TypeError, match="holds must be a bool"):
        smoke.claim("09/resnet-wins", (1 > 0, "message"))
    import numpy as np

    smoke.claim("09/resnet-wins", np.float32(2) > 1)  # NumPy bools are fine


# --- env.by_profile with smoke, Knobs, profile_table, cpu_info ---------------------

KNOBS = dict(
    quick=dict(EPOCHS=5, N_TRAIN=6_000, FLOOR=0.3),
    full=dict(EPOCHS=30, N_TRAIN=50_000, FLOOR=0.6),
    smoke=dict(EPOCHS=1, N_TRAIN=500, FLOOR=0.0),
)


def test_smoke_shrinks_full_and_overrides_come_last(monkeypatch):
    monkeypatch.setenv("BOOK_SMOKE", "1")
    knobs = env.by_profile("full", **KNOBS, overrides=dict(EPOCHS=2, N_TRAIN=None))
    assert dict(knobs) == dict(EPOCHS=2, N_TRAIN=500, FLOOR=0.0)
    assert knobs.smoke and knobs.profile == "full" and knobs.N_TRAIN == 500
    monkeypatch.setenv("BOOK_SMOKE", "0")
    assert env.by_profile("full", **KNOBS).N_TRAIN == 50_000


@pytest.mark.parametrize(
    "setting, profile, declared, message",
    [
        ("1", "quick", True, "also set BOOK_MODE=full"),
        ("1", "full", False, "declares no smoke sizes"),
        ("maybe", "full", True, "BOOK_SMOKE must be 1 or 0"),
    ],
)
def test_smoke_misuse_is_a_clear_error(
    monkeypatch, setting, profile, declared, message
):
    monkeypatch.setenv("BOOK_SMOKE", setting)
    knobs = dict(KNOBS) if declared else {k: KNOBS[k] for k in ("quick", "full")}
    with pytest.raises(ValueError, match=message):
        env.by_profile(profile, **knobs)


def test_smoke_may_only_name_knobs(monkeypatch):
    monkeypatch.delenv("BOOK_SMOKE", raising=False)
    with pytest.raises(ValueError, match=r"smoke \['WIDTH'\] name no knob"):
        env.by_profile("full", quick=dict(A=1), full=dict(A=2), smoke=dict(WIDTH=3))


def test_knobs_read_as_attributes_and_stay_read_only(monkeypatch):
    monkeypatch.delenv("BOOK_SMOKE", raising=False)
    knobs = env.by_profile("quick", **KNOBS)
    assert (knobs.EPOCHS, *knobs.values()) == (5, 5, 6_000, 0.3)
    with pytest.raises(AttributeError, match="no knob named 'EPOCH'"):
        _ = knobs.EPOCH
    with pytest.raises(AttributeError, match="read-only"):
        knobs.EPOCHS = 3


def test_profile_table_shows_both_profiles_and_the_t4_estimate(monkeypatch):
    monkeypatch.delenv("BOOK_SMOKE", raising=False)
    knobs = env.by_profile("quick", **KNOBS)
    table = env.profile_table(
        knobs,
        labels=dict(N_TRAIN="training images", EPOCHS="epochs"),
        full_t4_minutes=(4, 6),
        basis="MACs / measured T4 throughput",
    )
    text = repr(table)
    assert "training images  6,000" in text and "50,000" in text
    assert "about 4-6 min on a T4" in text and "This page ran QUICK" in text
    markdown = table._repr_markdown_()
    assert (
        markdown.startswith("|  | QUICK | FULL |") and "| epochs | 5 | 30 |" in markdown
    )


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(labels={}), "at least one knob"),
        (dict(labels={"WIDTH": "w"}), "name no knob"),
        (dict(full_t4_minutes=0), "positive number of minutes"),
        (dict(full_t4_minutes=(3, -1)), "positive number of minutes"),
        (dict(basis=" "), "basis must say"),
    ],
)
def test_profile_table_errors(monkeypatch, kwargs, error):
    monkeypatch.delenv("BOOK_SMOKE", raising=False)
    given = dict(labels={"EPOCHS": "epochs"}, full_t4_minutes=5, basis="b") | kwargs
    with pytest.raises(ValueError, match=error):
        env.profile_table(env.by_profile("quick", **KNOBS), **given)
    with pytest.raises(TypeError, match="what env.by_profile returns"):
        env.profile_table(
            dict(EPOCHS=1), labels={"EPOCHS": "e"}, full_t4_minutes=1, basis="b"
        )


def test_cpu_info_reads_model_cores_and_kernel_flags():
    text = "model name\t: Xeon Q\nflags\t\t: fpu sse avx2 fma avx512f amx_tile\n"
    info = env.cpu_info(text)
    assert info["model"] == "Xeon Q" and info["cores"] >= 1
    assert info["isa"] == ["avx2", "fma", "avx512f", "amx_tile"]
    assert env.cpu_info("")["isa"] == []
