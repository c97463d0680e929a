"""Show, inside a chapter, the source of the code the chapter teaches.

The book keeps each implementation once, in ``utils`` (where the tests check it). A
chapter that explains an implementation displays that very source with :func:`show`
instead of a copy that could drift from the tested code. Used from chapter 3 on
(first in chapter 3, "Convolution", for the loop and im2col convolutions).

The display is Markdown, a fenced ``python`` block: Jupyter, Colab and Jupyter Book
each highlight it with their own (light or dark) theme, and the stored output is the
same text on every machine, which nbval can compare.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Source:
    """The source of one function or class, ready to display in a notebook.

    ``code`` is the dedented source (a ``str`` ending in a newline) and ``path`` the
    file it comes from, relative to the book root (e.g. ``"utils/conv.py"``).
    In a notebook it renders as a highlighted code block (``text/markdown``); its
    ``text/plain`` form, ``repr()``, is ``code`` itself. Used from chapter 3 on.
    """

    def __init__(self, code: str, path: str):
        self.code, self.path = code, path

    def __repr__(self) -> str:
        return self.code.rstrip("\n")

    def _repr_markdown_(self) -> str:
        longest = max((len(run) for run in re.findall(r"`+", self.code)), default=0)
        fence = "`" * max(3, longest + 1)  # longer than any backtick run in the code
        return f"*from `{self.path}`*\n\n{fence}python\n{self.code}{fence}\n"


def show(obj) -> Source:
    """Return the source of ``obj`` for display: put ``source.show(f)`` last in a cell.

    ``obj`` is a function, class or method defined in a ``.py`` file (a book module,
    usually). Methods are dedented; decorators are included. Chapter 3 introduces it.

    Raises ``TypeError`` when ``obj`` is not a function, class or method, or when its
    source cannot be found (built-ins, C extensions, code typed into a notebook).
    """
    target = inspect.unwrap(obj) if callable(obj) else obj
    if not (
        inspect.isfunction(target)
        or inspect.isclass(target)
        or inspect.ismethod(target)
    ):
        raise TypeError(
            "source.show needs a function, class or method defined in a .py file, "
            f"got {type(obj).__name__} {obj!r}"
        )
    try:
        code = textwrap.dedent(inspect.getsource(target))
        file = Path(inspect.getsourcefile(target) or "").resolve()
    except (OSError, TypeError) as err:
        raise TypeError(
            f"source.show cannot find the source of {obj!r} ({err}); "
            "show a function or class from a .py file, such as one in utils/"
        ) from None
    path = file.relative_to(ROOT).as_posix() if file.is_relative_to(ROOT) else file.name
    return Source(code if code.endswith("\n") else code + "\n", path)
