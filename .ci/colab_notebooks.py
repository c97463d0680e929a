"""Run chapter notebooks the way Google Colab does (the Colab stage of CI, issue 11).

    python .ci/colab_notebooks.py chapters/01_images_as_tensors.ipynb ...
    python .ci/colab_notebooks.py --first-half chapters/*.ipynb   # the fallback stage

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

``--first-half`` (the stage for Colab's fallback runtime, which CI's time budget cannot
give a second full run) runs each notebook only to its first half: its code cells up to
and including the middle one (``first_half_count``: 8 of 15, 9 of 17), so the setup
cell, the profile cell and the chapter's first sections run; every later code cell is
compiled by this Python (after IPython's own rewriting of magics and ``!`` lines), so a
syntax this Python lacks is still caught, but not run.
"""

from __future__ import annotations

import argparse
import json
import math
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


def first_half_count(n_code_cells: int) -> int:
    """How many code cells ``--first-half`` runs: the first half, the middle included.

    ``first_half_count(15) == 8``, ``first_half_count(16) == 8``; at least 1 when the
    notebook has any code cell. Raises ValueError for a negative count.
    """
    if n_code_cells < 0:
        raise ValueError(f"n_code_cells={n_code_cells} is negative; count the cells")
    return math.ceil(n_code_cells / 2)


def cut_to_first_half(nb) -> list:
    """Drop ``nb``'s cells after its first half of code cells; return the dropped ones.

    The notebook keeps every cell up to and including code cell number
    ``first_half_count(n)`` (of ``n``); the cells after it are removed in place and
    returned, Markdown included, in order.
    """
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    if not code:
        return []
    last = code[first_half_count(len(code)) - 1]
    dropped = nb.cells[last + 1 :]
    del nb.cells[last + 1 :]
    return dropped


def compile_cells(cells, name: str) -> str:
    """Compile the code cells among ``cells`` as IPython would; '' or the first error.

    IPython's input transformer first turns magics and ``!`` lines into Python, as the
    kernel does before running a cell; a SyntaxError is reported with the cell's first
    line and the line of the error in the cell (``name``: the notebook, for tracebacks).
    """
    from IPython.core.inputtransformer2 import TransformerManager

    transform = TransformerManager().transform_cell
    for cell in cells:
        if cell.cell_type != "code":
            continue
        try:
            compile(transform(cell.source), f"{name} (not run)", "exec")
        except SyntaxError as err:
            first = (cell.source.strip().splitlines() or [""])[0]
            where = f"a cell not run ({first!r})"
            return f"SyntaxError in {where}: {err.msg}, line {err.lineno}"
    return ""


def run_notebook(
    path: Path, folder: Path, clone_name: str, timeout: int, first_half: bool = False
) -> str:
    """Run ``path`` alone in ``folder`` (the stand-in /content); '' or what failed.

    With ``first_half`` only the notebook's first half of code cells runs and the rest
    is compiled (``cut_to_first_half``, ``compile_cells``).
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    folder.mkdir()
    copy = Path(shutil.copy(path, folder))
    nb = nbformat.read(copy, as_version=4)
    if first_half:
        error = compile_cells(cut_to_first_half(nb), path.name)
        if error:
            return error
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
    parser.add_argument(
        "--first-half",
        action="store_true",
        help="run each notebook to its middle code cell; compile the rest, not run",
    )
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
            clone_name = url.rsplit("/", 1)[-1]
            error = run_notebook(
                path, content, clone_name, args.timeout, args.first_half
            )
            results.append((path.name, time.monotonic() - start, error))
            status = "ok" if not error else f"FAILED: {error}"
            if args.first_half:
                status = f"first half, {status}"
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
