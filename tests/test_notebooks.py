"""Conventions every chapter notebook must follow (CONTRIBUTING.md), checked without a kernel.

nbval re-runs the notebooks; these tests check what nbval cannot: that the stored outputs
come from one clean top-to-bottom run, that badges and setup cells agree with _config.yml,
that the book lists every chapter, and that ignored outputs are backed by assertions.
"""

import json
import re
from pathlib import Path

import pytest

from tools import book

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
IDS = [nb.name for nb in NOTEBOOKS]


def load(path):
    return json.loads(path.read_text())


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def source(cell):
    return "".join(cell["source"])


def test_there_are_chapters():
    assert NOTEBOOKS, "no chapter notebooks found in chapters/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_first_cell_has_title_and_badge_for_this_repository(path):
    first = load(path)["cells"][0]
    assert first["cell_type"] == "markdown"
    text = source(first)
    assert text.startswith("# "), "the first cell must start with the chapter title"
    assert book.badge(path.relative_to(ROOT)) in text, "Colab badge missing or not matching _config.yml"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_setup_cell_matches_config(path):
    first_code = code_cells(load(path))[0]
    assert source(first_code) == book.setup_cell(), (
        "the first code cell must be the setup cell from tools.book.setup_cell() "
        "(regenerate it: python -c 'from utils import book; print(book.setup_cell())')"
    )
    assert not first_code.get("outputs"), "the setup cell must be silent"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_has_papermill_parameters_cell_with_mode(path):
    cells = [c for c in code_cells(load(path)) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, "exactly one cell must be tagged 'parameters'"
    assert re.search(r"^MODE\s*=\s*None", source(cells[0]), re.M), "the parameters cell must define MODE = None"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stored_from_one_clean_run(path):
    counts = [c.get("execution_count") for c in code_cells(load(path))]
    assert counts == list(range(1, len(counts) + 1)), "re-run top to bottom: python -m tools.run_notebooks " + path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_unexpected_errors_or_noise_in_outputs(path):
    for i, cell in enumerate(code_cells(load(path))):
        tags = set(cell.get("metadata", {}).get("tags", []))
        for out in cell.get("outputs", []):
            if out["output_type"] == "error":
                assert "raises-exception" in tags or "NBVAL_RAISES_EXCEPTION" in source(cell), f"code cell {i} stored an error"
            text = "".join(out.get("text", [])) + "".join(out.get("data", {}).get("text/plain", []))
            assert "\b" not in text and "━━━━━" not in text, f"code cell {i}: progress bar in output (use verbose=0 or 2)"
            assert not re.search(r"(/home/|/root/|/work/|/tmp/(?!ipykernel)|site-packages/)", text), (
                f"code cell {i}: machine path in output"
            )
            if out.get("name") == "stderr":
                assert not re.search(r"oneDNN|cpu_feature_guard|absl::", text), f"code cell {i}: TensorFlow log in stderr"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_ignored_outputs_are_followed_by_an_assertion(path):
    cells = code_cells(load(path))
    for i, cell in enumerate(cells):
        if "NBVAL_IGNORE_OUTPUT" in source(cell) and cell.get("outputs"):
            later = "".join(source(c) for c in cells[i + 1 : i + 3])
            assert "assert" in later, f"code cell {i} ignores its output but the next cells assert nothing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_listed_in_toc(path):
    toc = (ROOT / "_toc.yml").read_text()
    assert f"file: chapters/{path.stem}" in toc, f"{path.name} is not listed in _toc.yml"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_most_outputs_are_compared(path):
    cells = [c for c in code_cells(load(path)) if c.get("outputs")]
    ignored = [c for c in cells if "NBVAL_IGNORE_OUTPUT" in source(c) or "nbval-ignore-output" in c.get("metadata", {}).get("tags", [])]
    assert len(ignored) <= len(cells) / 2, f"{len(ignored)} of {len(cells)} cells with output are not compared"


def test_setup_cell_is_valid_python_and_names_the_config_url():
    url, branch = book.repository()
    src = book.setup_cell()
    compile(src, "setup", "exec")
    assert url in src and branch in src
