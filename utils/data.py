"""CIFAR-10 from the official binary batches, and sample photos that need no download.

Chapter 1 ("Images as tensors") explains the data; every later chapter loads it with
:func:`load_cifar10`.

Where the data comes from, in this order:

1. the ``data_dir`` argument;
2. the environment variable ``CIFAR10_DIR``;
3. the Keras cache, ``$KERAS_HOME/datasets/cifar-10-batches-bin`` (``~/.keras`` by default);
4. only when none of those holds the data: a download of the official binary archive,
   checked against its published SHA-256 before anything is extracted.

A folder named explicitly (1 or 2) that does not hold valid data is an error: the loader
never falls back to a download behind the reader's back. Records are parsed with NumPy;
nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

import numpy as np

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

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
CIFAR10_ARCHIVE_BYTES = 170_052_171
FOLDER_NAME = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
RECORD_BYTES = 1 + 32 * 32 * 3  # label byte, then 1024 red, 1024 green, 1024 blue bytes
RECORDS_PER_FILE = 10_000

HOW_TO_GET = (
    "Download the official archive from " + CIFAR10_URL + ", extract it, and point the book at the "
    "extracted 'cifar-10-batches-bin' folder with the environment variable CIFAR10_DIR "
    "(or pass data_dir=...)."
)


class CIFAR10Error(RuntimeError):
    """Any problem finding, downloading or parsing CIFAR-10; the message says how to fix it."""


# --------------------------------------------------------------------------- parsing


def read_batch(path: str | os.PathLike, records: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Parse one binary batch file into ``(images uint8 (N,32,32,3), labels uint8 (N,))``.

    ``records`` is the expected number of records (default :data:`RECORDS_PER_FILE`); a file
    of any other size is reported as truncated or wrong-size. Chapter 1 shows the layout.
    """
    path = Path(path)
    records = RECORDS_PER_FILE if records is None else records
    if not path.is_file():
        raise CIFAR10Error(f"CIFAR-10 batch file {path.name} is missing from {path.parent}. {HOW_TO_GET}")
    expected = records * RECORD_BYTES
    size = path.stat().st_size
    if size != expected:
        raise CIFAR10Error(
            f"CIFAR-10 batch file {path} has {size:,} bytes, expected {expected:,} "
            f"({records:,} records of {RECORD_BYTES} bytes): it is truncated or not a CIFAR-10 binary batch. "
            f"Replace it with a fresh copy. {HOW_TO_GET}"
        )
    raw = np.fromfile(path, dtype=np.uint8).reshape(records, RECORD_BYTES)
    labels = raw[:, 0].copy()
    bad = np.flatnonzero(labels > 9)
    if bad.size:
        raise CIFAR10Error(
            f"CIFAR-10 batch file {path} has label {int(labels[bad[0]])} in record {int(bad[0])} "
            f"(labels must be 0-9): the file is corrupt or is not a CIFAR-10 batch (CIFAR-100 has "
            f"two label bytes). Replace it with a fresh copy. {HOW_TO_GET}"
        )
    # planes are stored channel-first (3, 32, 32); the book, like Keras, uses NHWC
    images = raw[:, 1:].reshape(records, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def read_folder(folder: str | os.PathLike) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Read all six batch files of a ``cifar-10-batches-bin`` folder (no subsetting)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CIFAR10Error(f"CIFAR-10 folder {folder} does not exist or is not a folder. {HOW_TO_GET}")
    missing = [name for name in (*TRAIN_FILES, TEST_FILE) if not (folder / name).is_file()]
    if missing:
        raise CIFAR10Error(
            f"CIFAR-10 folder {folder} is missing {', '.join(missing)}: it must hold the six files of "
            f"the official 'cifar-10-batches-bin' folder. {HOW_TO_GET}"
        )
    parts = [read_batch(folder / name) for name in TRAIN_FILES]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    x_test, y_test = read_batch(folder / TEST_FILE)
    # Keras returns labels as an (N, 1) uint8 column; so do we
    return (x_train, y_train.reshape(-1, 1)), (x_test, y_test.reshape(-1, 1))


def balanced_subset(x: np.ndarray, y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n // 10`` images of each class, in their original order (deterministic).

    ``n`` must be a positive multiple of 10 no larger than the split. Used for QUICK runs.
    """
    labels = np.asarray(y).reshape(-1)
    if not isinstance(n, (int, np.integer)) or n <= 0 or n % 10:
        raise ValueError(f"subset size must be a positive multiple of 10 (one tenth per class), got {n!r}")
    per_class = n // 10
    keep = []
    for c in range(10):
        idx = np.flatnonzero(labels == c)
        if idx.size < per_class:
            raise ValueError(f"subset of {n} needs {per_class} images of class {c}, but the split has only {idx.size}")
        keep.append(idx[:per_class])
    order = np.sort(np.concatenate(keep))
    return x[order], y[order]


def train_val_split(x: np.ndarray, y: np.ndarray, val_size: int = 5_000, *, seed: int = 0):
    """Carve a stratified validation set out of the training data: ``(x_tr, y_tr), (x_val, y_val)``.

    Each class gives ``val_size // 10`` images, chosen by a seeded permutation, so the split is
    the same on every machine. The test set is never touched: chapter 1 explains why choices
    (hyperparameters, early stopping, architecture) must be made on validation data only.
    """
    labels = np.asarray(y).reshape(-1)
    if len(x) != len(labels):
        raise ValueError(f"x has {len(x)} images but y has {len(labels)} labels")
    classes = np.unique(labels)
    if not isinstance(val_size, (int, np.integer)) or val_size <= 0 or val_size % len(classes):
        raise ValueError(f"val_size must be a positive multiple of the number of classes ({len(classes)}), got {val_size!r}")
    per_class = val_size // len(classes)
    rng = np.random.default_rng(seed)
    val_idx = []
    for c in classes:
        idx = np.flatnonzero(labels == c)
        if idx.size <= per_class:
            raise ValueError(f"class {c} has {idx.size} images, too few to give {per_class} to validation")
        val_idx.append(rng.permutation(idx)[:per_class])
    val_mask = np.zeros(len(labels), dtype=bool)
    val_mask[np.concatenate(val_idx)] = True
    return (x[~val_mask], y[~val_mask]), (x[val_mask], y[val_mask])


# --------------------------------------------------------------------------- locating


def keras_cache_folder() -> Path:
    """``$KERAS_HOME/datasets`` (default ``~/.keras/datasets``), where Keras keeps downloads."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_archive(archive: Path) -> None:
    """Check the archive's SHA-256; on a mismatch delete it and raise :class:`CIFAR10Error`."""
    actual = _sha256(archive)
    if actual != CIFAR10_SHA256:
        archive.unlink(missing_ok=True)
        raise CIFAR10Error(
            f"Checksum mismatch for the downloaded CIFAR-10 archive {archive.name}: SHA-256 {actual}, "
            f"expected {CIFAR10_SHA256}. The bad file was removed; run again to download a fresh copy, "
            f"or set CIFAR10_DIR to a folder you trust."
        )


def extract_archive(archive: Path, cache: Path) -> Path:
    """Extract only the expected batch files into ``cache/cifar-10-batches-bin``, atomically.

    Members are copied one by one from the tar into a temporary folder next to the target, and
    the folder is renamed into place only when all of them are there, so an interrupted
    extraction never leaves a half-filled data folder behind.
    """
    wanted = {f"{FOLDER_NAME}/{name}" for name in (*TRAIN_FILES, TEST_FILE, "batches.meta.txt")}
    target = cache / FOLDER_NAME
    staging = Path(tempfile.mkdtemp(prefix=".cifar10-extract-", dir=cache))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                if member.name not in wanted or not member.isfile():
                    continue  # ignore anything else in the archive, never follow links
                source = tar.extractfile(member)
                with open(staging / Path(member.name).name, "wb") as out:
                    shutil.copyfileobj(source, out)
        missing = [name for name in (*TRAIN_FILES, TEST_FILE) if not (staging / name).is_file()]
        if missing:
            raise CIFAR10Error(
                f"The CIFAR-10 archive {archive.name} lacks {', '.join(missing)}; it is not the official "
                f"binary archive. Delete it and run again, or set CIFAR10_DIR."
            )
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def download_cifar10(cache: Path | None = None) -> Path:
    """Download (with a progress bar), verify and extract the official archive into the Keras cache."""
    import keras

    cache = keras_cache_folder() if cache is None else Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    try:
        archive = Path(
            keras.utils.get_file(
                fname="cifar-10-binary.tar.gz",
                origin=CIFAR10_URL,
                cache_dir=str(cache.parent),
                cache_subdir=cache.name,
            )
        )
    except Exception as err:  # keras raises plain Exception on network failures
        raise CIFAR10Error(
            f"CIFAR-10 was not found locally and downloading {CIFAR10_URL} failed ({type(err).__name__}: {err}). "
            f"If this machine is offline: {HOW_TO_GET}"
        ) from err
    verify_archive(archive)
    return extract_archive(archive, cache)


def locate_cifar10(data_dir: str | os.PathLike | None = None, *, download: bool = True) -> tuple[Path, str]:
    """Return ``(folder, source)`` where ``source`` says in words which rule found it."""
    if data_dir is not None:
        return Path(data_dir), "the data_dir argument"
    env = os.environ.get("CIFAR10_DIR")
    if env:
        return Path(env), "CIFAR10_DIR"
    cached = keras_cache_folder() / FOLDER_NAME
    if cached.is_dir():
        return cached, "the Keras cache"
    if not download:
        raise CIFAR10Error(f"CIFAR-10 is not in the Keras cache ({cached}) and download=False. {HOW_TO_GET}")
    return download_cifar10(), "a fresh download of the official archive"


# --------------------------------------------------------------------------- public loader


def _subset_sizes(subset) -> tuple[int | None, int | None]:
    if subset is None:
        return None, None
    if isinstance(subset, (int, np.integer)) and not isinstance(subset, bool):
        return int(subset), int(subset)
    if isinstance(subset, tuple) and len(subset) == 2:
        return subset
    raise ValueError(f"subset must be None, an int, or a (n_train, n_test) tuple, got {subset!r}")


def load_cifar10(data_dir=None, *, subset=None, verbose: bool = True, download: bool = True):
    """Load CIFAR-10 as ``(x_train, y_train), (x_test, y_test)``, like ``keras.datasets.cifar10.load_data()``.

    Images are uint8 NHWC ``(N, 32, 32, 3)``; labels are uint8 ``(N, 1)`` class indices into
    :data:`CIFAR10_CLASSES`. ``subset`` takes a deterministic, class-balanced slice: an int ``n``
    keeps ``n`` images of each split (``n/10`` per class), a tuple ``(n_train, n_test)`` sizes the
    splits separately (``None`` in the tuple keeps a whole split). With ``verbose`` one line says
    which source was used. Chapter 1 walks through the format.
    """
    n_train, n_test = _subset_sizes(subset)
    folder, source = locate_cifar10(data_dir, download=download)
    (x_train, y_train), (x_test, y_test) = read_folder(folder)
    if n_train is not None:
        x_train, y_train = balanced_subset(x_train, y_train, n_train)
    if n_test is not None:
        x_test, y_test = balanced_subset(x_test, y_test, n_test)
    if verbose:
        print(f"CIFAR-10 from {source}: {len(x_train):,} training and {len(x_test):,} test images")
    return (x_train, y_train), (x_test, y_test)


# --------------------------------------------------------------------------- sample photos

SAMPLE_PHOTOS = {
    "cat": "chelsea",
    "coffee": "coffee",
    "astronaut": "astronaut",
    "rocket": "rocket",
    "camera": "camera",
}


def sample_photo(name: str = "cat") -> np.ndarray:
    """A real photo shipped with scikit-image (no download): uint8, ``(H, W, 3)`` or ``(H, W)`` for ``camera``.

    Names: ``cat``, ``coffee``, ``astronaut``, ``rocket`` (colour) and ``camera`` (grey).
    Chapters 1 and 3 use them to show pixels and filters on something real.
    """
    if name not in SAMPLE_PHOTOS:
        raise ValueError(f"unknown sample photo {name!r}; choose one of {sorted(SAMPLE_PHOTOS)}")
    import skimage.data

    return getattr(skimage.data, SAMPLE_PHOTOS[name])()
