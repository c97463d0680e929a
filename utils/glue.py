"""Glue a value computed in a cell into the chapter's prose, with or without myst-nb.

Every chapter. A number that a run produces is never typed into the Markdown: a code
cell glues it (``glue("test_acc_pct", f"{100 * acc:.1f}%")``) and the Markdown shows it
with `` {glue:text}`test_acc_pct` ``. The book's build (Jupyter Book with myst-nb) reads
the glued values from the stored outputs, so prose and outputs cannot disagree.

:func:`glue` is ``myst_nb.glue`` where myst-nb is installed (a clone with the book's
requirements) and otherwise writes exactly the output myst-nb would write: Google
Colab has no myst-nb, and a chapter must run there unchanged.
"""

from __future__ import annotations

import math
import re

PREFIX = "application/papermill.record/"  # myst-nb's MIME prefix for hidden values


_NOT_A_NUMBER = re.compile(r"(?<![A-Za-z])(nan|inf)(?![A-Za-z])", re.IGNORECASE)


def _check_number(name: str, value) -> None:
    bad = (isinstance(value, float) and not math.isfinite(value)) or (
        isinstance(value, str) and len(value) <= 40 and _NOT_A_NUMBER.search(value)
    )
    if bad:
        raise ValueError(
            f"glue {name!r} got {value!r}: a NaN or infinite number must not reach the "
            "prose; find the computation that produced it (an empty set, a division "
            "by zero, a diverged run) and fix it, or glue a sentence that says why "
            "there is no number"
        )


def glue(name: str, value, display: bool = False) -> None:
    """Store ``value``'s displayed form in the cell's outputs under ``name``.

    Every chapter glues its measured numbers this way, from chapter 1 on.

    ``name``: a non-empty identifier, unique in the notebook (``lower_snake_case``).
    ``display=False`` (the book's default, unlike myst-nb's) keeps it out of the cell's
    visible output. Raises ``ValueError`` for a name that is not an identifier, and
    for a NaN or infinite number, or a short string that shows one (``"nan%"``): a
    number that went wrong must stop the run, not reach the prose (the package's NaN
    policy, :mod:`utils.shapes`). Outside IPython (a plain script) there is nothing to
    store the value in, and the call does nothing.
    """
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = (
            value.item()
        )  # a NumPy scalar glues as a plain number (format specs work)
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(
            f"glue name must be an identifier such as 'test_acc', got {name!r}"
        )
    _check_number(name, value)
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        myst_glue = None
    if myst_glue is not None:
        myst_glue(name, value, display=display)
        return
    from IPython import get_ipython

    if get_ipython() is None:
        return
    from IPython.core.formatters import format_display_data
    from IPython.display import display as ipy_display

    bundle, metadata = format_display_data(value)
    prefix = "" if display else PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    ipy_display({prefix + k: v for k, v in bundle.items()}, raw=True, metadata=metadata)
