"""Files written safely and checked: staged folders and SHA-256 digests.

Used by every loader that downloads or extracts data: CIFAR-10 (chapter 1), the
Oxford-IIIT Pet (chapter 13) and PASCAL VOC (chapter 14). :mod:`utils.data` re-exports
both functions.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from pathlib import Path


@contextlib.contextmanager
def staged_folder(target, prefix: str):
    """A temporary folder next to ``target`` that replaces it only on success.

    ``with staged_folder(target, ".x-extract-") as staging: ...`` yields an empty folder
    in ``target``'s parent (created if missing). When the block finishes, ``target`` is
    removed if it exists and the folder is renamed to it (atomic on one file system);
    when the block raises, the folder is deleted, ``target`` is left as it was and the
    error propagates. So an interrupted or failed extraction never leaves a half-filled
    data folder. Chapter 1 (the CIFAR-10 download); the Oxford-IIIT Pet (chapter 13) and
    VOC (chapter 14) loaders use it too.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    try:
        yield staging
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def file_sha256(path) -> str:
    """The SHA-256 of a file's bytes as 64 hex digits, read in 1 MiB blocks.

    Chapter 1 checks the CIFAR-10 archive with it; the Oxford-IIIT Pet (chapter 13) and
    VOC (chapter 14) loaders too. Raises ``OSError`` for a file that cannot be read.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
