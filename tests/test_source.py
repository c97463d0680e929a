"""utils.source: the chapters display the tested code itself, deterministically."""

import inspect

import pytest

from utils import conv, env, source


def test_plain_form_is_the_source_itself():
    shown = source.show(env.by_profile)
    assert repr(shown) == inspect.getsource(env.by_profile).rstrip("\n")
    assert shown.path == "utils/profiles.py"  # env re-exports it; the file is its home


def test_markdown_is_a_python_fence_and_deterministic():
    md = source.show(conv.im2col)._repr_markdown_()
    assert md == source.show(conv.im2col)._repr_markdown_()
    assert md.startswith("*from `utils/conv.py`*\n\n```python\ndef im2col(")
    assert md.endswith("\n```\n")


def test_methods_are_dedented_and_fences_outgrow_backticks():
    shown = source.show(source.Source._repr_markdown_)
    assert shown.code.startswith("def _repr_markdown_(self)")
    assert shown._repr_markdown_().split("\n")[2] == "```python"
    code_with_ticks = source.Source("x = '````'\n", "m.py")._repr_markdown_()
    assert "`````python\nx = '````'\n`````" in code_with_ticks


@pytest.mark.parametrize("obj", [len, 3, "conv.im2col", conv])
def test_what_has_no_python_source_is_a_clear_type_error(obj):
    with pytest.raises(TypeError, match="source.show"):
        source.show(obj)
