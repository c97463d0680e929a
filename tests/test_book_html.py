"""_ext/book_html.py: each page lists every script once (no doubled THEBE_JS_URL)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_ext"))
import book_html  # noqa: E402


class _JavaScript:
    """Stand-in for Sphinx's script entry (filename, priority, attributes), so these
    tests also run where Sphinx is not installed (the Colab stage)."""

    def __init__(self, filename, priority=500, **attributes):
        self.filename, self.priority, self.attributes = filename, priority, attributes


def test_duplicate_inline_and_file_scripts_are_dropped():
    body = 'const THEBE_JS_URL = "x"'
    scripts = [
        _JavaScript("_static/doctools.js", priority=200),
        _JavaScript(None, priority=500, body=body),
        _JavaScript("_static/sphinx-thebe.js", priority=500, **{"async": "async"}),
        _JavaScript("", priority=500, body=body),  # the same script, registered again
        _JavaScript("_static/doctools.js", priority=200),
        _JavaScript(None, priority=500, body="let other = 1"),
    ]
    context = {"script_files": scripts}
    book_html._drop_duplicate_scripts(None, "page", "page.html", context, None)
    assert context["script_files"] is scripts  # changed in place, as Sphinx renders it
    kept = [(s.filename or "", s.attributes.get("body")) for s in scripts]
    assert kept == [
        ("_static/doctools.js", None),
        ("", body),
        ("_static/sphinx-thebe.js", None),
        ("", "let other = 1"),
    ]


def test_pages_without_scripts_are_left_alone():
    context = {}
    book_html._drop_duplicate_scripts(None, "page", "page.html", context, None)
    assert context == {}


def test_colab_badge_is_served_from_the_book():
    body = f'<a href="x"><img alt="Open In Colab" src="{book_html.COLAB_BADGE}" /></a>'
    context = {"body": body, "pathto": lambda name, resource: f"../{name}"}
    book_html._serve_badge_locally(None, "chapters/01", "page.html", context, None)
    assert context["body"] == (
        '<a href="x"><img alt="Open In Colab" src="../_static/colab-badge.svg" /></a>'
    )
    assert (
        Path(__file__).resolve().parent.parent / "_assets/colab-badge.svg"
    ).is_file()
