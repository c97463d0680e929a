"""Find measured-looking numbers typed by hand in a chapter's Markdown.

    python -m tools.prose_numbers chapters/08_cifar10_cnn.ipynb   # no argument: all

The book promises that a number in the prose which a run produces comes from a cell:
it is glued (``myst_nb.glue`` in a code cell, `` {glue:text}`name` `` in Markdown), so
prose and stored outputs cannot disagree. This tool flags every percentage and every
duration (seconds, milliseconds, minutes, hours) written in a Markdown cell unless

- it sits inside a ``{glue...}`` role (it is not typed at all);
- its sentence cites a source (`` {cite}`key` ``): a figure quoted from a paper;
- the cell lists it as a constant in its metadata, for numbers that are chosen or
  known rather than measured (a chance level, a dropout rate, a budget)::

      {"book": {"constant_numbers": ["10%", "60 s"]}}

``tests/test_notebooks.py`` runs it on every chapter.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_GLUE = re.compile(r"\{glue(?::[a-z]+)?\}`[^`]*`")
_CODE = re.compile(r"`[^`\n]*`")
_URL = re.compile(r"https?://\S+")
_NUMBER = r"(?<![\w.,{])\d[\d,{}]*(?:\.\d+)?"
_SPACE = r"(?:\s|~|\\,|\\ |&nbsp;|\u00a0|\u202f)"
_MEASURE = re.compile(
    rf"{_NUMBER}(?:\s?\\?%|{_SPACE}?percent\b"
    rf"|{_SPACE}(?:s|sec|seconds?|ms|min|minutes?|h|hours?)\b|(?:ms|min)\b)"
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(*$])|\n\s*\n|\n\s*[-*|] ")


def _normal(text: str) -> str:
    """A number as the metadata lists it: no backslashes, no spacing."""
    return re.sub(r"\\|\s|~|&nbsp;|[{}]", "", text).replace("\\,", "")


def typed_numbers(markdown: str, constants=()) -> list[str]:
    """Percentages and durations in ``markdown`` that are neither glued, cited nor
    listed in ``constants``; returned as written, in order of appearance.
    """
    allowed = {_normal(c) for c in constants}
    text = _URL.sub(" ", _CODE.sub(" ", _GLUE.sub(" ", markdown)))
    found = []
    for sentence in _SENTENCE_END.split(text):
        if "{cite" in sentence:
            continue
        for match in _MEASURE.finditer(sentence):
            if _normal(match.group(0)) not in allowed:
                found.append(match.group(0).strip())
    return found


def notebook_findings(path: Path) -> list[tuple[int, str]]:
    """``(cell index, number)`` for each typed number in a notebook's Markdown cells."""
    cells = json.loads(Path(path).read_text())["cells"]
    findings = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        constants = cell.get("metadata", {}).get("book", {}).get("constant_numbers", [])
        for number in typed_numbers("".join(cell["source"]), constants):
            findings.append((index, number))
    return findings


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "chapters").glob("*.ipynb"))
    total = 0
    for path in paths:
        for index, number in notebook_findings(path):
            print(f"{path.name}: cell {index}: {number!r}")
            total += 1
    print(f"{total} typed number(s)")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
