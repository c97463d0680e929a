"""CIFAR-10 from the official binary batches, and sample photos that need no download.

Chapter 1 ("Images as tensors") explains the data; every later chapter loads it with
:func:`load_cifar10`.

Where the data comes from, in this order:

1. the ``data_dir`` argument;
2. the environment variable ``CIFAR10_DIR``;
3. the Keras cache, ``<Keras home>/datasets/cifar-10-batches-bin``, where the Keras
   home is found as ``keras.utils.get_file`` finds it
   (:func:`utils.cifar_download.keras_cache_folder`);
4. only when none of those holds the data: a download of the official binary archive,
   checked against its published SHA-256 before anything is extracted
   (:mod:`utils.cifar_download`).

A folder named explicitly (1 or 2) that does not hold valid data is an error: the loader
never falls back to a download behind the reader's back. Records are parsed with NumPy;
nothing is ever unpickled. Every path (arguments and ``CIFAR10_DIR``/``KERAS_HOME``) may
start with ``~``: it is expanded to the home folder, as a shell would.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .cifar_download import download_cifar10, keras_cache_folder
from .cifar_format import (  # noqa: F401  (re-exported: data.CIFAR10Error, ...)
    CIFAR10_ARCHIVE_BYTES,
    CIFAR10_SHA256,
    CIFAR10_URL,
    FOLDER_NAME,
    HOW_TO_GET,
    RECORD_BYTES,
    RECORDS_PER_FILE,
    TEST_FILE,
    TRAIN_FILES,
    CIFAR10Error,
    as_path,
)
from .files import file_sha256, staged_folder  # noqa: F401  (re-exported)
from .shapes import is_int

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

# --------------------------------------------------------------------------- parsing


def read_batch(
    path: str | os.PathLike, records: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Parse one batch file into ``(images uint8 (N,32,32,3), labels uint8 (N,))``.

    ``records`` is the expected number of records (default :data:`RECORDS_PER_FILE`); a
    file of any other size is reported as truncated or wrong-size. Chapter 1 shows the
    layout. Raises :class:`CIFAR10Error` for a missing, unreadable, wrong-size or
    corrupt file.
    """
    path = as_path(path, "path")
    records = RECORDS_PER_FILE if records is None else records
    if not is_int(records) or records < 1:
        raise CIFAR10Error(f"records must be a positive int, got {records!r}")
    if not path.is_file():
        raise CIFAR10Error(
            f"CIFAR-10 batch file {path.name} is missing from {path.parent}. "
            f"{HOW_TO_GET}"
        )
    expected = records * RECORD_BYTES
    size = path.stat().st_size
    if size != expected:
        raise CIFAR10Error(
            f"CIFAR-10 batch file {path} has {size:,} bytes, expected {expected:,} "
            f"({records:,} records of {RECORD_BYTES} bytes): it is truncated or not a "
            "CIFAR-10 binary batch. "
            f"Replace it with a fresh copy. {HOW_TO_GET}"
        )
    try:
        raw = np.fromfile(path, dtype=np.uint8).reshape(records, RECORD_BYTES)
    except OSError as err:  # e.g. no read permission
        raise CIFAR10Error(
            f"CIFAR-10 batch file {path} cannot be read ({err}). "
            f"Check its permissions. {HOW_TO_GET}"
        ) from err
    labels = raw[:, 0].copy()
    bad = np.flatnonzero(labels > 9)
    if bad.size:
        raise CIFAR10Error(
            f"CIFAR-10 batch file {path} has label {int(labels[bad[0]])} in record "
            f"{int(bad[0])} (labels must be 0-9): the file is corrupt or is not a "
            f"CIFAR-10 batch (CIFAR-100 has "
            f"two label bytes). Replace it with a fresh copy. {HOW_TO_GET}"
        )
    # planes are stored channel-first (3, 32, 32); the book, like Keras, uses NHWC
    images = raw[:, 1:].reshape(records, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def read_folder(
    folder: str | os.PathLike,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Read the six batch files of a ``cifar-10-batches-bin`` folder (no subsetting).

    Returns ``(x_train, y_train), (x_test, y_test)``: uint8 images
    ``(50000, 32, 32, 3)`` and ``(10000, 32, 32, 3)``, uint8 labels ``(N, 1)``. Raises
    :class:`CIFAR10Error` naming the missing or bad file. Chapter 1.
    """
    folder = as_path(folder, "folder")
    if not folder.is_dir():
        raise CIFAR10Error(
            f"CIFAR-10 folder {folder} does not exist or is not a folder. {HOW_TO_GET}"
        )
    missing = [
        name for name in (*TRAIN_FILES, TEST_FILE) if not (folder / name).is_file()
    ]
    if missing:
        raise CIFAR10Error(
            f"CIFAR-10 folder {folder} is missing {', '.join(missing)}: it must hold "
            "the six files of "
            f"the official 'cifar-10-batches-bin' folder. {HOW_TO_GET}"
        )
    parts = [read_batch(folder / name) for name in TRAIN_FILES]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    x_test, y_test = read_batch(folder / TEST_FILE)
    # Keras returns labels as an (N, 1) uint8 column; so do we
    return (x_train, y_train.reshape(-1, 1)), (x_test, y_test.reshape(-1, 1))


def balanced_subset(
    x: np.ndarray, y: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n // 10`` images of each class, in their original order.

    ``n`` must be a positive multiple of 10 no larger than the split. Used for QUICK
    runs (chapter 1). Returns ``(x[idx], y[idx])`` with dtypes and trailing shapes kept.
    Raises :class:`CIFAR10Error` for a bad ``n``, ``x`` and ``y`` of different lengths,
    or a class with too few images.
    """
    labels = np.asarray(y).reshape(-1)
    if len(x) != len(labels):
        raise CIFAR10Error(f"x has {len(x)} images but y has {len(labels)} labels")
    if not isinstance(n, (int, np.integer)) or n <= 0 or n % 10:
        raise CIFAR10Error(
            f"subset size must be a positive multiple of 10 (one tenth per class), "
            f"got {n!r}"
        )
    per_class = n // 10
    keep = []
    for c in range(10):
        idx = np.flatnonzero(labels == c)
        if idx.size < per_class:
            raise CIFAR10Error(
                f"subset of {n} needs {per_class} images of class {c}, but the split "
                f"has only {idx.size}"
            )
        keep.append(idx[:per_class])
    order = np.sort(np.concatenate(keep))
    return x[order], y[order]


def train_val_split(
    x: np.ndarray, y: np.ndarray, val_size: int = 5_000, *, seed: int = 0
):
    """A stratified validation split: ``(x_tr, y_tr), (x_val, y_val)``; chapter 1.

    Each class gives ``val_size // 10`` images, chosen by a seeded permutation, so the
    split is the same on every machine. The test set is never touched: chapter 1
    explains why choices (hyperparameters, early stopping, architecture) must be made on
    validation data only. Raises :class:`CIFAR10Error` for an empty split, lengths that
    differ, a ``val_size`` that is not a positive multiple of the number of classes, or
    a class too small.
    """
    labels = np.asarray(y).reshape(-1)
    if len(x) != len(labels):
        raise CIFAR10Error(f"x has {len(x)} images but y has {len(labels)} labels")
    classes = np.unique(labels)
    if not classes.size:
        raise CIFAR10Error("train_val_split got no images; pass the training split")
    if not is_int(val_size) or val_size <= 0 or val_size % len(classes):
        raise CIFAR10Error(
            f"val_size must be a positive multiple of the number of classes "
            f"({len(classes)}), got {val_size!r}"
        )
    per_class = val_size // len(classes)
    rng = np.random.default_rng(seed)
    val_idx = []
    for c in classes:
        idx = np.flatnonzero(labels == c)
        if idx.size <= per_class:
            raise CIFAR10Error(
                f"class {c} has {idx.size} images, too few to give {per_class} to "
                "validation"
            )
        val_idx.append(rng.permutation(idx)[:per_class])
    val_mask = np.zeros(len(labels), dtype=bool)
    val_mask[np.concatenate(val_idx)] = True
    return (x[~val_mask], y[~val_mask]), (x[val_mask], y[val_mask])


# --------------------------------------------------------------------------- locating


def locate_cifar10(
    data_dir: str | os.PathLike | None = None, *, download: bool = True
) -> tuple[Path, str]:
    """Return ``(folder, source)`` where ``source`` says in words which rule found it.

    The order of the module docstring; ``~`` in ``data_dir`` and ``CIFAR10_DIR`` is
    expanded. The folder is not checked here (:func:`read_folder` does). Raises
    :class:`CIFAR10Error` when nothing is found and ``download=False``, or the download
    fails. Chapter 1.
    """

    if data_dir is not None:
        return as_path(data_dir, "data_dir"), "the data_dir argument"
    env = os.environ.get("CIFAR10_DIR")
    if env:
        return as_path(env, "CIFAR10_DIR"), "CIFAR10_DIR"
    cached = keras_cache_folder() / FOLDER_NAME
    if cached.is_dir():
        return cached, "the Keras cache"
    if not download:
        raise CIFAR10Error(
            f"CIFAR-10 is not in the Keras cache ({cached}) and download=False. "
            f"{HOW_TO_GET}"
        )
    return download_cifar10(), "a fresh download of the official archive"


# ---------------------------------------------------------------------- public loader


def _subset_sizes(subset) -> tuple[int | None, int | None]:
    if subset is None:
        return None, None
    if isinstance(subset, (int, np.integer)) and not isinstance(subset, bool):
        return int(subset), int(subset)
    if isinstance(subset, tuple) and len(subset) == 2:
        return subset
    raise CIFAR10Error(
        f"subset must be None, an int, or a (n_train, n_test) tuple, got {subset!r}"
    )


def load_cifar10(
    data_dir=None, *, subset=None, verbose: bool = True, download: bool = True
):
    """CIFAR-10 as ``(x_train, y_train), (x_test, y_test)``, like Keras' load_data().

    Images are uint8 NHWC ``(N, 32, 32, 3)``; labels are uint8 ``(N, 1)`` class indices
    into :data:`CIFAR10_CLASSES`. ``subset`` takes a deterministic, class-balanced
    slice: an int ``n`` keeps ``n`` images of each split (``n/10`` per class), a tuple
    ``(n_train, n_test)`` sizes the splits separately (``None`` in the tuple keeps a
    whole split). With ``verbose`` one line says which source was used. Chapter 1 walks
    through the format.

    Raises :class:`CIFAR10Error` (also a ``ValueError``) for a bad ``subset``, a folder
    named by ``data_dir`` or ``CIFAR10_DIR`` that does not hold valid data (never a
    silent download instead), a missing cache with ``download=False``, or a failed
    download.
    """
    n_train, n_test = _subset_sizes(subset)
    folder, source = locate_cifar10(data_dir, download=download)
    (x_train, y_train), (x_test, y_test) = read_folder(folder)
    if n_train is not None:
        x_train, y_train = balanced_subset(x_train, y_train, n_train)
    if n_test is not None:
        x_test, y_test = balanced_subset(x_test, y_test, n_test)
    if verbose:
        print(
            f"CIFAR-10 from {source}: {len(x_train):,} training and {len(x_test):,} "
            "test images"
        )
    return (x_train, y_train), (x_test, y_test)


# ---------------------------------------------------------------------- sample photos

SAMPLE_PHOTOS = {
    "cat": "chelsea",
    "coffee": "coffee",
    "astronaut": "astronaut",
    "rocket": "rocket",
    "camera": "camera",
}


def sample_photo(name: str = "cat") -> np.ndarray:
    """A real photo shipped with scikit-image (no download), uint8 ``(H, W, 3)``.

    ``camera`` is grey, ``(H, W)``.

    Names: ``cat``, ``coffee``, ``astronaut``, ``rocket`` (colour) and ``camera``
    (grey). Chapters 1 and 3 use them to show pixels and filters on something real.
    Raises :class:`CIFAR10Error` (a ``ValueError``) for an unknown name.
    """
    if not isinstance(name, str) or name not in SAMPLE_PHOTOS:
        raise CIFAR10Error(
            f"unknown sample photo {name!r}; choose one of {sorted(SAMPLE_PHOTOS)}"
        )
    import skimage.data

    return getattr(skimage.data, SAMPLE_PHOTOS[name])()
