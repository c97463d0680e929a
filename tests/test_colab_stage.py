"""The Colab stage of CI (.ci/colab_notebooks.py): its stand-ins, and one real run.

The stage itself (.ci/colab_stage.sh) runs every chapter this way on Colab's versions;
these tests check the mechanism on a tiny notebook and a tiny local repository.
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


def test_missing_notebook_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        colab_notebooks.main(["chapters/no_such.ipynb"])
    assert "no such notebook" in capsys.readouterr().err


def test_the_stage_uses_colabs_python_and_pins():
    script = (ROOT / ".ci" / "colab_stage.sh").read_text()
    pins = (ROOT / ".ci" / "colab-constraints.txt").read_text()
    assert "COLAB_PYTHON=3.13" in script and "colab-constraints.txt" in script
    assert "bash .ci/colab_stage.sh" in (ROOT / ".ci" / "run").read_text()
    for pin in ("tensorflow-cpu==2.20.0", "keras==3.13.2", "numpy==2.1.3"):
        assert pin in pins.splitlines()


def test_the_stage_fails_without_colabs_python(tmp_path):
    tools = tmp_path / "bin"  # a PATH with no Python and no pyenv on it
    tools.mkdir()
    (tools / "dirname").symlink_to(shutil.which("dirname"))
    env = {"PATH": str(tools), "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path)}
    done = subprocess.run(
        [shutil.which("bash"), str(ROOT / ".ci" / "colab_stage.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "FAILED: Python 3.13" in done.stderr and "pyenv install" in done.stderr
