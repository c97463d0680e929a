"""The Colab stages of CI (.ci/colab_notebooks.py): its stand-ins, and one real run.

The stages themselves (.ci/colab_stage.sh current|fallback) run the chapters this way
on each Colab runtime's versions (the fallback runtime's stage each chapter's first
half); these tests check the mechanism on a tiny notebook and a tiny local repository.
"""

import importlib.util
import os
import shutil
import subprocess

import nbformat
import pytest

from tools import book

ROOT = book.ROOT
spec = importlib.util.spec_from_file_location(
    "colab_notebooks", ROOT / ".ci" / "colab_notebooks.py"
)
colab_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(colab_notebooks)

URL = "https://github.com/example-owner/example-book"


def git(*args, cwd, env=None):
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A committed one-file book (utils/__init__.py) on branch main."""
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "test@example.org")
    root = tmp_path / "book"
    (root / "utils").mkdir(parents=True)
    (root / "utils" / "__init__.py").write_text("MARK = 'from the clone'\n")
    git("init", "-q", "-b", "main", cwd=root)
    git("add", ".", cwd=root)
    git("-c", "commit.gpgsign=false", "commit", "-q", "-m", "book", cwd=root)
    return root


def use_env(monkeypatch, env):
    for key in list(os.environ):
        if key not in env:
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def test_sandbox_stands_in_for_colab(tmp_path, checkout, monkeypatch):
    monkeypatch.setenv("BOOK_ROOT", "/somewhere")
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    env = colab_notebooks.make_sandbox(sandbox, checkout, URL)
    stub = sandbox / "stub"
    assert env["PYTHONPATH"] == str(stub) and "BOOK_ROOT" not in env
    assert (stub / "google" / "colab" / "__init__.py").is_file()
    assert not (stub / "google" / "__init__.py").exists()  # would hide google.protobuf
    assert env["BOOK_MODE"] == "quick" and env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert env["GIT_CONFIG_GLOBAL"].startswith(str(sandbox))
    heads = git("ls-remote", URL, cwd=tmp_path, env=env)  # served by the checkout
    assert heads.split()[0] == git("rev-parse", "HEAD", cwd=checkout).strip()


def test_a_notebook_runs_as_on_colab(tmp_path, checkout, monkeypatch):
    monkeypatch.setattr(book, "repository", lambda: (URL, "main"))
    checks = """\
import os, sys, google.colab, utils
assert "google.colab" in sys.modules and utils.MARK == "from the clone"
assert BOOK_ROOT.parent == pathlib.Path(os.getcwd())
"""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(book.setup_cell()),
        nbformat.v4.new_code_cell(checks),
        nbformat.v4.new_code_cell("1 / 0", metadata={"tags": ["raises-exception"]}),
    ]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    use_env(monkeypatch, colab_notebooks.make_sandbox(sandbox, checkout, URL))
    content = tmp_path / "content"
    assert colab_notebooks.run_notebook(path, content, "example-book", 120) == ""
    assert (content / "example-book" / "utils" / "__init__.py").is_file()


def test_first_half_runs_to_the_middle_and_compiles_the_rest(
    tmp_path, checkout, monkeypatch
):
    monkeypatch.setattr(book, "repository", lambda: (URL, "main"))
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(book.setup_cell()),
        nbformat.v4.new_markdown_cell("The second half never runs."),
        nbformat.v4.new_code_cell("import os\n!echo shell lines compile too\n%time 1"),
        nbformat.v4.new_code_cell("raise SystemExit('the second half ran')"),
    ]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    use_env(monkeypatch, colab_notebooks.make_sandbox(sandbox, checkout, URL))
    run = colab_notebooks.run_notebook
    assert run(path, tmp_path / "half", "example-book", 120, first_half=True) == ""
    assert "the second half ran" in run(path, tmp_path / "whole", "example-book", 120)

    nb.cells[-1].source = "def broken(:\n    pass"  # not run, but Python rejects it
    nbformat.write(nb, path)
    error = run(path, tmp_path / "bad", "example-book", 120, first_half=True)
    assert error.startswith("SyntaxError in a cell not run ('def broken(:')")


def test_first_half_counts_and_cuts():
    count = colab_notebooks.first_half_count
    assert [count(n) for n in (0, 1, 2, 15, 16, 17)] == [0, 1, 1, 8, 8, 9]
    with pytest.raises(ValueError, match="n_code_cells=-1 is negative"):
        count(-1)
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook()
    nb.cells = [md("title"), code("a"), md("x"), code("b"), md("y"), code("c")]
    dropped = colab_notebooks.cut_to_first_half(nb)
    assert [c.source for c in nb.cells] == ["title", "a", "x", "b"]
    assert [c.source for c in dropped] == ["y", "c"]
    nb.cells = [md("only prose")]
    assert colab_notebooks.cut_to_first_half(nb) == [] and len(nb.cells) == 1


def test_missing_notebook_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        colab_notebooks.main(["chapters/no_such.ipynb"])
    assert "no such notebook" in capsys.readouterr().err


@pytest.mark.parametrize(
    "runtime, constraints, python, pins",
    [
        ("", "colab-constraints.txt", "3.13", ["numpy==2.1.3", "pandas==2.2.3"]),
        (
            "fallback",
            "colab-fallback-constraints.txt",
            "3.12",
            ["numpy==2.0.2", "pandas==2.2.2", "jax==0.7.2"],
        ),
    ],
)
def test_each_stage_uses_its_runtimes_python_and_pins(
    runtime, constraints, python, pins
):
    script = (ROOT / ".ci" / "colab_stage.sh").read_text()
    text = (ROOT / ".ci" / constraints).read_text()
    assert f".ci/{constraints}" in script
    assert f"# colab-python: {python}." in text
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    # the stage's line may set environment variables before the command
    wanted = f"bash .ci/colab_stage.sh {runtime}".strip()
    assert any(
        line.strip() == wanted or line.strip().endswith(" " + wanted) for line in ci
    ), f"no line of .ci/run runs {wanted!r}"
    pins += ["tensorflow-cpu==2.20.0  # Colab: tensorflow==2.20.0", "keras==3.13.2"]
    for pin in pins:
        assert pin in text.splitlines()


@pytest.mark.parametrize("runtime, python", [([], "3.13"), (["fallback"], "3.12")])
def test_the_stage_fails_without_colabs_python(tmp_path, runtime, python):
    tools = tmp_path / "bin"  # a PATH with no Python and no pyenv on it
    tools.mkdir()
    (tools / "dirname").symlink_to(shutil.which("dirname"))
    env = {"PATH": str(tools), "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path)}
    done = subprocess.run(
        [shutil.which("bash"), str(ROOT / ".ci" / "colab_stage.sh"), *runtime],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert f"FAILED: Python {python} (Colab's)" in done.stderr
    assert f"pyenv install {python}" in done.stderr


def test_the_stage_refuses_a_kept_virtualenv_of_another_python(tmp_path):
    tools = tmp_path / "bin"  # PATH: dirname only; Python comes from a fake pyenv
    tools.mkdir()
    (tools / "dirname").symlink_to(shutil.which("dirname"))
    fake = "#!/bin/sh\necho 3.11\n"  # answers the stage's version question
    colab = tmp_path / "pyenv" / "versions" / "3.12.9" / "bin" / "python3.12"
    venv = tmp_path / "venv" / "bin" / "python"
    for script in (colab, venv):
        script.parent.mkdir(parents=True)
        script.write_text(fake)
        script.chmod(0o755)
    env = {"PATH": str(tools), "HOME": str(tmp_path)}
    env.update(PYENV_ROOT=str(colab.parents[3]), COLAB_VENV=str(venv.parents[1]))
    done = subprocess.run(
        [shutil.which("bash"), str(ROOT / ".ci" / "colab_stage.sh"), "fallback"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "[colab] runtime: fallback" in done.stdout
    assert f"the virtualenv {venv.parents[1]} has Python 3.11" in done.stderr
    assert "needs 3.12; give COLAB_VENV a folder of its own" in done.stderr
