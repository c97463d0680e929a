"""Create a new chapter notebook that already follows the book's conventions.

    python -m tools.new_chapter chapters/05_backpropagation.ipynb "Backpropagation"
    python -m tools.new_chapter --refresh-setup   # after changing the setup template

The notebook gets the title and Colab badge cell, the setup cell (tagged ``hide-input``:
collapsed in the HTML book), a papermill ``parameters`` cell and the profile cell, whose
``env.by_profile`` call holds every QUICK/FULL-dependent knob; add the notebook to
``_toc.yml`` yourself. See CONTRIBUTING.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from tools import book

PARAMETERS = """\
# Parameters (papermill): MODE is quick, full, or None for automatic
MODE = None
SEED = 0
EPOCHS = None   # training epochs (None: the profile's, below)
N_TRAIN = None  # CIFAR-10 training images (None: the profile's, below)"""

# Every QUICK/FULL-dependent value is decided here, once, with env.by_profile, under
# the book's knob names (tests/test_notebooks.py lists them); a parameter that is not
# None wins.
PROFILE = """\
from utils import env, plot

PROFILE = env.resolve_profile(MODE)
env.seed_everything(SEED)
plot.use_book_style()
P = env.by_profile(
    PROFILE,  # QUICK: a CPU, minutes (the stored outputs); FULL: a GPU
    quick=dict(EPOCHS=2, N_TRAIN=2_000),
    full=dict(EPOCHS=30, N_TRAIN=50_000),
    smoke=dict(EPOCHS=1, N_TRAIN=500),  # FULL-smoke (CI): FULL's code, tiny sizes
    overrides=dict(EPOCHS=EPOCHS, N_TRAIN=N_TRAIN),
)
env.profile_table(
    P,
    labels=dict(N_TRAIN="training images", EPOCHS="epochs"),
    full_t4_minutes=5,
    basis="training MACs x images / a measured T4 throughput",
)"""

INTRO = """\
What this chapter is about, for a reader who has not run anything yet: the question,
why it matters, and what the chapter builds. (The setup and the profile cells below are
collapsed in the HTML book: the reader meets this paragraph first.)"""

# Collapsed in the HTML book (Jupyter Book 1.x): executed and checked, not in the way.
SETUP_TAGS = ["hide-input"]
PROFILE_TAGS = ["hide-input"]


def new_notebook(path: Path, title: str) -> nbformat.NotebookNode:
    """Build (not write) a chapter skeleton for ``path`` (relative to the book root)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# {title}\n\n{book.badge(path)}"),
        nbformat.v4.new_markdown_cell(INTRO),
        nbformat.v4.new_code_cell(
            book.setup_cell(), metadata={"tags": list(SETUP_TAGS)}
        ),
        nbformat.v4.new_code_cell(
            PARAMETERS, metadata={"tags": ["parameters", *PROFILE_TAGS]}
        ),
        nbformat.v4.new_code_cell(PROFILE, metadata={"tags": list(PROFILE_TAGS)}),
    ]
    return nb


RUNS_TEXT = """\
## This chapter's recorded runs

What this page shows was computed in the QUICK profile. The table below is read from
`results/runs/` when the book is built, so it always lists every record: the QUICK
run that stored these outputs and, where one has been made, a FULL run, each with the
command that reproduces it, its wall time, the chapter's headline numbers, the machine
(CPU model, the instruction-set features that change which kernels run, load average)
and the package versions.

```{{run-records}} {stem}
```"""


def runs_cells(stem: str) -> list:
    """The closing section every chapter carries: a heading and its recorded runs,
    rendered when the book is built (the ``run-records`` directive of
    ``_ext/run_records.py``: a table stored by a cell could never show the run that
    stores it)."""
    return [nbformat.v4.new_markdown_cell(RUNS_TEXT.format(stem=stem))]


def _runs_position(cells) -> int:
    """Before the exercises (their heading, if it has one), else at the end."""
    for i, cell in enumerate(cells):
        if cell.cell_type == "markdown" and "{exercise}" in cell.source:
            before = cells[i - 1]
            first = before.source.lstrip().splitlines()[:1]
            titled = first and first[0].startswith("#") and "xercise" in first[0]
            return i - 1 if before.cell_type == "markdown" and titled else i
    return len(cells)


def add_runs_sections(paths) -> list[Path]:
    """Give every notebook in ``paths`` its recorded-runs section (see
    :func:`runs_cells`) if it has none; return the paths changed."""
    changed = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if any("{run-records}" in c.source for c in nb.cells):
            continue
        at = _runs_position(nb.cells)
        nb.cells[at:at] = runs_cells(Path(path).stem)
        nbformat.write(nb, path)
        changed.append(Path(path))
    return changed


def refresh_setup_cells(paths) -> list[Path]:
    """Rewrite each notebook's setup cell (first code cell, tagged ``hide-input``) from
    ``_config.yml``; return the paths changed.

    Run it after changing ``repository:`` in ``_config.yml`` or the setup template. The
    setup cell prints nothing, so stored outputs stay valid.
    """
    changed = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code")
        tags = first.metadata.get("tags", [])
        missing = [t for t in SETUP_TAGS if t not in tags]
        if first.source != book.setup_cell() or missing:
            first.source = book.setup_cell()
            first.metadata["tags"] = tags + missing
            nbformat.write(nb, path)
            changed.append(Path(path))
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.new_chapter", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "path", type=Path, nargs="?", help="e.g. chapters/05_backpropagation.ipynb"
    )
    parser.add_argument("title", nargs="?")
    parser.add_argument(
        "--refresh-setup",
        action="store_true",
        help="rewrite the setup cell of every chapter instead",
    )
    parser.add_argument(
        "--add-runs",
        action="store_true",
        help="give every chapter its recorded-runs section if it lacks one",
    )
    args = parser.parse_args(argv)
    if args.add_runs:
        changed = add_runs_sections(sorted((book.ROOT / "chapters").glob("*.ipynb")))
        print(f"added the recorded-runs section to {len(changed)} notebook(s)")
        return 0
    if args.refresh_setup:
        changed = refresh_setup_cells(sorted((book.ROOT / "chapters").glob("*.ipynb")))
        print(f"refreshed the setup cell of {len(changed)} notebook(s)")
        return 0
    if args.path is None or args.title is None:
        parser.error("give PATH and TITLE (or --refresh-setup)")
    if args.path.suffix != ".ipynb" or args.path.parent.name != "chapters":
        parser.error("the path must be chapters/NAME.ipynb")
    if args.path.exists():
        parser.error(f"{args.path} exists already")
    nb = new_notebook(args.path, args.title)
    nbformat.write(nb, args.path)
    print(f"wrote {args.path}; now list it in _toc.yml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
