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

PREFIX = "application/papermill.record/"  # myst-nb's MIME prefix for hidden values


def glue(name: str, value, display: bool = False) -> None:
    """Store ``value``'s displayed form in the cell's outputs under ``name``.

    ``name``: a non-empty identifier, unique in the notebook (``lower_snake_case``).
    ``display=False`` (the book's default, unlike myst-nb's) keeps it out of the cell's
    visible output. Raises ``ValueError`` for a name that is not an identifier. Outside
    IPython (a plain script) there is nothing to store the value in, and the call does
    nothing.
    """
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = (
            value.item()
        )  # a NumPy scalar glues as a plain number (format specs work)
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(
            f"glue name must be an identifier such as 'test_acc', got {name!r}"
        )
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
