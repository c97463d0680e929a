"""utils.runs (every chapter's closing table) and the records in results/runs/."""

import json
from pathlib import Path

import pytest

from tools import run_notebooks
from utils import runs

ROOT = Path(__file__).resolve().parent.parent


RECORDS_FOUND = sorted(runs.RESULTS.glob("*.json"))
assert RECORDS_FOUND, "results/runs/ holds no record"


def glued(name, value):
    """A code-cell output as ``myst_nb.glue(name, value, display=False)`` stores it."""
    return {
        "output_type": "display_data",
        "metadata": {
            "scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}
        },
        "data": {"application/papermill.record/text/plain": repr(value)},
    }


def record(**changes):
    base = {
        "chapter": "08_demo",
        "profile": "quick",
        "command": "python -m tools.run_notebooks --record chapters/08_demo.ipynb",
        "wall_seconds": 12.5,
        "headline": {"test_accuracy": 0.61},
        "hardware": {"description": "CPU (2 cores, x86_64)", "load_average": "0.1"},
        "versions": {"python": "3.11.9", "keras": "3.15.1"},
        "date": "2026-11-30",
    }
    return {**base, **changes}


def test_headline_values_reads_glued_numbers_only():
    nb = {
        "cells": [
            {"cell_type": "code", "outputs": [glued("headline_test_accuracy", 0.6123)]},
            {"cell_type": "code", "outputs": [glued("other", 3.0)]},
            {"cell_type": "code", "outputs": [glued("headline_np", "np.float64(2.5)")]},
            {"cell_type": "markdown"},
        ]
    }
    nb["cells"][2]["outputs"][0]["data"]["application/papermill.record/text/plain"] = (
        "np.float64(2.5)"
    )
    assert runs.headline_values(nb) == {"test_accuracy": 0.6123, "np": 2.5}
    nb["cells"][1]["outputs"] = [glued("headline_bad", "68%")]
    with pytest.raises(ValueError, match="headline_bad.*glue a float"):
        runs.headline_values(nb)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"profile": "fast"}, "profile 'fast'"),
        ({"wall_seconds": 0}, "wall_seconds must be positive"),
    ],
)
def test_check_record_names_what_is_wrong(changes, message):
    with pytest.raises(ValueError, match=message):
        runs.check_record(record(**changes))
    incomplete = record()
    del incomplete["versions"]
    with pytest.raises(ValueError, match="lacks the fields \\['versions'\\]"):
        runs.check_record(incomplete)


def test_load_and_table_rows(tmp_path):
    (tmp_path / "08_demo-quick.json").write_text(json.dumps(record()))
    assert set(runs.load("08_demo", tmp_path)) == {"quick"}
    header, rows = runs.table_rows("08_demo", tmp_path)
    assert header == ["", "QUICK"]
    assert ["test_accuracy", "0.61"] in rows
    assert rows[0] == ["wall time (s)", f"{record()['wall_seconds']:.0f}"]
    (tmp_path / "08_demo-full.json").write_text("{not json")
    with pytest.raises(ValueError, match="08_demo-full.json is not valid JSON"):
        runs.load("08_demo", tmp_path)


def test_hardware_names_the_cpu_and_its_kernel_features():
    cpu = {"model": "Xeon X", "cores": 2, "isa": ["avx2", "avx512f", "amx_tile"]}
    text = runs.hardware_text({"description": "CPU (2 cores)", "cpu": cpu})
    assert text == "Xeon X, 2 cores (avx2, avx512f, amx_tile); CPU (2 cores)"
    assert runs.hardware_text({"description": "old record"}) == "old record"


def _render(chapter: str) -> str:
    """The run-records directive rendered by docutils alone, as plain text."""
    import sys

    from docutils.core import publish_doctree
    from docutils.parsers.rst import directives

    sys.path.insert(0, str(ROOT / "_ext"))
    import run_records

    directives.register_directive("run-records", run_records.RunRecords)
    return publish_doctree(f".. run-records:: {chapter}\n").astext()


@pytest.mark.parametrize(
    "chapter", sorted({json.loads(p.read_text())["chapter"] for p in RECORDS_FOUND})
)
def test_every_record_appears_in_its_chapters_rendered_table(chapter):
    text = _render(chapter)
    records = runs.load(chapter)
    assert records, chapter
    for profile, rec in records.items():
        assert profile.upper() in text
        assert f"{rec['wall_seconds']:.0f}" in text and rec["command"] in text
        for value in rec["headline"].values():
            assert f"{value:.4g}" in text
    for profile in set(runs.PROFILES) - set(records):
        assert f"No {profile.upper()} run of this chapter is recorded yet" in text


def test_commands_render_as_code_so_their_hyphens_survive():
    # Sphinx's smart quotes turn "--full" into an en dash in plain text; a literal
    # (code) node is left alone, so a copied command works
    import sys

    from docutils import nodes
    from docutils.core import publish_doctree
    from docutils.parsers.rst import directives

    sys.path.insert(0, str(ROOT / "_ext"))
    import run_records

    directives.register_directive("run-records", run_records.RunRecords)
    chapter = "12_interpretability"  # has a QUICK and a FULL record
    tree = publish_doctree(f".. run-records:: {chapter}\n")
    code = [n.astext() for n in tree.findall(nodes.literal)]
    for profile, rec in runs.load(chapter).items():
        assert rec["command"] in code, profile
    assert all("--record" in c for c in code) and code


def test_every_chapter_renders_its_records_at_build_time():
    # a table printed by a cell cannot contain the run that stores it: every chapter
    # shows its records through the run-records directive instead
    notebooks = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    assert len(notebooks) >= 15
    for path in notebooks:
        sources = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]
        directive = f"```{{run-records}} {path.stem}\n```"
        assert sum(directive in s for s in sources) == 1, path.name
        assert not any("runs.table(" in s for s in sources), path.name


def test_write_run_record_is_atomic_and_named_by_chapter_and_profile(tmp_path):
    path = run_notebooks.write_run_record(record(profile="full"), tmp_path / "runs")
    assert path.name == "08_demo-full.json"
    assert json.loads(path.read_text())["profile"] == "full"
    assert sorted(p.name for p in path.parent.iterdir()) == ["08_demo-full.json"]


def test_record_option_is_parsed():
    args = run_notebooks._parser().parse_args(["--record", "--full"])
    assert args.record and args.full


# --- the stored records (RECORDS_FOUND is defined near the top) ---

RECORDS = RECORDS_FOUND


@pytest.mark.parametrize("path", RECORDS, ids=[p.name for p in RECORDS])
def test_stored_record_matches_its_chapter(path):
    rec = runs.check_record(json.loads(path.read_text()), path.name)
    assert path.name == f"{rec['chapter']}-{rec['profile']}.json"
    notebook = ROOT / "chapters" / f"{rec['chapter']}.ipynb"
    assert notebook.is_file(), f"{path.name}: no chapter {notebook.name}"
    assert rec["command"].endswith(f"chapters/{notebook.name}")
    glued_now = runs.headline_values(json.loads(notebook.read_text()))
    assert set(rec["headline"]) == set(glued_now), (
        f"{path.name} records {sorted(rec['headline'])} but the chapter glues "
        f"{sorted(glued_now)}: re-run python -m tools.run_notebooks --record"
    )
