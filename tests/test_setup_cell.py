"""The chapters' setup cell (tools.book.setup_cell) run where readers run it.

In a checkout, outside any checkout (a downloaded notebook), with BOOK_ROOT set, and as
on Colab: a stand-in ``google.colab`` module, the repository URL redirected to a local
file:// repository through a temporary git config, the working folder standing in for
/content. Nothing here touches the network or the machine's own git config.
"""

import subprocess
import sys
import types

import pytest

from tools import book


def run_cell():
    """Execute the setup cell in a fresh namespace; return that namespace."""
    scope = {}
    exec(book.setup_cell(), scope)
    return scope


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No BOOK_ROOT from the caller, sys.path restored, git configured only here."""
    monkeypatch.delenv("BOOK_ROOT", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "test@example.org")
    return gitconfig


def make_checkout(folder):
    (folder / "utils").mkdir(parents=True)
    (folder / "utils" / "__init__.py").write_text("")
    (folder / "chapters").mkdir()
    return folder


def no_subprocess(*args, **kwargs):
    raise AssertionError("outside Colab the setup cell must not run git")


def test_inside_a_checkout_is_silent_and_offline(tmp_path, monkeypatch, capsys):
    root = make_checkout(tmp_path / "book")
    monkeypatch.chdir(root / "chapters")
    monkeypatch.setattr(subprocess, "run", no_subprocess)
    scope = run_cell()
    assert scope["BOOK_ROOT"] == root.resolve()
    assert sys.path[0] == str(root.resolve())
    assert capsys.readouterr() == ("", "")


def test_outside_a_checkout_says_what_to_do(tmp_path, monkeypatch):
    # regression: this used to end in a bare StopIteration from next(...)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(subprocess, "run", no_subprocess)
    url, _ = book.repository()
    with pytest.raises(FileNotFoundError) as err:
        run_cell()
    message = str(err.value)
    for part in ("utils/__init__.py", str(tmp_path.resolve()), url, "chapters/"):
        assert part in message
    assert "BOOK_ROOT" in message


def test_outside_a_checkout_as_a_reader_sees_it(tmp_path):
    """A plain Python process (as a kernel is) in a folder outside any checkout."""
    done = subprocess.run(
        [sys.executable, "-c", book.setup_cell()],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stdout == ""
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("FileNotFoundError: No book checkout")
    assert "StopIteration" not in done.stderr


def test_book_root_variable_points_at_a_checkout(tmp_path, monkeypatch):
    root = make_checkout(tmp_path / "elsewhere" / "book")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    monkeypatch.setenv("BOOK_ROOT", str(root))
    assert run_cell()["BOOK_ROOT"] == root.resolve()
    assert sys.path[0] == str(root.resolve())


def test_book_root_variable_pointing_nowhere_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOOK_ROOT", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="missing"):
        run_cell()


def git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def colab(tmp_path, monkeypatch, isolated):
    """Colab stand-in: google.colab imported, the book URL served from a local repo.

    Returns (origin, content): the local repository the URL now points at, and the
    empty folder standing in for /content (the working folder).
    """
    url, branch = book.repository()
    origin = make_checkout(tmp_path / "origin")
    git("init", "-q", "-b", branch, cwd=origin)
    git("add", ".", cwd=origin)
    git("commit", "-q", "-m", "first", cwd=origin)
    isolated.write_text(f'[url "{origin.as_uri()}"]\n\tinsteadOf = {url}\n')
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    content = tmp_path / "content"
    content.mkdir()
    monkeypatch.chdir(content)
    return origin, content


def test_colab_clones_into_the_working_folder(colab, capsys):
    origin, content = colab
    name = book.repository()[0].rsplit("/", 1)[-1]
    scope = run_cell()
    assert scope["BOOK_ROOT"] == (content / name).resolve()
    assert (content / name / "utils" / "__init__.py").is_file()
    assert sys.path[0] == str((content / name).resolve())
    assert capsys.readouterr().out == ""


def test_colab_updates_an_older_clone(colab, capsys):
    # regression: an existing clone used to be kept as it was, however old
    origin, content = colab
    run_cell()
    (origin / "utils" / "new.py").write_text("X = 1\n")
    git("add", ".", cwd=origin)
    git("commit", "-q", "-m", "second", cwd=origin)
    scope = run_cell()
    assert (scope["BOOK_ROOT"] / "utils" / "new.py").is_file()
    assert capsys.readouterr().out == ""


def test_colab_says_so_when_the_clone_cannot_be_updated(colab, capsys):
    origin, content = colab
    first = run_cell()["BOOK_ROOT"]
    git("remote", "set-url", "origin", (origin.parent / "gone").as_uri(), cwd=first)
    scope = run_cell()
    assert scope["BOOK_ROOT"] == first
    out = capsys.readouterr().out
    assert out.startswith(f"Could not update {first}") and "as it is" in out


def test_colab_clone_failure_raises_and_leaves_nothing(colab, isolated):
    origin, content = colab
    isolated.write_text('[url "file:///nonexistent/"]\n\tinsteadOf = https://\n')
    with pytest.raises(subprocess.CalledProcessError):
        run_cell()
    assert list(content.iterdir()) == []


def test_template_is_formatted_at_line_length_88():
    """The lead's ruff pass must leave the notebooks equal to the template."""
    source = book.setup_cell()
    compile(source, "setup", "exec")
    for line in source.splitlines():
        assert len(line) <= 88 and line == line.rstrip() and "\t" not in line, line


@pytest.mark.parametrize(
    "url",
    [
        "https://gitlab.com/a/b",
        "https://github.com/a",
        "https://github.com/a/b.git",
        "https://github.com/a/b/tree/main",
        'https://github.com/a/b"',
        None,
    ],
)
def test_repository_rejects_urls_colab_cannot_open(url):
    with pytest.raises(ValueError, match="repository.url"):
        book.repository({"repository": {"url": url, "branch": "main"}})


def test_repository_needs_a_branch_and_drops_a_trailing_slash():
    with pytest.raises(ValueError, match="repository.branch"):
        book.repository({"repository": {"url": "https://github.com/a/b"}})
    cfg = {"repository": {"url": "https://github.com/a/b/", "branch": "main"}}
    assert book.repository(cfg) == ("https://github.com/a/b", "main")


def test_colab_url_rejects_absolute_paths():
    with pytest.raises(ValueError, match="from the book root"):
        book.colab_url(book.ROOT / "chapters" / "01_x.ipynb")
