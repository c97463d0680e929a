"""Records of whole-chapter runs: what a chapter measured in QUICK and in FULL.

Every chapter ends with a table of its recorded runs, rendered when the book is built
(:func:`table_rows`, through the ``run-records`` directive of ``_ext/run_records.py``).
A record is one JSON file in ``results/runs/`` named ``<chapter>-<profile>.json``,
written by the maintainer tool ``python -m tools.run_notebooks --record`` after it
executed the chapter top to bottom: the command, the profile, the wall time in
seconds, the chapter's headline metrics (values it glued under names starting with
``headline_``), the hardware (CPU model, cores, kernel-changing ISA features, load
average), the package versions and the date. Chapters only read them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "results" / "runs"
FIELDS = (
    "chapter",
    "profile",
    "command",
    "wall_seconds",
    "headline",
    "hardware",
    "versions",
    "date",
)
PROFILES = ("quick", "full")


def headline_values(notebook: dict) -> dict:
    """The ``headline_*`` values glued in an executed notebook (``myst_nb.glue``), as
    ``{name without the prefix: float}``.

    ``notebook`` is the notebook's JSON as a dict. Raises ``ValueError`` when a glued
    headline is not a number. Every chapter's recorded runs, from chapter 1 on.
    """
    found = {}
    for cell in notebook.get("cells", []):
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name", "")
            if not name.startswith("headline_"):
                continue
            data = out.get("data", {})
            text = data.get("application/papermill.record/text/plain")
            text = text if text is not None else data.get("text/plain", "")
            text = "".join(text) if isinstance(text, list) else text
            number = re.fullmatch(r"(?:np\.float\d+\()?([-+\w.]+)\)?", text.strip())
            try:
                found[name.removeprefix("headline_")] = float(number.group(1))
            except (AttributeError, ValueError):
                raise ValueError(
                    f"glued {name} = {text!r} is not a number: glue a float"
                ) from None
    return found


def check_record(record: dict, name: str = "record") -> dict:
    """``record`` unchanged if it has every field of :data:`FIELDS` with sane values;
    else ``ValueError`` naming what is missing or wrong. Every chapter's recorded
    runs, from chapter 1 on.
    """
    missing = [f for f in FIELDS if f not in record]
    if missing:
        raise ValueError(f"{name} lacks the fields {missing}")
    if record["profile"] not in PROFILES:
        raise ValueError(f"{name}: profile {record['profile']!r} not in {PROFILES}")
    if not record["wall_seconds"] > 0:
        raise ValueError(f"{name}: wall_seconds must be positive")
    return record


def load(chapter: str, folder=RESULTS) -> dict:
    """The records of ``chapter`` (a notebook stem such as ``"08_cifar10_cnn"``) as
    ``{profile: record}``; a profile never recorded is absent.

    Raises ``ValueError`` for a record file that is not valid JSON or lacks fields.
    Every chapter's recorded runs, from chapter 1 on.
    """
    records = {}
    for profile in PROFILES:
        path = Path(folder) / f"{chapter}-{profile}.json"
        if not path.is_file():
            continue
        try:
            record = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path.name} is not valid JSON: {err}") from None
        records[profile] = check_record(record, path.name)
    return records


def hardware_text(hardware: dict) -> str:
    """One line naming the machine of a record: CPU model, cores, the kernel-changing
    ISA features (avx2, avx512f, amx, ...) and the device; older records without CPU
    fields give their device description alone. Every chapter's recorded runs, from
    chapter 1 on."""
    cpu = hardware.get("cpu") or {}
    if not cpu:
        return hardware.get("description", "-")
    isa = ", ".join(cpu.get("isa", [])) or "no AVX2"
    return f"{cpu.get('model', '?')}, {cpu.get('cores', '?')} cores ({isa}); " + (
        hardware.get("description", "")
    )


def table_rows(chapter: str, folder=RESULTS) -> tuple[list, list]:
    """The recorded runs of ``chapter`` as ``(header, rows)`` of strings, one column
    per recorded profile: wall time, each headline metric, hardware (CPU model and
    ISA), load average, versions, date and the command that reproduces it.

    The book's HTML renders it at build time (the ``run-records`` directive,
    ``_ext/run_records.py``), so the page always shows every record in
    ``results/runs/``, including the run that stored the notebook. ``header`` is
    ``[""]`` plus the profiles recorded (``[""]`` alone when none is). Raises like
    :func:`load`. Every chapter ends with this table, from chapter 1 on.
    """
    records = load(chapter, folder)
    profiles = [p for p in PROFILES if p in records]
    names = sorted({k for r in records.values() for k in r["headline"]})

    def row(label, value_of):
        return [label] + [value_of(records[p]) for p in profiles]

    rows = [row("wall time (s)", lambda r: f"{r['wall_seconds']:.0f}")]
    rows += [
        row(n, lambda r, n=n: f"{r['headline'][n]:.4g}" if n in r["headline"] else "")
        for n in names
    ]
    rows += [
        row("hardware", lambda r: hardware_text(r["hardware"])),
        row("load average", lambda r: str(r["hardware"].get("load_average", "-"))),
        row(
            "versions",
            lambda r: ", ".join(
                f"{k} {r['versions'][k]}" for k in sorted(r["versions"])
            ),
        ),
        row("date", lambda r: r["date"]),
        row("command", lambda r: r["command"]),
    ]
    return [""] + [p.upper() for p in profiles], rows
