"""results/bench/ (chapter 10): every stored record still matches its own command.

Each record keeps the exact command that produced it. Parsing its ``argv`` with today's
``utils.fast.bench`` options must give the configuration and data sizes stored with it,
so that a change of a profile (or of a default) cannot silently detach a recorded figure
from the command printed next to it.
"""

import json
from pathlib import Path

import pytest

from utils.fast import bench

RECORDS = sorted(
    (Path(__file__).resolve().parent.parent / "results" / "bench").glob("*.json")
)


def _without_json_option(argv):
    out = list(argv)
    if "--json" in out:
        i = out.index("--json")
        del out[i : i + 2]
    return out


def test_there_are_records():
    assert len(RECORDS) >= 5


@pytest.mark.parametrize("path", RECORDS, ids=[p.stem for p in RECORDS])
def test_recorded_command_gives_the_recorded_config(path):
    rec = json.loads(path.read_text())
    args = bench.parse_args(_without_json_option(rec["argv"]))
    resolved = bench.config_from_args(args).to_dict()
    for key, value in rec["config"].items():
        assert resolved[key] == value, f"{path.name}: {key} is {resolved[key]!r} today"
    train, test = bench.data_sizes(args)
    assert {"train_images": train, "test_images": test} == rec["data"]
    assert args.profile == rec["profile"] and args.target == rec["metrics"]["target"]
    prefix = (
        ""
        if rec["env"]["KERAS_BACKEND"] == "tensorflow"
        else (f"KERAS_BACKEND={rec['env']['KERAS_BACKEND']} ")
    )
    assert rec["command"] == prefix + " ".join([bench.PROG, *rec["argv"]])


def test_the_drift_check_catches_a_stale_command():
    """The "8 epochs" record's old command trains the cpu profile's 14 epochs today."""
    rec = json.loads((RECORDS[1]).read_text())
    old_argv = rec["command_as_recorded"].split()[3:]
    resolved = bench.config_from_args(bench.parse_args(old_argv)).to_dict()
    assert resolved["epochs"] != rec["config"]["epochs"]
