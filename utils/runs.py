"""Records of whole-chapter runs: what a chapter measured in QUICK and in FULL.

Every chapter ends with a table of its recorded runs. A record is one JSON file in
``results/runs/`` named ``<chapter>-<profile>.json``, written by the maintainer tool
``python -m tools.run_notebooks --record`` after it executed the chapter top to bottom:
the command, the profile, the wall time in seconds, the chapter's headline metrics
(values it glued under names starting with ``headline_``), the hardware with its load
average, the package versions and the date. Chapters only read them.
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
    headline is not a number.
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
    else ``ValueError`` naming what is missing or wrong.
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


def table(chapter: str, folder=RESULTS):
    """A pandas DataFrame with one column per recorded profile: wall time, each
    headline metric, hardware, versions, date and the command that reproduces it.
    A profile without a record says how to make one.
    """
    import pandas as pd

    records = load(chapter, folder)
    names = sorted({k for r in records.values() for k in r["headline"]})
    columns = {}
    for profile in PROFILES:
        r = records.get(profile)
        if r is None:
            flag = " --full" if profile == "full" else ""
            how = f"python -m tools.run_notebooks --record{flag}"
            columns[profile.upper()] = {"status": f"not recorded yet: {how}"}
            continue
        v = r["versions"]
        column = {"wall time (s)": f"{r['wall_seconds']:.0f}"}
        column.update(
            {n: f"{r['headline'][n]:.4g}" for n in names if n in r["headline"]}
        )
        column.update(
            {
                "hardware": r["hardware"]["description"],
                "load average": r["hardware"].get("load_average", "-"),
                "versions": ", ".join(f"{k} {v[k]}" for k in sorted(v)),
                "date": r["date"],
                "command": r["command"],
            }
        )
        columns[profile.upper()] = column
    return pd.DataFrame(columns).fillna("")
