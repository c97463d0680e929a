"""Conventions every chapter notebook must follow (CONTRIBUTING.md), checked without a
kernel.

nbval re-runs the notebooks; these tests check what nbval cannot: that the stored
outputs come from one clean top-to-bottom run, that badges and setup cells agree with
_config.yml,
that the book lists every chapter, and that ignored outputs are backed by assertions.
"""

import ast
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
    return [
        c
        for c in nb["cells"]
        if c["cell_type"] == "code" and "".join(c["source"]).strip()
    ]


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
    assert book.badge(path.relative_to(ROOT)) in text, (
        "Colab badge missing or not matching _config.yml"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_setup_cell_matches_config(path):
    first_code = code_cells(load(path))[0]
    assert source(first_code) == book.setup_cell(), (
        "the first code cell must be the setup cell from tools.book.setup_cell() "
        "(regenerate it: python -c 'from tools import book; print(book.setup_cell())')"
    )
    assert not first_code.get("outputs"), "the setup cell must be silent"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_has_papermill_parameters_cell_with_mode(path):
    cells = [
        c
        for c in code_cells(load(path))
        if "parameters" in c.get("metadata", {}).get("tags", [])
    ]
    assert len(cells) == 1, "exactly one cell must be tagged 'parameters'"
    assert re.search(r"^MODE\s*=\s*None", source(cells[0]), re.M), (
        "the parameters cell must define MODE = None"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stored_from_one_clean_run(path):
    counts = [c.get("execution_count") for c in code_cells(load(path))]
    assert counts == list(range(1, len(counts) + 1)), (
        "re-run top to bottom: python -m tools.run_notebooks " + path.name
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_unexpected_errors_or_noise_in_outputs(path):
    for i, cell in enumerate(code_cells(load(path))):
        tags = set(cell.get("metadata", {}).get("tags", []))
        for out in cell.get("outputs", []):
            if out["output_type"] == "error":
                assert "raises-exception" in tags or "NBVAL_RAISES_EXCEPTION" in source(
                    cell
                ), f"code cell {i} stored an error"
            text = "".join(out.get("text", [])) + "".join(
                out.get("data", {}).get("text/plain", [])
            )
            assert "\b" not in text and "━━━━━" not in text, (
                f"code cell {i}: progress bar in output (use verbose=0 or 2)"
            )
            assert not re.search(
                r"(/home/|/root/|/work/|/tmp/(?!ipykernel)|site-packages/)", text
            ), f"code cell {i}: machine path in output"
            if out.get("name") == "stderr":
                assert not re.search(r"oneDNN|cpu_feature_guard|absl::", text), (
                    f"code cell {i}: TensorFlow log in stderr"
                )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_ignored_outputs_are_followed_by_an_assertion(path):
    cells = code_cells(load(path))
    for i, cell in enumerate(cells):
        if "NBVAL_IGNORE_OUTPUT" in source(cell) and cell.get("outputs"):
            later = "".join(source(c) for c in cells[i + 1 : i + 3])
            assert "assert" in later, (
                f"code cell {i} ignores its output but the next cells assert nothing"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_listed_in_toc(path):
    toc = (ROOT / "_toc.yml").read_text()
    assert f"file: chapters/{path.stem}" in toc, (
        f"{path.name} is not listed in _toc.yml"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_most_outputs_are_compared(path):
    cells = [c for c in code_cells(load(path)) if c.get("outputs")]
    ignored = [
        c
        for c in cells
        if "NBVAL_IGNORE_OUTPUT" in source(c)
        or "nbval-ignore-output" in c.get("metadata", {}).get("tags", [])
    ]
    assert len(ignored) <= len(cells) / 2, (
        f"{len(ignored)} of {len(cells)} cells with output are not compared"
    )


def test_setup_cell_is_valid_python_and_names_the_config_url():
    url, branch = book.repository()
    src = book.setup_cell()
    compile(src, "setup", "exec")
    assert url in src and branch in src


# --- profile knobs (env.by_profile), collapsed cells ------------------------------

# The knob names every chapter uses for the same thing; an optional suffix names a
# second experiment of the same chapter (N_TEST_SHIFT, EPOCHS_ABLATION).
# the knobs FULL-smoke may change: sizes, lengths and outcome thresholds, never an
# architecture, an image size or a section switch (FULL's code path stays FULL's)
SMOKE_KNOB = re.compile(
    r"(EPOCHS|N_TRAIN|N_VAL|N_TEST|RUNS|STEPS|N_IMAGES|N_LABELS|TIMESTEPS|PATIENCE"
    r"|ACC_FLOOR|ACC_RANGE|ACC_GAP|CE_RATIO|IOU_FLOOR|MAP_FLOOR)(_[A-Z]+)?"
)
KNOB = re.compile(
    r"(EPOCHS|N_TRAIN|N_VAL|N_TEST|BATCH_SIZE|RUNS|FILTERS|PATIENCE|AUGMENT"
    r"|ACC_FLOOR|ACC_RANGE|ACC_GAP|CE_RATIO|STEPS|IMAGE_SIZE|N_IMAGES|N_LABELS"
    r"|WIDTH|DEPTH|LEARNING_RATE|TIMESTEPS|LATENT_DIM|IOU_FLOOR|MAP_FLOOR)(_[A-Z]+)?"
)


def code_ast(cell):
    """The cell's code as an ast.Module (IPython magics and shell lines blanked)."""
    lines = [
        "" if line.lstrip().startswith(("%", "!")) else line
        for line in source(cell).splitlines()
    ]
    return ast.parse("\n".join(lines))


def is_pure_assert(cell):
    """True for a code cell made only of ``assert`` and ``np.testing`` checks."""
    body = code_ast(cell).body
    return bool(body) and all(
        isinstance(stmt, ast.Assert)
        or isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Call)
        and "testing." in ast.unparse(stmt.value.func)
        for stmt in body
    )


def profile_cell_index(cells):
    """Index (in ``cells``) of the profile cell: the one right after ``parameters``."""
    tagged = [i for i, c in enumerate(cells) if "parameters" in tags(c)]
    return tagged[0] + 1


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def by_profile_calls(tree):
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "env.by_profile"
    ]


def profile_switches(tree):
    """Places that decide a value from the profile without env.by_profile."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "QUICK":
            found.append(f"line {node.lineno}: the name QUICK")
        if isinstance(node, ast.Compare):
            names = [ast.unparse(n) for n in (node.left, *node.comparators)]
            if "PROFILE" in names:
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_profile_dependent_values_come_from_env_by_profile(path):
    cells = code_cells(load(path))
    profile_at = profile_cell_index(cells)
    for i, cell in enumerate(cells):
        tree = code_ast(cell)
        switches = profile_switches(tree)
        assert not switches, (
            f"code cell {i} chooses by profile itself ({switches}); put the QUICK and "
            "FULL values in the profile cell's env.by_profile(...) instead"
        )
        calls = by_profile_calls(tree)
        assert not calls or i == profile_at, (
            f"code cell {i} calls env.by_profile; only the profile cell (after the "
            "parameters cell) may"
        )
    calls = by_profile_calls(code_ast(cells[profile_at]))
    assert len(calls) == 1, "the profile cell must call env.by_profile once"
    for keyword in calls[0].keywords:
        if keyword.arg in ("quick", "full", "smoke", "overrides"):
            value = keyword.value
            assert isinstance(value, ast.Call) and ast.unparse(value.func) == "dict"
            bad = [k.arg for k in value.keywords if not KNOB.fullmatch(k.arg or "")]
            assert not bad, f"{bad}: use the book's knob names ({KNOB.pattern})"
        if keyword.arg == "smoke":
            names = [k.arg for k in keyword.value.keywords]
            bad = [n for n in names if not SMOKE_KNOB.fullmatch(n or "")]
            assert not bad, (
                f"smoke changes {bad}: FULL-smoke may only shrink sizes and relax "
                f"outcome thresholds ({SMOKE_KNOB.pattern})"
            )
            switches = [
                k.arg
                for k in keyword.value.keywords
                if isinstance(k.value, ast.Constant)
                and k.value.value == 0
                and k.arg.startswith(("N_TRAIN_", "N_IMAGES_", "EPOCHS_"))
            ]
            assert not switches, f"smoke switches sections off: {switches}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_the_reader_meets_prose_first(path):
    cells = load(path)["cells"]
    first_code = next(i for i, c in enumerate(cells) if c["cell_type"] == "code")
    prose = [
        "".join(c["source"]) for c in cells[:first_code] if c["cell_type"] == "markdown"
    ]
    words = sum(
        len(re.sub(r"\(http[^)]*\)|\[!\[[^]]*\]", " ", p).split()) for p in prose[1:]
    )
    assert words >= 40, "open on the chapter's story: a paragraph before any code"
    cells = code_cells(load(path))
    at = profile_cell_index(cells)
    for i in (0, at - 1, at):
        assert "hide-input" in tags(cells[i]), (
            f"code cell {i} (setup, parameters or profile) must be collapsed"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_parameters_cell_names_only_book_knobs(path):
    cells = code_cells(load(path))
    params = cells[profile_cell_index(cells) - 1]
    names = [
        target.id
        for stmt in code_ast(params).body
        if isinstance(stmt, ast.Assign)
        for target in stmt.targets
        if isinstance(target, ast.Name)
    ]
    bad = [n for n in names if n not in ("MODE", "SEED") and not KNOB.fullmatch(n)]
    assert not bad, f"parameters {bad}: use the book's knob names ({KNOB.pattern})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_setup_and_pure_assert_cells_are_collapsed(path):
    cells = code_cells(load(path))
    assert "hide-input" in tags(cells[0]), "tag the setup cell 'hide-input'"
    for i, cell in enumerate(cells):
        if is_pure_assert(cell):
            assert {"hide-input", "remove-input"} & set(tags(cell)), (
                f"code cell {i} only asserts: tag it 'hide-input'"
            )


def test_new_chapter_skeleton_follows_the_checks_above():
    from tools import new_chapter

    nb = new_chapter.new_notebook(Path("chapters/99_demo.ipynb"), "Demo")
    cells = code_cells(nb)
    assert "hide-input" in tags(cells[0])
    profile = code_ast(cells[profile_cell_index(cells)])
    assert len(by_profile_calls(profile)) == 1 and not profile_switches(profile)
    namespace = {}
    exec(compile(source(cells[1]), "parameters", "exec"), namespace)
    namespace["MODE"] = "quick"
    exec(compile(source(cells[2]), "profile", "exec"), namespace)
    assert (namespace["P"].EPOCHS, namespace["P"].N_TRAIN) == (2, 2_000)


def test_refresh_setup_rewrites_the_cell_and_keeps_it_collapsed(tmp_path):
    import nbformat

    from tools import new_chapter

    path = tmp_path / "chapters" / "99_demo.ipynb"
    path.parent.mkdir()
    nb = new_chapter.new_notebook(Path("chapters/99_demo.ipynb"), "Demo")
    nb.cells[2].source = "# an old setup cell"
    nb.cells[2].metadata = {"tags": ["keep-me"]}
    nbformat.write(nb, path)
    assert new_chapter.refresh_setup_cells([path]) == [path]
    first = code_cells(load(path))[0]
    assert source(first) == book.setup_cell()
    assert tags(first) == ["keep-me", "hide-input"]
    assert new_chapter.refresh_setup_cells([path]) == []  # nothing left to change


# --- numbers in the prose come from cells (tools/prose_numbers.py) ----------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_prose_numbers_are_glued(path):
    from tools import prose_numbers

    found = prose_numbers.notebook_findings(path)
    assert not found, (
        f"typed percentages/durations {found} (cell, number): glue them from a cell "
        "({glue:text}`name`), cite their source in the sentence, or list a constant "
        'in the cell metadata {"book": {"constant_numbers": [...]}}'
    )


def test_solution_code_is_hidden_until_asked():
    # a solution's prose and code sit between gated solution-start/solution-end
    # directives (sphinx-exercise), so the HTML shows neither until the reader asks
    chapters = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    gated = 0
    for path in chapters:
        cells = json.loads(path.read_text())["cells"]
        inside = False
        for i, cell in enumerate(cells):
            text = "".join(cell["source"])
            if cell["cell_type"] == "markdown":
                assert "```{solution}" not in text, f"{path.name} cell {i}: use gated"
                if "{solution-start}" in text:
                    assert not inside, f"{path.name} cell {i}: solution not ended"
                    assert ":class: dropdown" in text, f"{path.name} cell {i}"
                    inside, gated = True, gated + 1
                if "{solution-end}" in text:
                    assert inside, f"{path.name} cell {i}: end without start"
                    inside = False
        assert not inside, f"{path.name}: the last solution is not ended"
    assert gated >= 2 * len(chapters)
