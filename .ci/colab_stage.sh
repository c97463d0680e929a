#!/usr/bin/env bash
# CI, second stage: the book on Google Colab's runtime, emulated (issue 11).
# Colab's Python and package set (.ci/colab-constraints.txt, copied from the pip freeze
# Colab publishes) in a fresh virtualenv; every chapter run as Colab runs it
# (.ci/colab_notebooks.py: the notebook alone in an empty folder, google.colab
# importable, the setup cell's clone served by this checkout); then the unit tests.
#   bash .ci/colab_stage.sh [chapters/NN_name.ipynb ...]    (default: every chapter)
# COLAB_VENV=DIR keeps (and reuses) the virtualenv in DIR instead of a temporary one.
set -euo pipefail
cd "$(dirname "$0")/.."
COLAB_PYTHON=3.13  # from os-info-gpu.txt of googlecolab/backend-info (as the pins)
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
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r .ci/colab-constraints.txt
echo "[colab] install ($("$venv/bin/python" --version)): $((SECONDS - start)) s"

if [ $# -eq 0 ]; then set -- chapters/*.ipynb; fi
t=$SECONDS
status=0
"$venv/bin/python" .ci/colab_notebooks.py "$@" || status=1
echo "[colab] chapters: $((SECONDS - t)) s"

# the unit tests on Colab's versions (pytest.ini's nbval options do not apply here)
t=$SECONDS
# (not tests/test_vs_airbench.py: the side-by-side benchmark needs PyTorch and airbench,
# requirements-bench.txt, which a Colab reader never installs for the book)
"$venv/bin/python" -m pytest -q -o addopts="-p no:cacheprovider" tests \
  --ignore tests/test_vs_airbench.py || status=1
echo "[colab] tests: $((SECONDS - t)) s; total $((SECONDS - start)) s"
exit $status
