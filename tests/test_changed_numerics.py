"""CI's changed-numerics stage can catch a CPU-dependent stored output.

``.ci/run`` runs the README's test command with the variables of
``.ci/changed-numerics.env`` exported: other OpenBLAS kernels, another TensorFlow
intra-op thread count, oneDNN and XLA capped at AVX2. Stored outputs must survive that
(they must not depend on the machine). This test stores a notebook whose output *does*
depend on the kernels (float32 sums by NumPy's OpenBLAS and by TensorFlow, printed
to every digit), and checks that nbval passes it under the storing numerics and fails
it under the changed ones: proof that the stage changes numerics on the machine it
runs on.
"""

import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent

CPU_DEPENDENT = """\
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
import numpy as np
import tensorflow as tf

rng = np.random.default_rng(0)
v = rng.random(1_000_003, dtype=np.float32)
m = rng.random((257, 1031), dtype=np.float32)
x = tf.constant(rng.random((8, 64, 64, 32), dtype=np.float32))
k = tf.constant(rng.random((3, 3, 32, 64), dtype=np.float32))
# float32 sums split differently by the kernels (OpenBLAS) and threads (TensorFlow)
print(repr(float(np.dot(v, v))), repr(float((m @ m.T).sum())))
y = tf.nn.conv2d(x, k, 1, "SAME")
print(repr(float(tf.reduce_sum(v))), repr(float(tf.reduce_sum(y))))
"""


def changed_numerics() -> dict:
    variables = {}
    for line in (ROOT / ".ci" / "changed-numerics.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            variables[key.strip()] = value.strip()
    return variables


def nbval(path: Path, extra: dict) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in changed_numerics()  # the storing run's numerics: the defaults
    }
    env.update(extra)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval",
            str(path),
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "--rootdir",
            str(path.parent),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=path.parent,
    )


def test_the_changed_numerics_stage_fails_a_cpu_dependent_output(tmp_path):
    variables = changed_numerics()
    assert {"OPENBLAS_CORETYPE", "TF_NUM_INTRAOP_THREADS"} <= set(variables)
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CPU_DEPENDENT)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    clean = {k: v for k, v in os.environ.items() if k not in variables}
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(clean)
        NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    path = tmp_path / "cpu_dependent.ipynb"
    nbformat.write(nb, path)
    same = nbval(path, {})
    assert same.returncode == 0, same.stdout[-2000:]
    changed = nbval(path, variables)
    assert changed.returncode != 0, (
        "nbval passed a CPU-dependent output under .ci/changed-numerics.env: its "
        "variables no longer change the numerics here\n" + changed.stdout[-2000:]
    )
    assert "1 failed" in changed.stdout
