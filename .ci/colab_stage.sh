#!/usr/bin/env bash
# CI, the Colab stages: the book on Google Colab's runtimes, emulated (issues 11, 31).
# A runtime's Python and package set (a constraints file written by
# `python -m tools.colab_constraints` from the pip freeze Colab publishes) in a fresh
# virtualenv; the chapters run as Colab runs them (.ci/colab_notebooks.py: the notebook
# alone in an empty folder, google.colab importable, the setup cell's clone served by
# this checkout); then the unit tests.
#   bash .ci/colab_stage.sh [current|fallback] [chapters/NN_name.ipynb ...]
# COLAB_UNIT_TESTS=0 leaves the unit tests out of the current runtime's stage (.ci/run does).
# current (the default): Colab's runtime today, .ci/colab-constraints.txt; every chapter
#   whole.
# fallback: the previous runtime that Colab lets readers pick (2026.07: Python 3.12,
#   NumPy 2.0.2), .ci/colab-fallback-constraints.txt; every chapter to its first half
#   (colab_notebooks.py --first-half: the code cells up to the middle one run, the rest
#   are compiled by Python 3.12 but not run), then every module of utils/ imported,
#   since CI's 75 minutes cannot hold a second full run (nor the unit tests again).
# current then runs all the unit tests. Chapters default to all of chapters/.
# COLAB_VENV=DIR keeps (and reuses) the virtualenv in DIR instead of a temporary one;
# use one per runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
runtime=current
case "${1:-}" in
  current | fallback) runtime=$1; shift ;;
esac
if [ "$runtime" = fallback ]; then
  constraints=.ci/colab-fallback-constraints.txt
  run_mode=(--first-half)
else
  constraints=.ci/colab-constraints.txt
  run_mode=()
fi
# Colab's Python (major.minor) from the constraints' "# colab-python: X.Y.Z" line, which
# tools.colab_constraints copies from os-info-gpu.txt. The patch release here is pyenv's
# (CI's machine has 3.13.0 and 3.12.1 under /root/.pyenv/versions; Colab runs 3.13.15
# and 3.12.13): the newest one installed is taken.
COLAB_PYTHON=""
while IFS= read -r line; do
  if [[ $line =~ ^#\ colab-python:\ ([0-9]+\.[0-9]+)\. ]]; then
    COLAB_PYTHON=${BASH_REMATCH[1]}
    break
  fi
done <"$constraints"
if [ -z "$COLAB_PYTHON" ]; then
  echo "[colab] FAILED: $constraints has no '# colab-python: X.Y.Z' line;" \
       "write it with python -m tools.colab_constraints" >&2
  exit 1
fi
echo "[colab] runtime: $runtime ($constraints, Python $COLAB_PYTHON)"
start=$SECONDS

# Colab's Python, from pyenv (or on PATH). Missing is a failure, never a skip.
roots=("${PYENV_ROOT:-$HOME/.pyenv}" "$(pyenv root 2>/dev/null || true)")
py=""
for root in "${roots[@]}"; do
  [ -n "$root" ] || continue
  for cand in "$root"/versions/"$COLAB_PYTHON"*/bin/python"$COLAB_PYTHON"; do
    if [ -x "$cand" ]; then py=$cand; fi  # the last one: the newest patch release
  done
  if [ -n "$py" ]; then break; fi
done
if [ -z "$py" ]; then py=$(command -v "python$COLAB_PYTHON" || true); fi
if [ -z "$py" ]; then
  echo "[colab] FAILED: Python $COLAB_PYTHON (Colab's) is not in ${roots[*]}" \
       "(versions/) nor on PATH; install it (pyenv install $COLAB_PYTHON)" >&2
  exit 1
fi

if [ -n "${COLAB_VENV:-}" ]; then
  venv=$COLAB_VENV
else
  venv=$(mktemp -d "${TMPDIR:-/tmp}/colab-venv.XXXXXX")
  trap 'rm -rf "$venv"' EXIT
fi
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
have=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$have" != "$COLAB_PYTHON" ]; then
  echo "[colab] FAILED: the virtualenv $venv has Python $have, the $runtime runtime" \
       "needs $COLAB_PYTHON; give COLAB_VENV a folder of its own" >&2
  exit 1
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$constraints"
echo "[colab] install ($("$venv/bin/python" --version)): $((SECONDS - start)) s"

if [ $# -eq 0 ]; then set -- chapters/*.ipynb; fi
t=$SECONDS
status=0
"$venv/bin/python" .ci/colab_notebooks.py ${run_mode[@]+"${run_mode[@]}"} "$@" || status=1
echo "[colab] chapters: $((SECONDS - t)) s"

t=$SECONDS
if [ "$runtime" = fallback ]; then
  # every module of utils/ imported on this runtime (what the second halves call is
  # at least importable on it); the unit tests run on the current runtime's stage
  "$venv/bin/python" -c '
import importlib, pkgutil, utils
names = sorted(m.name for m in pkgutil.walk_packages(utils.__path__, "utils."))
for name in names:
    importlib.import_module(name)
print(f"[colab] imported the {len(names)} modules of utils/")
' || status=1
  echo "[colab] imports: $((SECONDS - t)) s; total $((SECONDS - start)) s"
  exit $status
fi
# the unit tests on Colab's versions (pytest.ini's nbval options do not apply here)
# (not tests/test_vs_airbench.py: the side-by-side benchmark needs PyTorch and airbench,
# requirements-bench.txt, which a Colab reader never installs for the book).
# COLAB_UNIT_TESTS=0 leaves them out: .ci/run does, to keep CI within its 75 minutes
# (the main stage runs them on the pinned versions; the chapters above run every
# utils path a reader meets on Colab's versions).
if [ "${COLAB_UNIT_TESTS:-1}" = 0 ]; then
  echo "[colab] unit tests left out (COLAB_UNIT_TESTS=0); total $((SECONDS - start)) s"
  exit $status
fi
"$venv/bin/python" -m pytest -q -o addopts="-p no:cacheprovider" tests \
  --ignore tests/test_vs_airbench.py || status=1
echo "[colab] tests: $((SECONDS - t)) s; total $((SECONDS - start)) s"
exit $status
