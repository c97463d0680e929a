"""Benchmark result records: JSON files in ``results/bench/``, written and read back.

Chapter 10 (fast CIFAR-10 training). A record holds the exact command (``argv``), the
resolved :class:`~utils.fast.recipe.FastConfig`, the data sizes, the metrics (the mean
accuracy, seconds, images/s, compile time, per-epoch accuracy when tracked, every run),
the versions, the hardware and the date; ``tests/test_results_records.py`` re-parses
each command with today's options so a record cannot drift from its command. Reporting
the mean over runs and the time to 94% follows airbench94's benchmark (Keller Jordan,
github.com/KellerJordan/cifar10-airbench).
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

PROG = "python -m utils.fast.bench"
RESULTS = Path(__file__).resolve().parents[2] / "results" / "bench"


def summarize(accuracies, seconds, target: float) -> dict:
    """Mean and sample std of the accuracies (fractions), and the time to ``target``
    percent.

    The time to target is the mean timed seconds of the runs that reached it, else
    ``None``. Raises ``ValueError`` for no runs or lists of different lengths.
    Chapter 10.
    """
    import numpy as np

    acc = np.asarray(accuracies, dtype=float)
    if acc.size == 0:
        raise ValueError("no runs to summarize")
    if len(seconds) != acc.size:
        raise ValueError(f"{acc.size} accuracies but {len(seconds)} times")
    reached = [s for a, s in zip(acc, seconds) if 100 * a >= target]
    return {
        "mean": float(acc.mean()),
        "std": float(acc.std(ddof=1)) if acc.size > 1 else 0.0,
        "reached": len(reached),
        "time_to_target": float(np.mean(reached)) if reached else None,
        "mean_reaches_target": bool(100 * acc.mean() >= target),
    }


def versions() -> dict:
    """Python, NumPy, Keras, the backend library and the backend name (a record
    field). Chapter 10."""
    import keras
    import numpy as np

    name = keras.backend.backend()
    lib = __import__(name)
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "keras": keras.__version__,
        "backend": name,
        name: lib.__version__,
    }


def make_record(argv, args, cfg, sizes, precision, runs, compile_seconds) -> dict:
    """The JSON record of one invocation: command, argv, config, data, metrics,
    versions, hardware, date. Chapter 10."""
    from utils import env

    summary = summarize(
        [r.accuracy for r in runs], [r.seconds for r in runs], args.target
    )
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    load = env.load_average()
    return {
        "command": " ".join([PROG, *argv]),
        "argv": list(argv),
        "env": {"KERAS_BACKEND": backend},
        "profile": args.profile,
        "config": cfg.to_dict(),
        "data": {"train_images": sizes[0], "test_images": sizes[1]},
        "precision": precision,
        "metrics": {
            "accuracy": summary["mean"],
            "accuracy_std": summary["std"],
            "seconds": sum(r.seconds for r in runs) / len(runs),
            "images_per_second": sum(r.images_per_second for r in runs) / len(runs),
            "compile_seconds": compile_seconds,
            "target": args.target,
            "time_to_target": summary["time_to_target"],
            "per_epoch": [a for _, a in runs[0].epoch_accuracy] or None,
            "runs": [r.to_dict() for r in runs],
        },
        "versions": versions(),
        "hardware": {
            "description": f"{env.device_description()}, {backend} backend",
            "fingerprint": env.fingerprint(),
            "load_average": load,
        },
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }


def load_records(folder=RESULTS) -> list[dict]:
    """Every ``*.json`` record in ``folder`` (sorted by file name), each with its
    ``"file"``.

    Raises ``FileNotFoundError`` for a missing folder and ``ValueError`` naming a file
    that is not a valid record. Chapter 10.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"no result folder {folder}")
    records = []
    for path in sorted(folder.glob("*.json")):
        try:
            rec = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path.name} is not valid JSON: {err}") from None
        missing = {"argv", "config", "data", "metrics", "hardware"} - set(rec)
        if missing:
            raise ValueError(f"{path.name} lacks the record fields {sorted(missing)}")
        records.append({**rec, "file": path.name})
    return records


def format_record(rec: dict) -> str:
    """A few lines for chapter 10's table: configuration, metrics, hardware, the
    command."""
    c, d, m = rec["config"], rec["data"], rec["metrics"]
    head = (
        f"[{rec['profile']}] widths {'/'.join(map(str, c['widths']))}, {c['epochs']:g} "
        f"epochs, batch {c['batch_size']}, lr {float(c['lr'])}, "
        f"{d['train_images']:,} / {d['test_images']:,} images"
    )
    if rec.get("note"):
        head += f" ({rec['note']})"
    ttt = m["time_to_target"]
    reached = "not reached" if ttt is None else f"{ttt:.0f} s"
    lines = [
        head,
        f"    accuracy {100 * m['accuracy']:.2f}% | timed {m['seconds']:.0f} s | "
        f"{m['images_per_second']:,.0f} images/s ({m['seconds'] / 60:.0f} min) | "
        f"compile {m['compile_seconds']:.0f} s | time to {m['target']:g}%: {reached}",
        f"    {rec['hardware']['description']}, load average "
        f"{rec['hardware']['load_average']}",
    ]
    if m.get("per_epoch"):
        per = ", ".join(f"{100 * a:.1f}%" for a in m["per_epoch"])
        lines.append(f"    after each epoch (no TTA): {per}")
    lines.append(f"    $ {rec['command']}")
    return "\n".join(lines)
