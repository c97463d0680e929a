"""Where Keras keeps downloads, and the checked download of the CIFAR-10 archive.

Chapter 1 ("Images as tensors") explains where the data comes from;
:func:`utils.data.load_cifar10` calls this module only when CIFAR-10 is not found
locally:

- :func:`keras_cache_folder` resolves the Keras cache exactly as
  ``keras.utils.get_file`` does (``KERAS_HOME``, ``~`` expanded, the ``/tmp/.keras``
  fallback);
- :func:`download_cifar10` downloads the official binary archive, :func:`verify_archive`
  checks its published SHA-256, and :func:`extract_archive` extracts only the expected
  batch files, atomically.

Every error is a :class:`utils.data.CIFAR10Error` (defined in :mod:`utils.cifar_format`)
whose message says how to fix it.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from . import cifar_format as fmt
from .files import file_sha256, staged_folder

__all__ = [
    "keras_cache_folder",
    "verify_archive",
    "extract_archive",
    "download_cifar10",
]


def _writable(folder: str) -> bool:
    """True if ``folder`` is a writable folder, or is missing but could be created."""
    path = Path(folder)
    while not path.exists() and path != path.parent:
        path = path.parent
    return path.is_dir() and os.access(path, os.W_OK)


def keras_cache_folder() -> Path:
    """``<Keras home>/datasets``, where ``keras.utils.get_file`` downloads; chapter 1.

    The Keras home is resolved the way Keras 3 does it (``keras.src.backend.config`` and
    ``get_file``): ``$KERAS_HOME`` when that variable is set, else ``~/.keras``
    (``/tmp/.keras`` when the home folder is not writable); ``~`` is expanded; and when
    that folder is not writable (nor creatable) ``/tmp/.keras`` is used instead. One
    difference: Keras reads ``KERAS_HOME`` once, when it is imported; this function
    reads it at every call. Nothing is created here.
    """
    if "KERAS_HOME" in os.environ:
        home = os.environ["KERAS_HOME"]
    else:
        base = os.path.expanduser("~")
        home = os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")
    home = os.path.expanduser(home)
    if not home or not _writable(home):
        tmp = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
        home = os.path.join(tmp, ".keras")
    return Path(home) / "datasets"


def verify_archive(archive: Path) -> None:
    """Check the archive's SHA-256; on a mismatch delete it and raise CIFAR10Error.

    Also raises :class:`utils.data.CIFAR10Error` when the archive is missing or
    unreadable. Chapter 1.
    """
    archive = fmt.as_path(archive, "archive")
    try:
        actual = file_sha256(archive)
    except OSError as err:
        raise fmt.CIFAR10Error(
            f"CIFAR-10 archive {archive} cannot be read ({err}). {fmt.HOW_TO_GET}"
        ) from err
    if actual != fmt.CIFAR10_SHA256:
        archive.unlink(missing_ok=True)
        raise fmt.CIFAR10Error(
            f"Checksum mismatch for the downloaded CIFAR-10 archive {archive.name}: "
            f"SHA-256 {actual}, expected {fmt.CIFAR10_SHA256}. The bad file was "
            "removed; run again to download a fresh copy, or set CIFAR10_DIR to a "
            "folder you trust."
        )


def extract_archive(archive: Path, cache: Path) -> Path:
    """Extract only the expected batch files to ``cache/cifar-10-batches-bin``; atomic.

    Members are copied one by one from the tar into a temporary folder next to the
    target, and the folder is renamed into place only when all of them are there, so an
    interrupted extraction never leaves a half-filled data folder behind. Returns the
    folder. Raises :class:`utils.data.CIFAR10Error` for an archive that is unreadable,
    not a gzip tar, or lacks a batch file. Chapter 1.
    """
    archive, cache = fmt.as_path(archive, "archive"), fmt.as_path(cache, "cache")
    names = (*fmt.TRAIN_FILES, fmt.TEST_FILE, "batches.meta.txt")
    wanted = {f"{fmt.FOLDER_NAME}/{name}" for name in names}
    target = cache / fmt.FOLDER_NAME
    with staged_folder(target, ".cifar10-extract-") as staging:
        _copy_members(archive, wanted, staging)
        batches = (*fmt.TRAIN_FILES, fmt.TEST_FILE)
        missing = [name for name in batches if not (staging / name).is_file()]
        if missing:
            raise fmt.CIFAR10Error(
                f"The CIFAR-10 archive {archive.name} lacks {', '.join(missing)}; "
                "it is not the official binary archive. Delete it and run again, or "
                "set CIFAR10_DIR."
            )
    return target


def _copy_members(archive: Path, wanted: set, staging: Path) -> None:
    """Copy the ``wanted`` regular-file members of a .tar.gz into ``staging`` (flat)."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                if member.name not in wanted or not member.isfile():
                    continue  # ignore anything else in the archive, never follow links
                source = tar.extractfile(member)
                with open(staging / Path(member.name).name, "wb") as out:
                    shutil.copyfileobj(source, out)
    except (OSError, tarfile.TarError, EOFError) as err:
        raise fmt.CIFAR10Error(
            f"The CIFAR-10 archive {archive.name} cannot be extracted "
            f"({type(err).__name__}: {err}); it is damaged or not a .tar.gz. "
            "Delete it and run again."
        ) from err


def download_cifar10(cache: Path | None = None) -> Path:
    """Download (progress bar), verify and extract the official archive; chapter 1.

    ``cache`` defaults to :func:`keras_cache_folder`. Returns the extracted
    ``cifar-10-batches-bin`` folder. Raises :class:`utils.data.CIFAR10Error` when the
    cache cannot be created, the download fails, or the archive is wrong.
    """
    import keras

    cache = keras_cache_folder() if cache is None else fmt.as_path(cache, "cache")
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise fmt.CIFAR10Error(
            f"cannot create the download folder {cache} ({err}). {fmt.HOW_TO_GET}"
        ) from err
    try:
        archive = Path(
            keras.utils.get_file(
                fname="cifar-10-binary.tar.gz",
                origin=fmt.CIFAR10_URL,
                cache_dir=str(cache.parent),
                cache_subdir=cache.name,
            )
        )
    except Exception as err:  # keras raises plain Exception on network failures
        raise fmt.CIFAR10Error(
            f"CIFAR-10 was not found locally and downloading {fmt.CIFAR10_URL} "
            f"failed ({type(err).__name__}: {err}). If this machine is offline: "
            f"{fmt.HOW_TO_GET}"
        ) from err
    verify_archive(archive)
    return extract_archive(archive, cache)
