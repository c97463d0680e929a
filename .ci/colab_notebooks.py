"""Run chapter notebooks the way Google Colab does (the Colab stage of CI, issue 11).

    python .ci/colab_notebooks.py chapters/01_images_as_tensors.ipynb ...

Run it with the Colab stage's interpreter (.ci/colab_stage.sh builds it). For each
notebook, as when a reader opens it from GitHub in Colab:

- the notebook alone is copied into an empty temporary folder standing in for /content,
  and the kernel's working folder is that folder;
- the kernel starts with ``google.colab`` already imported (Colab's kernel does that):
  a stand-in ``google/colab/__init__.py`` on PYTHONPATH (no ``google/__init__.py``,
  which would shadow google.protobuf) and an IPython startup file that imports it;
- the setup cell's ``git clone`` of the repository URL in ``_config.yml`` is redirected
  to this checkout (``file://``, so ``--depth`` holds) by a temporary git config
  (GIT_CONFIG_GLOBAL); the machine's own git config is never read or written.

The QUICK profile is used (BOOK_MODE=quick) and CIFAR10_DIR is passed through. Outputs
are not compared (the package versions differ from the stored run's); a notebook
passes when every cell runs without error (cells tagged ``raises-exception`` may raise),
so every ``assert`` in it holds, and the book was cloned into the stand-in /content.
Exit status 0 when all pass, 1 otherwise; a wall-time table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERNEL = "colab-python3"


def repository_url() -> str:
    """The book's repository URL, from ``_config.yml`` (via tools.book)."""
    sys.path.insert(0, str(ROOT))
    try:
        from tools import book
    finally:
        sys.path.remove(str(ROOT))
    return book.repository()[0]


def make_sandbox(folder: Path, checkout: Path, url: str) -> dict[str, str]:
    """Write the Colab stand-ins under ``folder``; return the kernel's environment.

    ``folder`` gets ``stub/google/colab/__init__.py``, an IPython profile whose startup
    file imports it, a kernelspec for this interpreter (so no kernel installed elsewhere
    on the machine is picked up) and a git config redirecting ``url`` to ``checkout``.
    """
    colab = folder / "stub" / "google" / "colab"
    colab.mkdir(parents=True)
    (colab / "__init__.py").write_text(
        '"""Stand-in for Colab\'s google.colab (CI)."""\n'
    )
    startup = folder / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text(
        "import google.colab  # as Colab's kernel does\n"
    )
    spec = folder / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "Colab stand-in", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    gitconfig = folder / "gitconfig"
    gitconfig.write_text(
        f'[url "{checkout.resolve().as_uri()}"]\n\tinsteadOf = {url}\n'
    )
    env = {k: v for k, v in os.environ.items() if k not in ("BOOK_ROOT", "PYTHONPATH")}
    env.update(
        PYTHONPATH=str(folder / "stub"),
        IPYTHONDIR=str(folder / "ipython"),
        JUPYTER_PATH=str(folder / "jupyter"),
        GIT_CONFIG_GLOBAL=str(gitconfig),
        GIT_CONFIG_NOSYSTEM="1",
        BOOK_MODE="quick",
        PYDEVD_DISABLE_FILE_VALIDATION="1",  # debugpy's frozen-modules note on stderr
    )
    return env


def run_notebook(path: Path, folder: Path, clone_name: str, timeout: int) -> str:
    """Run ``path`` alone in ``folder`` (the stand-in /content); '' or what failed."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    folder.mkdir()
    copy = Path(shutil.copy(path, folder))
    nb = nbformat.read(copy, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(folder)}},
    )
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as err:
        lines = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).strip().splitlines()
        return lines[-1] if lines else type(err).__name__
    if not (folder / clone_name / "utils" / "__init__.py").is_file():
        return f"the setup cell did not clone the book into {folder / clone_name}"
    return ""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    url = repository_url()
    results = []
    with tempfile.TemporaryDirectory(prefix="colab-ci-") as tmp:
        env = make_sandbox(Path(tmp), ROOT, url)
        os.environ.clear()
        os.environ.update(env)
        for i, path in enumerate(args.notebooks):
            start = time.monotonic()
            content = Path(tmp) / f"content-{i}"
            error = run_notebook(path, content, url.rsplit("/", 1)[-1], args.timeout)
            results.append((path.name, time.monotonic() - start, error))
            status = "ok" if not error else f"FAILED: {error}"
            print(f"[colab] {path.name}: {results[-1][1]:.0f} s, {status}", flush=True)
    width = max(len(name) for name, _, _ in results)
    print(f"\n{'notebook':<{width}}  seconds  result")
    for name, seconds, error in results:
        print(f"{name:<{width}}  {seconds:7.0f}  {'FAILED' if error else 'ok'}")
    failed = [name for name, _, error in results if error]
    print(f"[colab] {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
