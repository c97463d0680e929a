"""utils.glue: the same stored output with myst-nb as without it (Colab has none)."""

import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from utils import glue, runs

ROOT = Path(__file__).resolve().parent.parent


def run_cell(code: str) -> list:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n{code}"
        )
    ]
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    return nb.cells[0].outputs


GLUE = (
    "import numpy as np\nfrom utils.glue import glue\n"
    "glue('headline_acc', np.float64(0.625))  # a NumPy scalar glues as a float\n"
    "glue('acc_pct', '62.5%')"
)


def test_without_myst_nb_the_output_is_what_myst_nb_writes():
    fallback = run_cell("sys.modules['myst_nb'] = None  # as on Colab\n" + GLUE)
    assert [o["metadata"]["scrapbook"]["name"] for o in fallback] == [
        "headline_acc",
        "acc_pct",
    ]
    assert fallback[1]["data"] == {f"{glue.PREFIX}text/plain": "'62.5%'"}
    assert runs.headline_values({"cells": [{"outputs": fallback}]}) == {"acc": 0.625}
    if importlib.util.find_spec("myst_nb") is None:
        pytest.skip("myst-nb is not installed here (the Colab stage)")
    assert run_cell(GLUE) == fallback


def test_bad_name_and_plain_python():
    with pytest.raises(ValueError, match="identifier"):
        glue.glue("test acc", 1.0)
    glue.glue("outside_ipython", 1.0)  # no kernel: nothing to store, no error
