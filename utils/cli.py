"""argparse option types shared by the command-line tools: each checks one kind of value
and raises ``argparse.ArgumentTypeError`` with a message naming what was wrong; and
:func:`add_recipe_overrides`, the six recipe and data options those tools share.

Used by ``python -m utils.fast.bench`` (chapter 10), ``python -m
benchmarks.vs_airbench`` and ``python -m benchmarks.profile_step``. This module imports
neither Keras nor TensorFlow, so a tool can check its options before anything heavy
loads.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path


def _number(text: str, kind, what: str):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an int >= 1. Chapter 10 (the benchmark CLI)."""
    value = _number(text, int, "must be a positive int")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive int, got {text!r}")
    return value


def any_int(text: str) -> int:
    """argparse type: any int (a seed). Chapter 10."""
    return _number(text, int, "must be an int")


def non_negative_int(text: str) -> int:
    """argparse type: an int >= 0 (a seed). Chapter 10."""
    value = _number(text, int, "must be an int >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an int >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (NaN and infinities refused). Chapter 10."""
    value = _number(text, float, "must be a positive finite number")
    if value <= 0:
        raise argparse.ArgumentTypeError(
            f"must be a positive finite number, got {text!r}"
        )
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0. Chapter 10."""
    value = _number(text, float, "must be a number >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def percent(text: str) -> float:
    """argparse type: a percentage in [0, 100]. Chapter 10."""
    value = _number(text, float, "must be a percentage in [0, 100]")
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(
            f"must be a percentage in [0, 100], got {text!r}"
        )
    return value


def widths(text: str) -> tuple:
    """argparse type: three comma-separated positive ints, e.g. ``32,64,128``.

    Chapter 10.
    """
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) >= 1 for p in parts):
        raise argparse.ArgumentTypeError(
            f"must be three comma-separated positive ints (one per conv group), e.g. "
            f"32,64,128; got {text!r}"
        )
    return tuple(int(p) for p in parts)


def subset_size(text: str) -> int:
    """argparse type: a positive multiple of 10 (a class-balanced CIFAR-10 subset).

    Chapter 10.
    """
    value = positive_int(text)
    if value % 10:
        raise argparse.ArgumentTypeError(
            f"must be a positive multiple of 10 (a tenth per class), got {text!r}"
        )
    return value


def add_recipe_overrides(parser: argparse.ArgumentParser) -> None:
    """Add the options that change a profile's recipe and data: ``--epochs``,
    ``--widths``, ``--lr``, ``--batch-size``, ``--train-size``, ``--test-size`` (each
    ``None`` unless given). Chapter 10's command-line tools take the same six, turned
    into a recipe by ``utils.fast.recipe.profile_config`` and ``profile_data``.
    """
    add = parser.add_argument
    add("--epochs", type=positive_float, help="override the profile's epochs")
    add("--widths", type=widths, help="override the profile's widths, e.g. 32,64,128")
    add("--lr", type=positive_float, help="override the (decoupled) learning rate")
    add("--batch-size", type=positive_int, help="override the profile's batch size")
    add("--train-size", type=subset_size, help="a balanced subset of training images")
    add("--test-size", type=subset_size, help="a balanced subset of test images")


def add_step_timing_options(parser: argparse.ArgumentParser) -> None:
    """Add the options of a command that times training steps in blocks: ``--steps``
    (steps per block, default 5), ``--repeats`` (timed blocks, default 5), ``--seed``
    (default 0) and ``--json`` (a record file, checked by :func:`json_path`). In
    chapter 10 (fast CIFAR-10 training), ``benchmarks.profile_step`` and
    ``benchmarks.levers`` take the same four.
    """
    add = parser.add_argument
    add("--steps", type=positive_int, default=5, help="steps per block")
    add("--repeats", type=positive_int, default=5, help="timed blocks")
    add("--seed", type=non_negative_int, default=0)
    add("--json", type=json_path, help="write the record to this file")


def json_path(text: str) -> Path:
    """argparse type: a file path whose folder exists and is writable (checked up
    front). Chapter 10."""
    path = Path(text).expanduser()
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give a file name")
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(
            f"folder {str(folder)!r} does not exist; create it first"
        )
    if not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"folder {str(folder)!r} is not writable")
    return path
