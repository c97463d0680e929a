"""The book's own conventions, derived from ``_config.yml`` so they live in one place.

CONTRIBUTING.md describes the conventions; this module produces the pieces every
chapter notebook must carry (the Colab badge and the setup cell), and
``tests/test_notebooks.py`` checks each notebook against them. Readers never need this
module; maintainers do.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "_config.yml"

# The first code cell of every chapter. Kept ruff-clean at line length 88 (so a
# formatting pass leaves the notebooks equal to it); tests/test_setup_cell.py runs it
# in a checkout, outside one, with BOOK_ROOT, and as on Colab (clone, then update).
SETUP_TEMPLATE = """\
# Setup (the same in every chapter): make the book's `utils` package importable.
# Colab: clone the book into the working folder (/content there), or update that clone.
# Elsewhere: find a checkout ($BOOK_ROOT, else this folder or one above); offline.
import os
import pathlib
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide TensorFlow's C++ logs ...
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # ... including its oneDNN banner
BOOK_REPO = "{url}"
here = pathlib.Path(os.environ.get("BOOK_ROOT") or ".").expanduser().resolve()
if "google.colab" in sys.modules:
    here = pathlib.Path.cwd() / BOOK_REPO.rsplit("/", 1)[-1]
    if not here.exists():
        git = ["clone", "-q", "--depth=1", "--branch={branch}", BOOK_REPO, str(here)]
        subprocess.run(["git", *git], check=True)
    elif subprocess.run(["git", "-C", str(here), "pull", "-q", "--ff-only"]).returncode:
        print(f"Could not update {{here}}: using it as it is (delete it to re-clone).")
roots = [here, *here.parents]
BOOK_ROOT = next((p for p in roots if (p / "utils/__init__.py").is_file()), None)
if BOOK_ROOT is None:
    raise FileNotFoundError(
        f"No book checkout (a folder with utils/__init__.py) at or above {{here}}:"
        f" clone {{BOOK_REPO}} and open this notebook from its chapters/ folder,"
        " or set the environment variable BOOK_ROOT to the checkout's folder."
    )
if str(BOOK_ROOT) not in sys.path:
    sys.path.insert(0, str(BOOK_ROOT))"""


def config() -> dict:
    """The parsed ``_config.yml`` of the book (a dict). Raises ``FileNotFoundError``."""
    import yaml

    return yaml.safe_load(CONFIG.read_text())


GITHUB = "https://github.com/"


def repository(cfg: dict | None = None) -> tuple[str, str]:
    """``(url, branch)`` of the book's repository, from ``_config.yml``.

    ``cfg`` is a parsed config (default: ``config()``). The URL must be a GitHub project
    page, ``https://github.com/OWNER/NAME`` (Colab opens notebooks from GitHub only; a
    trailing ``/`` is dropped). Raises ``ValueError`` naming the bad setting otherwise,
    or when ``branch`` is missing. See CONTRIBUTING.md ("A chapter notebook").
    """
    repo = (config() if cfg is None else cfg).get("repository") or {}
    url, branch = str(repo.get("url") or "").rstrip("/"), repo.get("branch")
    parts = url.removeprefix(GITHUB).split("/")
    bad = [p for p in parts if not p or p.endswith(".git") or not p.isprintable()]
    if not url.startswith(GITHUB) or len(parts) != 2 or bad or '"' in url:
        raise ValueError(
            f"_config.yml: repository.url is {url!r}; set it to a GitHub project page,"
            " https://github.com/OWNER/NAME (no .git, no path after the name)"
        )
    if not branch or not str(branch).strip():
        raise ValueError("_config.yml: set repository.branch (e.g. main)")
    return url, str(branch).strip()


def colab_url(notebook: str | Path) -> str:
    """The Colab URL that opens ``notebook`` from the book's GitHub repository.

    ``notebook`` is a path relative to the book root (``chapters/NN_name.ipynb``); an
    absolute path raises ``ValueError`` (it would name this machine's folders).
    """
    if Path(notebook).is_absolute():
        raise ValueError(f"{notebook}: give the notebook's path from the book root")
    url, branch = repository()
    slug = url.removeprefix(GITHUB)
    path = Path(notebook).as_posix()
    return f"https://colab.research.google.com/github/{slug}/blob/{branch}/{path}"


BADGE_SVG = "https://colab.research.google.com/assets/colab-badge.svg"


def badge(notebook: str | Path) -> str:
    """The Markdown "Open in Colab" badge for ``notebook`` (see ``colab_url``)."""
    return f"[![Open In Colab]({BADGE_SVG})]({colab_url(notebook)})"


def setup_cell() -> str:
    """Source of the setup cell, the first code cell of every chapter (CONTRIBUTING.md).

    Run in a notebook it sets ``BOOK_ROOT`` (a ``pathlib.Path``) and puts it first on
    ``sys.path``. On Colab (``google.colab`` imported) it clones the repository into the
    working folder (``/content`` there) or ``git pull``s an existing clone (printing one
    line if that fails); elsewhere it looks in ``$BOOK_ROOT``, else the working folder
    and its parents, prints nothing and uses no network. It raises
    ``FileNotFoundError`` (what it looked for, where, and what to do) when no folder
    holds ``utils/__init__.py``, and ``subprocess.CalledProcessError`` when a clone
    fails.
    """
    url, branch = repository()
    return SETUP_TEMPLATE.format(url=url, branch=branch)
