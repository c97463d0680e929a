"""The ``run-records`` directive: a chapter's recorded runs, rendered at build time.

A chapter ends with a Markdown cell::

    ```{run-records} 08_cifar10_cnn
    ```

and the HTML shows every record of that chapter in ``results/runs/`` (QUICK and FULL),
read when the book is built (:func:`utils.runs.table_rows`). A table printed by a
notebook cell could never contain the run that stores the notebook; this one always
shows the newest records. A profile without a record gets one sentence that says how
to make it. Sphinx rebuilds the page when a record changes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from utils import runs  # noqa: E402


def _table(header: list, rows: list) -> nodes.table:
    table = nodes.table(classes=["run-records"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for _ in header:
        group += nodes.colspec(colwidth=1)
    head, body = nodes.thead(), nodes.tbody()
    group += head
    group += body
    for target, cells in ((head, [header]), (body, rows)):
        for cells_of_row in cells:
            row = nodes.row()
            for i, text in enumerate(cells_of_row):
                entry = nodes.entry()
                # a command is code: a literal keeps "--full" (smart quotes would turn
                # the two hyphens into an en dash, and a copied command would fail)
                if i > 0 and cells_of_row[0] == "command":
                    entry += nodes.paragraph("", "", nodes.literal(text, text))
                else:
                    entry += nodes.paragraph(text=text)
                row += entry
            target += row
    return table


class RunRecords(Directive):
    """``{run-records} CHAPTER``: the records of ``results/runs/CHAPTER-*.json``."""

    required_arguments = 1
    has_content = False

    def run(self):
        chapter = self.arguments[0]
        folder = runs.RESULTS
        env = getattr(self.state.document.settings, "env", None)
        if env is not None:
            for path in sorted(folder.glob(f"{chapter}-*.json")):
                env.note_dependency(str(path))
        try:
            header, rows = runs.table_rows(chapter, folder)
        except ValueError as err:
            raise self.error(f"run-records {chapter}: {err}") from None
        out = []
        if len(header) > 1:
            out.append(_table(header, rows))
        missing = [p for p in runs.PROFILES if p.upper() not in header]
        for profile in missing:
            flag = " --full" if profile == "full" else ""
            where = "on a GPU, or with BOOK_MODE=full on a CPU" if flag else "here"
            command = (
                f"python -m tools.run_notebooks --record{flag} chapters/{chapter}.ipynb"
            )
            out.append(
                nodes.paragraph(
                    "",
                    "",
                    nodes.Text(
                        f"No {profile.upper()} run of this chapter is recorded yet; "
                    ),
                    nodes.literal(command, command),
                    nodes.Text(f" makes one ({where})."),
                )
            )
        note = (
            "Wall times compare only between runs on the same machine: the hardware "
            "row names each run's CPU and the features that change its kernels."
        )
        out.append(nodes.paragraph(text=note))
        return out


def setup(app):
    app.add_directive("run-records", RunRecords)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
