"""The book's own conventions, derived from ``_config.yml`` so they live in one place.

CONTRIBUTING.md describes the conventions; this module produces the pieces every chapter
notebook must carry (the Colab badge and the setup cell), and ``tests/test_notebooks.py``
checks each notebook against them. Readers never need this module; maintainers do.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "_config.yml"

SETUP_TEMPLATE = '''\
# Setup (the same in every chapter): make the book's `utils` package importable.
# On Colab the book is cloned first; everywhere else this cell is silent and offline.
import os, sys, subprocess, pathlib
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")   # hide TensorFlow's C++ logs ...
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # ... including its oneDNN banner
BOOK_REPO = "{url}"
if "google.colab" in sys.modules:
    BOOK_ROOT = pathlib.Path("/content") / BOOK_REPO.rstrip("/").split("/")[-1]
    if not BOOK_ROOT.exists():
        subprocess.run(["git", "clone", "--depth", "1", "--branch", "{branch}", BOOK_REPO, str(BOOK_ROOT)], check=True)
else:  # a checkout: the folder above chapters/ holds utils/
    BOOK_ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / "utils" / "__init__.py").exists())
if str(BOOK_ROOT) not in sys.path:
    sys.path.insert(0, str(BOOK_ROOT))'''


def config() -> dict:
    """The parsed ``_config.yml``."""
    import yaml

    return yaml.safe_load(CONFIG.read_text())


def repository() -> tuple[str, str]:
    """``(url, branch)`` of the book's repository, from ``_config.yml``."""
    repo = config().get("repository") or {}
    url, branch = repo.get("url"), repo.get("branch")
    if not url or not branch:
        raise ValueError("_config.yml must set repository.url and repository.branch")
    return url.rstrip("/"), branch


def colab_url(notebook: str | Path) -> str:
    """The Colab URL that opens ``notebook`` (a path relative to the book root) from GitHub."""
    url, branch = repository()
    slug = url.split("github.com/")[-1]
    return f"https://colab.research.google.com/github/{slug}/blob/{branch}/{Path(notebook).as_posix()}"


def badge(notebook: str | Path) -> str:
    """The Markdown "Open in Colab" badge for ``notebook``."""
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(notebook)})"


def setup_cell() -> str:
    """Source of the setup cell (the first code cell of every chapter)."""
    url, branch = repository()
    return SETUP_TEMPLATE.format(url=url, branch=branch)
