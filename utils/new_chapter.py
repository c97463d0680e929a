"""Create a new chapter notebook that already follows the book's conventions.

    python -m utils.new_chapter chapters/05_backpropagation.ipynb "Backpropagation"

The notebook gets the title and Colab badge cell, the setup cell, a papermill ``parameters``
cell and the imports/profile cell; add it to ``_toc.yml`` yourself. See CONTRIBUTING.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from utils import book

PARAMETERS = """\
# Parameters (papermill): MODE is quick, full, or None for automatic
MODE = None
SEED = 0"""

PROFILE = """\
from utils import env, plot
PROFILE = env.resolve_profile(MODE)
QUICK = PROFILE == "quick"
env.seed_everything(SEED)
plot.use_book_style()"""


def new_notebook(path: Path, title: str) -> nbformat.NotebookNode:
    """Build (not write) a chapter skeleton for ``path`` (relative to the book root)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# {title}\n\n{book.badge(path)}"),
        nbformat.v4.new_code_cell(book.setup_cell()),
        nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(PROFILE),
    ]
    return nb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.new_chapter", description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="e.g. chapters/05_backpropagation.ipynb")
    parser.add_argument("title")
    args = parser.parse_args(argv)
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
