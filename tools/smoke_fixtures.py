"""Build every offline fixture FULL-smoke needs and print the variables that use them.

    eval "$(python -m tools.smoke_fixtures .smoke-fixtures)"
    python -m tools.run_notebooks --full --smoke

FULL downloads real data (Oxford-IIIT Pet, PASCAL VOC 2007) and ImageNet weights; CI has
no network. Each module of :mod:`tools.fixtures` writes a tiny copy in the official
layout and names the environment variables that point the book's loaders at it, so
FULL-smoke runs the same loader code as FULL. Prints one ``export NAME=VALUE`` line per
variable (shell-quoted). CONTRIBUTING.md explains FULL-smoke.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import shlex
import sys
from pathlib import Path

from tools import fixtures


def builders() -> dict:
    """``{module name: build function}`` for every module in :mod:`tools.fixtures`."""
    found = {}
    for info in pkgutil.iter_modules(fixtures.__path__):
        module = importlib.import_module(f"tools.fixtures.{info.name}")
        build = getattr(module, "build", None)
        if not callable(build):
            raise TypeError(f"tools/fixtures/{info.name}.py defines no build(folder)")
        found[info.name] = build
    return found


def build_all(folder: Path) -> dict[str, str]:
    """Run every builder into ``folder/<name>``; return the merged variables.

    Raises ``ValueError`` when two builders set the same variable differently.
    """
    variables: dict[str, str] = {}
    for name, build in sorted(builders().items()):
        target = folder / name
        target.mkdir(parents=True, exist_ok=True)
        for key, value in build(target).items():
            if key in variables and variables[key] != value:
                raise ValueError(
                    f"fixtures disagree on {key}: {variables[key]} {value}"
                )
            variables[key] = str(value)
    return variables


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.smoke_fixtures", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("folder", type=Path, help="where to write the fixtures")
    args = parser.parse_args(argv)
    variables = build_all(args.folder.resolve())
    for key, value in sorted(variables.items()):
        print(f"export {key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
