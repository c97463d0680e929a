"""utils.shapes, tools.book, tools.new_chapter and tools.run_notebooks."""

import json
import math
from pathlib import Path

import nbformat
import numpy as np
import pytest

from tools import book, new_chapter, run_notebooks
from utils import shapes


@pytest.mark.parametrize(
    "n,f,p,s,d,expected",
    [
        (32, 3, 0, 1, 1, 30),
        (32, 3, 1, 1, 1, 32),
        (7, 3, 0, 2, 1, 3),
        (10, 3, 0, 2, 1, 4),
        (32, 3, "same", 2, 1, 16),
        (9, 3, 0, 1, 2, 5),
    ],
)
def test_output_size(n, f, p, s, d, expected):
    assert shapes.output_size(n, f, p, s, d) == expected


def test_output_size_matches_floor_formula():
    for n in range(3, 20):
        for f in (1, 2, 3, 5):
            for p in (0, 1, 2):
                for s in (1, 2, 3):
                    if n + 2 * p >= f:
                        assert (
                            shapes.output_size(n, f, p, s)
                            == math.floor((n - f + 2 * p) / s) + 1
                        )


@pytest.mark.parametrize(
    "args,match",
    [
        ((2, 5), "does not fit"),
        ((0, 3), "input size"),
        ((5, 3, -1), "padding"),
        ((5, 3, "full"), "padding"),
        ((5, 3, 0, 0), "stride"),
    ],
)
def test_output_size_errors(args, match):
    with pytest.raises(ValueError, match=match):
        shapes.output_size(*args)


def test_same_padding_matches_tensorflow_rule():
    assert shapes.same_padding(5, 2, 2) == (0, 1)
    assert shapes.same_padding(32, 3) == (1, 1)
    assert shapes.same_padding(32, 4) == (1, 2)


def test_as_pair_and_check_nhwc():
    assert shapes.as_pair(3, "k") == (3, 3) and shapes.as_pair((2, 1), "k") == (2, 1)
    for bad in (0, (1, 2, 3), 1.5, True):
        with pytest.raises(ValueError, match="k must be"):
            shapes.as_pair(bad, "k")
    with pytest.raises(ValueError, match="rank-4 NHWC"):
        shapes.check_nhwc([[1.0]])
    with pytest.raises(ValueError, match="real numbers"):
        shapes.check_nhwc([[[["a"]]]])


def test_as_float_policy():
    assert shapes.as_float(np.ones(2, np.float32)).dtype == np.float32
    assert shapes.as_float(np.ones(2, np.float16)).dtype == np.float32
    assert shapes.as_float(np.ones(2, np.uint8)).dtype == np.float64
    assert shapes.as_float([1, 2], dtype=np.float32).dtype == np.float32
    x = np.ones(3)
    assert shapes.as_float(x) is x  # no copy
    for bad, match in [
        (np.ones(2, bool), "bool"),
        (np.ones(2, complex), "real"),
        ("a", "real"),
    ]:
        with pytest.raises(ValueError, match=match):
            shapes.as_float(bad, "x")


def test_positive_int_and_real_number():
    assert shapes.positive_int(np.int64(3), "n") == 3
    assert shapes.positive_int(0, "n", allow_zero=True) == 0
    for bad in (0, -1, 2.0, True, "3"):
        with pytest.raises(ValueError, match="n must be a positive int"):
            shapes.positive_int(bad, "n")
    assert shapes.real_number(0.5, "m", low=0, high=1) == 0.5
    with pytest.raises(ValueError, match="m must be < 1"):
        shapes.real_number(1, "m", high=1, high_open=True)
    with pytest.raises(ValueError, match="finite real number"):
        shapes.real_number(float("nan"), "m")
    assert type(shapes.output_size(np.int64(5), 3)) is int


def test_badge_and_colab_url_come_from_config():
    url, branch = book.repository()
    link = book.colab_url("chapters/x.ipynb")
    assert (
        link
        == f"https://colab.research.google.com/github/{url.split('github.com/')[1]}/blob/{branch}/chapters/x.ipynb"
    )
    assert link in book.badge("chapters/x.ipynb")


def test_new_chapter_skeleton(tmp_path):
    nb = new_chapter.new_notebook("chapters/99_demo.ipynb", "Demo")
    nbformat.validate(nb)
    assert nb.cells[0].source.startswith("# Demo")
    assert nb.cells[1].cell_type == "markdown"  # the reader meets prose first
    assert nb.cells[2].source == book.setup_cell()
    assert nb.cells[3].metadata["tags"] == ["parameters", "hide-input"]
    assert (
        "smoke=dict(" in nb.cells[4].source
        and "env.profile_table(" in nb.cells[4].source
    )
    assert nb.cells[4].metadata["tags"] == ["hide-input"]
    with pytest.raises(SystemExit):
        new_chapter.main([str(tmp_path / "x.ipynb"), "T"])  # not under chapters/


def test_setup_cell_runs_outside_colab(tmp_path, monkeypatch):
    (tmp_path / "utils").mkdir()
    (tmp_path / "utils" / "__init__.py").write_text("")
    (tmp_path / "chapters").mkdir()
    monkeypatch.chdir(tmp_path / "chapters")
    scope = {}
    exec(book.setup_cell(), scope)
    assert scope["BOOK_ROOT"] == tmp_path


def test_clean_metadata_drops_papermill_noise(tmp_path):
    path = tmp_path / "n.ipynb"
    nb = {
        "metadata": {"papermill": {"duration": 1}},
        "cells": [{"metadata": {"papermill": {}, "execution": {}, "tags": ["x"]}}],
    }
    path.write_text(json.dumps(nb))
    run_notebooks.clean_metadata(path)
    cleaned = json.loads(path.read_text())
    assert cleaned == {"metadata": {}, "cells": [{"metadata": {"tags": ["x"]}}]}


def test_run_notebooks_rejects_missing_files(capsys):
    with pytest.raises(SystemExit):
        run_notebooks.main(["chapters/no_such.ipynb"])
    assert "no such notebook" in capsys.readouterr().err


def test_failed_run_leaves_stored_notebook_untouched(tmp_path, monkeypatch):
    target = tmp_path / "nb.ipynb"
    target.write_text("original")
    import papermill

    def boom(*args, **kwargs):
        raise RuntimeError("cell failed")

    monkeypatch.setattr(papermill, "execute_notebook", boom)
    with pytest.raises(RuntimeError):
        run_notebooks.run_one(target, target, full=False, timeout=10)
    assert target.read_text() == "original"
    assert [p.name for p in tmp_path.iterdir()] == ["nb.ipynb"]


def test_successful_run_replaces_output_and_keeps_it_readable(tmp_path, monkeypatch):
    source = tmp_path / "nb.ipynb"
    source.write_text(json.dumps({"metadata": {}, "cells": []}))
    import papermill

    def fake_execute(input_path, output_path, **kwargs):
        assert kwargs["cwd"] == str(tmp_path) and kwargs["parameters"] is None
        Path(output_path).write_text(
            json.dumps({"metadata": {"papermill": {}}, "cells": []})
        )

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    run_notebooks.run_one(source, source, full=False, timeout=10)
    assert json.loads(source.read_text()) == {"metadata": {}, "cells": []}
    assert [p.name for p in tmp_path.iterdir()] == ["nb.ipynb"]
    assert source.stat().st_mode & 0o044  # group/other can read it


def test_tagged_errors_are_allowed_and_untagged_errors_fail(tmp_path):
    import papermill

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(
            "raise ValueError('shown on purpose')",
            metadata={"tags": ["raises-exception"]},
        ),
        nbformat.v4.new_code_cell("print('after')"),
    ]
    good = tmp_path / "good.ipynb"
    nbformat.write(nb, good)
    run_notebooks.run_one(good, good, full=False, timeout=60)
    outputs = [
        [o["output_type"] for o in c["outputs"]]
        for c in json.loads(good.read_text())["cells"]
    ]
    assert outputs == [["error"], ["stream"]]

    nb.cells[0].metadata = {}
    bad = tmp_path / "bad.ipynb"
    nbformat.write(nb, bad)
    with pytest.raises(run_notebooks.NotebookFailed) as failure:
        run_notebooks.run_one(bad, bad, full=False, timeout=60)
    assert isinstance(failure.value.__cause__, papermill.PapermillExecutionError)


def test_a_failed_run_says_which_cell_and_keeps_the_executed_copy(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(run_notebooks, "FAILED_QUICK", tmp_path / "failed")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1\nprint('first')"),
        nbformat.v4.new_code_cell("y = 2\nz = 3\nw = 4\nv = 5\nraise KeyError('knob')"),
    ]
    bad = tmp_path / "bad.ipynb"
    nbformat.write(nb, bad)
    stored = bad.read_text()
    with pytest.raises(run_notebooks.NotebookFailed) as failure:
        run_notebooks.run_one(bad, bad, full=False, timeout=60)
    report = str(failure.value)
    assert "cell 1:" in report and "    y = 2" in report and "    ..." in report
    assert "KeyError" in report and "knob" in report
    kept = tmp_path / "failed" / "bad.failed.ipynb"
    assert f"kept in {kept}" in report and kept.is_file()
    cells = json.loads(kept.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert "".join(code[0]["outputs"][0]["text"]) == "first\n"  # ran up to there
    assert bad.read_text() == stored  # the stored notebook is untouched


def test_full_failures_are_kept_beside_the_output(tmp_path):
    out = tmp_path / "runs" / "full" / "09_x.ipynb"
    path = run_notebooks.failed_copy_path(Path("09_x.ipynb"), out, full=True)
    assert path == tmp_path / "runs" / "full" / "09_x.failed.ipynb"


def test_smoke_claims_are_counted_against_the_registry(tmp_path, monkeypatch):
    from utils import smoke

    monkeypatch.setattr(
        smoke, "CLAIMS", {"07/a": "A holds", "07/b": "B holds", "08/c": "C"}
    )

    def executed(*names):
        lines = "".join(f"{smoke.SKIP_MARK} {n} (holds): x\n" for n in names)
        cell = nbformat.v4.new_code_cell("")
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=lines)]
        nb = nbformat.v4.new_notebook(cells=[cell])
        path = tmp_path / "07_demo.ipynb"
        nbformat.write(nb, path)
        return path

    nb = Path("07_demo.ipynb")
    assert run_notebooks.check_smoke_claims(nb, executed("07/a", "07/b")) == 2
    with pytest.raises(run_notebooks.NotebookFailed, match=r"never reached \['07/b'\]"):
        run_notebooks.check_smoke_claims(nb, executed("07/a"))
    with pytest.raises(run_notebooks.NotebookFailed, match=r"reached twice \['07/a'\]"):
        run_notebooks.check_smoke_claims(nb, executed("07/a", "07/a", "07/b"))


@pytest.mark.parametrize(
    "argv, message",
    [(["--smoke"], "use it with --full"), (["--full", "--smoke", "--record"], "drop")],
)
def test_smoke_options_are_checked(argv, message, capsys):
    with pytest.raises(SystemExit):
        run_notebooks.main(argv)
    assert message in capsys.readouterr().err


def test_run_notebooks_expands_user_paths(monkeypatch, tmp_path):
    # the shell leaves "~" alone in --out=~/x; the runner must not create a "~" folder
    monkeypatch.setenv("HOME", str(tmp_path))
    args = run_notebooks._parser().parse_args(["--out=~/full", "~/nb.ipynb"])
    assert args.out == tmp_path / "full"
    assert args.notebooks == [tmp_path / "nb.ipynb"]


# --- tools.prose_numbers ---------------------------------------------------------


def test_prose_numbers_flags_typed_measurements_only():
    from tools.prose_numbers import typed_numbers

    text = (
        "The network reaches 68.4% in 170 s. Glued: {glue:text}`acc:.1f`%.\n\n"
        "airbench reaches 94% in 3.83 s {cite}`jordan2024airbench`. "
        "Chance is 10%, code `x = 50%` and https://x.org/5%20s are not prose; "
        "the 1990s are not a duration, and $50\\%$ in math is still a percentage."
    )
    assert typed_numbers(text) == ["68.4%", "170 s", "10%", "50\\%"]
    assert typed_numbers(text, constants=["10%", "50%", "68.4 %", "170s"]) == []


def test_prose_numbers_reads_a_notebooks_metadata(tmp_path):
    import nbformat

    from tools.prose_numbers import main, notebook_findings

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("Measured: 12 minutes."),
        nbformat.v4.new_markdown_cell(
            "A 50% dropout rate.", metadata={"book": {"constant_numbers": ["50%"]}}
        ),
        nbformat.v4.new_code_cell("print('99%')"),
    ]
    path = tmp_path / "demo.ipynb"
    nbformat.write(nb, path)
    assert notebook_findings(path) == [(0, "12 minutes")]
    assert main([str(path)]) == 1


# --- tools.new_chapter --add-runs ------------------------------------------------


def test_add_runs_goes_before_the_exercises_once(tmp_path):
    import nbformat

    from tools import new_chapter

    path = tmp_path / "chapters" / "99_demo.ipynb"
    path.parent.mkdir()
    nb = new_chapter.new_notebook(Path("chapters/99_demo.ipynb"), "Demo")
    nb.cells += [
        nbformat.v4.new_markdown_cell("## Exercises"),
        nbformat.v4.new_markdown_cell("```{exercise} One\n:label: ex-99-one\n```"),
    ]
    nbformat.write(nb, path)
    assert new_chapter.add_runs_sections([path]) == [path]
    cells = nbformat.read(path, as_version=4).cells
    at = next(i for i, c in enumerate(cells) if "{run-records}" in c.source)
    assert cells[at].cell_type == "markdown"
    assert cells[at].source.startswith("## This chapter's recorded runs")
    assert cells[at].source.endswith("```{run-records} 99_demo\n```")
    assert cells[at + 1].source == "## Exercises"
    assert new_chapter.add_runs_sections([path]) == []  # once only
