"""pytest configuration shared by the unit tests and the notebook checks (nbval).

- Notebooks are checked in the QUICK profile unless BOOK_MODE says otherwise: the stored
  outputs were made in QUICK, and a GPU machine would otherwise pick FULL.
- stderr is never compared: it carries Python warnings with per-run temporary paths and
  library log lines that the stored run and the nbval kernel capture differently
  (see CONTRIBUTING.md). Everything a reader should see goes to stdout or a figure.
"""

import os

os.environ.setdefault("BOOK_MODE", "quick")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def pytest_collectstart(collector):
    if collector.__class__.__name__ == "IPyNbFile":
        collector.skip_compare += ("stderr",)
