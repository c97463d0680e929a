"""The CIFAR-10 binary format and where to get it: constants, the error, paths.

Chapter 1 ("Images as tensors") explains the format. :mod:`utils.data` reads the
batches and :mod:`utils.cifar_download` fetches the archive; both take these facts from
here, so neither imports the other's internals (``utils.data`` re-exports every name).
"""

from __future__ import annotations

import os
from pathlib import Path

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
CIFAR10_ARCHIVE_BYTES = 170_052_171
FOLDER_NAME = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
RECORD_BYTES = 1 + 32 * 32 * 3  # label byte, then 1024 red, 1024 green, 1024 blue bytes
RECORDS_PER_FILE = 10_000

HOW_TO_GET = (
    "Download the official archive from " + CIFAR10_URL + ", extract it, and point the "
    "book at the "
    "extracted 'cifar-10-batches-bin' folder with the environment variable CIFAR10_DIR "
    "(or pass data_dir=...)."
)


class CIFAR10Error(RuntimeError, ValueError):
    """Any problem here: finding, downloading or parsing CIFAR-10, or a bad argument.

    The message says how to fix it. It is also a ``ValueError``, so code that catches
    bad arguments that way keeps working. Chapter 1 loads CIFAR-10 first.
    """


def as_path(value, what: str) -> Path:
    """``value`` (str or PathLike) as a Path with ``~`` expanded, else CIFAR10Error.

    ``what`` names the argument in the message. Chapter 1 (where the data comes from).
    """
    is_path = isinstance(value, (str, os.PathLike)) and not isinstance(value, bytes)
    if not is_path or value == "":
        raise CIFAR10Error(
            f"{what} must be a folder or file path (str or Path), got {value!r}"
        )
    return Path(value).expanduser()
