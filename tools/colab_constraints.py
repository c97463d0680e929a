"""Write a Colab stage's constraints file from a pip freeze that Colab published.

    python -m tools.colab_constraints FREEZE --commit SHA --date YYYY-MM-DD \\
        --os-info OS_INFO [--runtime current] [-o .ci/colab-constraints.txt]

Google publishes each Colab runtime's package set in the repository
``googlecolab/backend-info``: ``pip-freeze.gpu.txt`` (``pip freeze`` of the GPU
runtime, which the book's FULL profile targets) and ``os-info-gpu.txt`` (its Ubuntu
and Python). FREEZE is a local copy of such a freeze file, OS_INFO of the os-info
file of the same commit (or give ``--python 3.12.13`` instead). The tool keeps only
the names the book needs (``NEEDED`` below: what the chapters import, what TensorFlow,
Keras and JAX pull in, and what runs a notebook as Colab's kernel does), each at the
freeze's version, plus the two test tools Colab lacks (``NOT_ON_COLAB``), and writes
them with comments saying where every pin came from. The CI stage
(``.ci/colab_stage.sh``) installs the result with ``pip install -r`` and takes its
Python version from the ``# colab-python:`` line.

A needed name missing from the freeze, one listed twice with different versions, or
one installed from a URL (``name @ url``, no version) is an error (exit status 2)
that names it; nothing is written then. With ``-o`` the output file is replaced only
on success (with ``> FILE`` the shell empties it first).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from datetime import date as Date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = "googlecolab/backend-info"
FREEZE_FILE = "pip-freeze.gpu.txt"

# The names the book needs, by section, each with the comment written above it ("" for
# none). Spelled as Colab's freeze spells them; the output uses the freeze's spelling.
NEEDED: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "the scientific stack the chapters import",
        [
            (
                "tensorflow",
                "Colab ships tensorflow (its wheel carries CUDA kernels); CI has no "
                "GPU, so it installs the CPU wheel of the same release: same Python "
                "code, same dependencies.",
            ),
            ("keras", ""),
            ("numpy", ""),
            ("scipy", ""),
            ("matplotlib", ""),
            ("scikit-image", ""),
            ("scikit-learn", ""),
            ("pandas", ""),
            ("pillow", ""),
            ("threadpoolctl", ""),
            ("PyYAML", ""),
            (
                "jax",
                "JAX: chapter 10 runs keras.distribution.DataParallel on it, and the "
                "fast trainer's tests run on both backends. Colab's GPU runtime also "
                "has jax-cuda12-plugin and jax-cuda12-pjrt (the CUDA kernels); CI has "
                "no GPU, so only the CPU part.",
            ),
            ("jaxlib", ""),
        ],
    ),
    (
        "what TensorFlow and Keras pull in, as on Colab",
        [
            ("absl-py", ""),
            ("h5py", ""),
            ("ml_dtypes", ""),
            ("optree", ""),
            ("namex", ""),
            ("rich", ""),
            ("opt_einsum", ""),
            ("protobuf", ""),
            ("tensorboard", ""),
            ("grpcio", ""),
            ("flatbuffers", ""),
            ("gast", ""),
            ("wrapt", ""),
            ("packaging", ""),
        ],
    ),
    (
        "running a notebook the way Colab's kernel does",
        [
            ("ipykernel", ""),
            ("ipython", ""),
            ("jupyter_client", ""),
            ("jupyter_core", ""),
            ("traitlets", ""),
            ("tornado", ""),
            ("pyzmq", ""),
            ("nbformat", ""),
            ("nbclient", ""),
            ("pytest", ""),
        ],
    ),
]

# Installed under another name in CI: Colab's name -> CI's name.
RENAMED = {"tensorflow": "tensorflow-cpu"}

# Not on Colab: only the book's tests need them. papermill as in requirements.txt
# (tests/test_colab_constraints.py checks that they agree); hypothesis: the release the
# main stage's environment resolved to when the Colab stage was added.
NOT_ON_COLAB = {"papermill": "2.7.0", "hypothesis": "6.170.17"}

_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)\s*$")
_URL_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*@\s*\S+")
_PYTHON = re.compile(r"^Python (3\.\d+\.\d+)\s*$", re.MULTILINE)


class ConstraintsError(ValueError):
    """A freeze or os-info file that cannot give the book's constraints."""


def canonical(name: str) -> str:
    """A package name compared as pip compares it: lower case, ``-``/``_``/``.`` equal.

    ``canonical("ML_Dtypes") == "ml-dtypes"`` (PEP 503 normalisation).
    """
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Pin:
    """One ``name==version`` line of a freeze file (name spelled as the file does)."""

    name: str
    version: str
    line: int


def parse_freeze(text: str, source: str = "the freeze file") -> dict[str, Pin]:
    """Every pinned package of a ``pip freeze`` output, keyed by ``canonical`` name.

    Comments and blank lines are skipped; ``name @ url`` lines are kept with version
    ``""`` (``constraints`` refuses them only if the book needs that name); ``-e``
    lines are skipped. Raises ConstraintsError for any other line, naming ``source``
    and the line number, and for a name listed twice with different versions.
    """
    pins: dict[str, Pin] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith("-e "):
            continue
        match = _REQUIREMENT.match(line) or _URL_REQUIREMENT.match(line)
        if match is None:
            raise ConstraintsError(
                f"{source}, line {number}: {raw!r} is not a pip freeze line "
                "('name==version' or 'name @ url'); pass the pip-freeze file itself"
            )
        version = match.group(2) if match.re is _REQUIREMENT else ""
        pin = Pin(match.group(1), version, number)
        key = canonical(pin.name)
        if key in pins and pins[key].version != version:
            first = pins[key]
            raise ConstraintsError(
                f"{source} lists {pin.name} twice with different versions "
                f"({first.version or 'a URL'} on line {first.line}, "
                f"{version or 'a URL'} on line {number}); fix the file"
            )
        pins[key] = pin
    return pins


def python_version(os_info: str, source: str = "the os-info file") -> str:
    """The ``Python X.Y.Z`` line of an ``os-info-gpu.txt``, as ``"X.Y.Z"``.

    Raises ConstraintsError when there is no such line.
    """
    match = _PYTHON.search(os_info)
    if match is None:
        raise ConstraintsError(
            f"{source} has no 'Python 3.X.Y' line; pass os-info-gpu.txt of the same "
            "commit, or give --python"
        )
    return match.group(1)


def constraints(
    freeze: str,
    *,
    commit: str,
    date: str,
    python: str,
    runtime: str = "current",
    repository: str = REPOSITORY,
    freeze_file: str = FREEZE_FILE,
    source: str = "the freeze file",
) -> str:
    """The constraints file for a Colab stage of CI, as text.

    ``freeze`` is the text of a ``pip freeze`` file from ``repository`` at ``commit``
    (made on ``date``, ISO ``YYYY-MM-DD``), named ``freeze_file`` there; ``python`` is
    that runtime's Python (``X.Y.Z``); ``runtime`` names it in the header ("current",
    "fallback"). Raises ConstraintsError naming every needed package that the freeze
    lacks or gives without a version, and for a malformed commit, date or Python.
    """
    if not re.fullmatch(r"[0-9a-f]{7,40}", commit):
        raise ConstraintsError(
            f"commit={commit!r} is not a git commit id; give 7 to 40 lower-case hex "
            "digits, e.g. ec53f93"
        )
    try:
        Date.fromisoformat(date)
    except ValueError:
        raise ConstraintsError(
            f"date={date!r} is not an ISO date; give the commit's date as YYYY-MM-DD"
        ) from None
    if not re.fullmatch(r"3\.\d+(\.\d+)?", python):
        raise ConstraintsError(
            f"python={python!r} is not a Python 3 version; give e.g. 3.12.13 "
            "(the 'Python' line of os-info-gpu.txt)"
        )
    pins = parse_freeze(freeze, source)
    wanted = [name for _, names in NEEDED for name, _ in names]
    missing = [name for name in wanted if canonical(name) not in pins]
    found = [name for name in wanted if name not in missing]
    unversioned = [name for name in found if not pins[canonical(name)].version]
    if missing or unversioned:
        problems = []
        if missing:
            problems.append(f"lacks {', '.join(missing)}")
        if unversioned:
            problems.append(f"gives no version (a URL) for {', '.join(unversioned)}")
        raise ConstraintsError(
            f"{source} {' and '.join(problems)}, which the book needs; pass a "
            f"{freeze_file} of {repository} (the whole file), or, if Colab dropped a "
            "package, change NEEDED in tools/colab_constraints.py"
        )

    header = (
        f"Google Colab's {runtime} runtime, pinned for a Colab stage of CI "
        "(.ci/colab_stage.sh). Written by `python -m tools.colab_constraints` "
        "(CONTRIBUTING.md says when to run it); do not edit it by hand. "
        f"Source: github.com/{repository}, file {freeze_file} at commit {commit} "
        f"({date}); the Python version from os-info-gpu.txt of that commit. Every "
        "`==` pin below is that file's version of the name unless its comment says "
        "otherwise. colab_stage.sh installs every line (pip install -r): pip's "
        "resolver must find them consistent, as they are on Colab, and it takes "
        "Colab's Python (major.minor) from the next line."
    )
    out = [*_comment(header), f"# colab-python: {python}"]
    for title, names in NEEDED:
        out += ["", f"# --- {title}"]
        for name, note in names:
            pin = pins[canonical(name)]
            if note:
                out += _comment(note)
            if name in RENAMED:
                colab = f"{pin.name}=={pin.version}"
                out.append(f"{RENAMED[name]}=={pin.version}  # Colab: {colab}")
            else:
                out.append(f"{pin.name}=={pin.version}")
    out += ["", "# --- not on Colab: only the book's tests need them"]
    out += _comment(
        "(NOT_ON_COLAB in tools/colab_constraints.py: papermill as in "
        "requirements.txt, hypothesis a fixed release)"
    )
    out += [f"{name}=={version}" for name, version in NOT_ON_COLAB.items()]
    return "\n".join(out) + "\n"


def _comment(text: str, width: int = 88) -> list[str]:
    """``text`` as ``# `` comment lines at most ``width`` columns wide."""
    lines, line = [], "#"
    for word in text.split():
        if len(line) + 1 + len(word) > width:
            lines.append(line)
            line = "#"
        line += " " + word
    return [*lines, line]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.colab_constraints", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("freeze", type=Path, help=f"a {FREEZE_FILE} of {REPOSITORY}")
    parser.add_argument("--commit", required=True, help="its commit id (hex)")
    parser.add_argument("--date", required=True, help="the commit's date, YYYY-MM-DD")
    version = parser.add_mutually_exclusive_group(required=True)
    version.add_argument(
        "--os-info", type=Path, help="os-info-gpu.txt of the same commit (its Python)"
    )
    version.add_argument("--python", help="the runtime's Python, e.g. 3.12.13")
    parser.add_argument(
        "--runtime", default="current", help="its name in the header (or fallback)"
    )
    parser.add_argument("--repository", default=REPOSITORY, help="owner/name on GitHub")
    parser.add_argument(
        "--file", default=FREEZE_FILE, help="the freeze file's path in the repository"
    )
    parser.add_argument(
        "-o", "--output", type=Path, help="write here (only on success), not to stdout"
    )
    args = parser.parse_args(argv)
    try:
        freeze = _read(args.freeze, "FREEZE")
        python = args.python or python_version(
            _read(args.os_info, "--os-info"), str(args.os_info)
        )
        text = constraints(
            freeze,
            commit=args.commit,
            date=args.date,
            python=python,
            runtime=args.runtime,
            repository=args.repository,
            freeze_file=args.file,
            source=str(args.freeze),
        )
    except ConstraintsError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    if args.output is None:
        sys.stdout.write(text)
    else:
        partial = args.output.with_name(args.output.name + ".partial")
        partial.write_text(text)
        partial.replace(args.output)
    return 0


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as err:
        message = f"{what} {path}: cannot read it ({err.strerror})"
        raise ConstraintsError(message) from None


if __name__ == "__main__":
    sys.exit(main())
