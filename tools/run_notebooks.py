"""Re-execute chapter notebooks with papermill and print a wall-time table.

    python -m tools.run_notebooks          # QUICK: refresh every chapter's outputs
    python -m tools.run_notebooks chapters/01_images_as_tensors.ipynb
    python -m tools.run_notebooks --full   # FULL: executed copies go to runs/full/
    python -m tools.run_notebooks --record [--full] ...   # also write results/runs/
    python -m tools.run_notebooks --full --smoke   # FULL code paths, tiny sizes

QUICK runs each notebook top to bottom in a fresh kernel with ``BOOK_MODE=quick`` and
writes the outputs back into ``chapters/`` (what nbval re-checks). FULL injects the
papermill parameter ``MODE="full"`` and writes to ``--out`` (default ``runs/full``),
outside the book. ``--record`` also writes each chapter's run record (command, wall
time, the ``headline_*`` values it glued, hardware, versions) to ``results/runs/``,
which the chapter's closing table shows (:mod:`utils.runs`). ``--full --smoke`` sets
``BOOK_SMOKE=1`` (FULL's architectures, branches and data pipeline with each chapter's
tiny ``smoke`` sizes; outcome claims are reported, not checked: :mod:`utils.smoke`),
writes to ``runs/full-smoke`` and checks that every claim the chapter declares was
reached. A failed run prints the failing cell's number, its first lines and the error,
and keeps the executed copy as ``NAME.failed.ipynb`` (``runs/failed/`` for QUICK,
beside the output for FULL). CONTRIBUTING.md explains when to use which.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

# the kernels papermill starts inherit this process's environment: keep TensorFlow's
# oneDNN kernels off for them, as the chapters' setup cell does, even after a run record
# has imported utils.fast (which asks for them, for the benchmark)
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"
FAILED_QUICK = ROOT / "runs" / "failed"  # a failed QUICK run's executed copy


def clean_metadata(path: Path) -> None:
    """Drop papermill's per-run bookkeeping (timestamps, durations): small git diffs."""
    nb = json.loads(path.read_text())
    nb.get("metadata", {}).pop("papermill", None)
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {})
        meta.pop("papermill", None)
        meta.pop("execution", None)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def _is_expected_error(cell) -> bool:
    return "raises-exception" in cell.get("metadata", {}).get("tags", [])


def allow_tagged_errors() -> None:
    """Make papermill accept errors in cells tagged ``raises-exception`` (as nbval and
    myst-nb do).

    papermill 2.7 fails a run on *any* stored error output. Chapters demonstrate clear
    error messages on purpose, in cells with that tag, so those errors are hidden from
    its check.
    """
    import papermill.execute as pe

    original = pe.raise_for_execution_errors
    if getattr(original, "allows_tagged_errors", False):
        return

    def check(nb, output_path):
        saved = []
        for cell in nb.cells:
            if _is_expected_error(cell):
                saved.append(
                    (
                        cell,
                        cell.get("outputs"),
                        cell.get("metadata", {}).get("papermill", {}).get("exception"),
                    )
                )
                cell["outputs"] = [
                    o
                    for o in cell.get("outputs", [])
                    if o.get("output_type") != "error"
                ]
                cell.setdefault("metadata", {}).setdefault("papermill", {})[
                    "exception"
                ] = False
        try:
            return original(nb, output_path)
        finally:
            for cell, outputs, flag in saved:
                cell["outputs"] = outputs
                cell["metadata"]["papermill"]["exception"] = flag

    check.allows_tagged_errors = True
    pe.raise_for_execution_errors = check


class NotebookFailed(RuntimeError):
    """A chapter run stopped at a cell: names the cell, its first lines, the error
    and where the executed copy was kept."""


def failure_report(err, kept: Path | None) -> str:
    """Where and why a papermill run failed, in a few lines (cell number, the first
    three lines of its source, the exception), plus the path of the kept copy."""
    cell = getattr(err, "cell_index", None)
    source = (getattr(err, "source", "") or "").strip().splitlines()
    ename = getattr(err, "ename", type(err).__name__)
    evalue = (getattr(err, "evalue", None) or str(err)).strip()
    lines = [f"cell {cell}:" if cell is not None else "before any cell ran:"]
    lines += [f"    {line}" for line in source[:3]]
    if len(source) > 3:
        lines.append("    ...")
    lines.append(f"{ename}: {evalue.splitlines()[0] if evalue else ''}"[:300])
    if kept is not None:
        lines.append(f"executed copy kept in {kept}")
    return "\n".join(lines)


def failed_copy_path(notebook: Path, output: Path, *, full: bool) -> Path:
    """Where a failed run's executed copy goes: beside the FULL output, or in
    ``runs/failed/`` for QUICK (never over the stored notebook)."""
    folder = output.parent if full else FAILED_QUICK
    return folder / f"{notebook.stem}.failed.ipynb"


def run_one(
    notebook: Path, output: Path, *, full: bool, timeout: int, smoke: bool = False
) -> float:
    """Execute ``notebook`` into ``output`` with papermill (via a temporary file).

    Returns the wall time in seconds. On failure the executed copy is kept at
    :func:`failed_copy_path` and :class:`NotebookFailed` says which cell failed and
    why.
    """
    import papermill as pm

    allow_tagged_errors()
    os.environ["BOOK_MODE"] = "full" if full else "quick"  # inherited by the kernel
    os.environ["BOOK_SMOKE"] = "1" if smoke else "0"
    output.parent.mkdir(parents=True, exist_ok=True)
    # execute into a scratch folder and move the result into place only on success: a
    # failed run never leaves a half-executed notebook (or a stray temporary one) where
    # the stored one was
    with tempfile.TemporaryDirectory(prefix="run-notebooks-") as scratch:
        tmp = Path(scratch) / notebook.name
        start = time.perf_counter()
        try:
            pm.execute_notebook(
                str(notebook),
                str(tmp),
                parameters={"MODE": "full"} if full else None,
                cwd=str(notebook.parent),
                kernel_name="python3",
                execution_timeout=timeout,
                progress_bar=False,
            )
        except Exception as err:
            kept = None
            if tmp.is_file():
                kept = failed_copy_path(notebook, output, full=full)
                kept.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(tmp, kept)
            raise NotebookFailed(failure_report(err, kept)) from err
        seconds = time.perf_counter() - start
        clean_metadata(tmp)
        staged = output.with_name(
            f".{output.name}.partial"
        )  # same folder, so the rename is atomic
        shutil.copyfile(tmp, staged)
        os.replace(staged, output)
    return seconds


def smoke_claims_reached(executed: Path) -> list[str]:
    """The claim names an executed FULL-smoke notebook reported as not checked."""
    from utils.smoke import SKIP_MARK

    names = []
    for cell in json.loads(executed.read_text()).get("cells", []):
        for out in cell.get("outputs", []):
            text = out.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            for line in text.splitlines():
                if line.startswith(SKIP_MARK):
                    names.append(line[len(SKIP_MARK) :].split()[0])
    return names


def check_smoke_claims(notebook: Path, executed: Path) -> int:
    """How many claims FULL-smoke left unchecked in ``notebook``; raises
    ``NotebookFailed`` when that set differs from the chapter's declared claims
    (:data:`utils.smoke.CLAIMS`): a claim skipped twice, never reached, or not
    declared."""
    from utils import smoke

    reached = smoke_claims_reached(executed)
    declared = set(smoke.claims_of(notebook.stem))
    twice = sorted({n for n in reached if reached.count(n) > 1})
    never = sorted(declared - set(reached))
    if twice or never:
        raise NotebookFailed(
            f"FULL-smoke claims of {notebook.name}: reached twice {twice}, "
            f"declared but never reached {never} (utils/smoke.py declares them)"
        )
    return len(reached)


def make_run_record(
    notebook: Path, executed: Path, *, full: bool, seconds: float, load_before: float
) -> dict:
    """The record of one chapter run (fields: :data:`utils.runs.FIELDS`)."""
    import platform

    from utils import env, runs
    from utils.fast.records import versions

    profile = "full" if full else "quick"
    command = "python -m tools.run_notebooks --record " + "--full " * full
    record = {
        "chapter": notebook.stem,
        "profile": profile,
        "command": command + f"chapters/{notebook.name}",
        "wall_seconds": round(seconds, 1),
        "headline": runs.headline_values(json.loads(executed.read_text())),
        "hardware": {
            "description": env.device_description(),
            "machine": platform.machine(),
            "cpu": env.cpu_info(),
            "load_average": f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after",
        },
        "versions": versions(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }
    return runs.check_record(record)


def write_run_record(record: dict, folder: Path) -> Path:
    """Write ``record`` to ``folder/<chapter>-<profile>.json`` atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record['chapter']}-{record['profile']}.json"
    staged = path.with_name(f".{path.name}.partial")
    staged.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(staged, path)
    return path


def _user_path(text: str) -> Path:
    """A path argument with ``~`` expanded (a shell leaves it in ``--out=~/x``)."""
    return Path(text).expanduser()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.run_notebooks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "notebooks",
        nargs="*",
        type=_user_path,
        help="notebooks to run (default: every chapters/*.ipynb)",
    )
    parser.add_argument(
        "--full", action="store_true", help="FULL profile (GPU); writes copies to --out"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="with --full: FULL-smoke (BOOK_SMOKE=1), FULL's code paths at each "
        "chapter's tiny smoke sizes; writes to runs/full-smoke/",
    )
    parser.add_argument(
        "--out",
        type=_user_path,
        default=None,
        help="output folder for --full (default runs/full, runs/full-smoke)",
    )
    parser.add_argument(
        "--record",
        action="store_true",
        help="also write each run's record (wall time, headline metrics, hardware, "
        "versions) to results/runs/",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=None,
        help="per-cell timeout in seconds (default 1800; 7200 for --full)",
    )
    return parser


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.smoke and not args.full:
        parser.error("--smoke shrinks the FULL profile: use it with --full")
    if args.smoke and args.record:
        parser.error("--smoke runs are not records of a chapter: drop --record")
    if args.out is None:
        args.out = ROOT / "runs" / ("full-smoke" if args.smoke else "full")
    if args.timeout is None:
        args.timeout = 7200 if args.full and not args.smoke else 1800
    label = "FULL-smoke" if args.smoke else "FULL" if args.full else "QUICK"

    notebooks = args.notebooks or sorted(CHAPTERS.glob("*.ipynb"))
    missing = [str(nb) for nb in notebooks if not nb.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    rows, failed = [], False
    for nb in notebooks:
        nb = nb.resolve()
        out = (args.out / nb.name) if args.full else nb
        print(f"running {nb.name} ({label}) ...", flush=True)
        try:
            load_before = os.getloadavg()[0]
            seconds = run_one(
                nb, out, full=args.full, timeout=args.timeout, smoke=args.smoke
            )
            status = "ok"
            if args.smoke:
                status += f", {check_smoke_claims(nb, out)} claims not checked"
            if args.record:
                from utils.runs import RESULTS

                record = make_run_record(
                    nb, out, full=args.full, seconds=seconds, load_before=load_before
                )
                write_run_record(record, RESULTS)
            rows.append((nb.name, f"{seconds:8.1f}", status))
        except Exception as err:  # report and carry on with the other notebooks
            failed = True
            print(f"{nb.name} FAILED\n{err}", flush=True)
            first_line = str(err).splitlines()[0][:80] if str(err) else ""
            rows.append(
                (nb.name, "       -", f"FAILED: {type(err).__name__}: {first_line}")
            )
    width = max(len(r[0]) for r in rows)
    print(f"\n{'notebook'.ljust(width)}  wall time (s)  status")
    for name, secs, status in rows:
        print(f"{name.ljust(width)}  {secs:>13}  {status}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
