"""Segmentation data: an offline set with exact masks, and the Oxford-IIIT Pet loader.

Chapter 13 ("Segmentation") trains on both:

- QUICK (CPU, offline): :func:`composite_shapes` pastes disks, squares and triangles
  cut out of real CIFAR-10 photos onto other CIFAR-10 photos. The masks are exact by
  construction and everything is a deterministic function of the photos and a seed. A
  shape's class is its *outline*, not its colour or texture, which come from random
  photos, so a model has to look at geometry;
- FULL (GPU, Colab): the Oxford-IIIT Pet data set (Parkhi et al., "Cats and Dogs", CVPR
  2012), 37 breeds with a trimap per photo. :func:`download_oxford_pets` fetches the two
  official archives with ``keras.utils.get_file``, :func:`verify_archive` checks their
  SHA-256 (as pinned in TensorFlow Datasets' checksum files), :func:`extract_pets`
  copies only the needed members, atomically, and :func:`read_pets` parses the official
  layout (``images/<id>.jpg``, ``annotations/trimaps/<id>.png``,
  ``annotations/{trainval,test}.txt``). ``OXFORD_PETS_DIR`` names an extracted copy
  instead (FULL-smoke's offline fixture, ``tools/fixtures/pets.py``).

Trimaps store 1 = pet, 2 = background, 3 = border (not sure); :func:`trimap_to_labels`
maps them to this chapter's classes 0 = background, 1 = pet, 2 = border, so class 0 is
the background in both data sets.

Every error is a ``ValueError`` (:class:`PetsError` for the Pet data) whose message says
what was wrong and how to fix it.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

import numpy as np

from utils.data import file_sha256, staged_folder
from utils.shapes import positive_int, real_number

SHAPE_CLASSES = ("background", "disk", "square", "triangle")
PET_CLASSES = ("background", "pet", "border")

PETS_URLS = {
    "images.tar.gz": "https://thor.robots.ox.ac.uk/datasets/pets/images.tar.gz",
    "annotations.tar.gz": "https://thor.robots.ox.ac.uk/datasets/pets/annotations.tar.gz",
}
# SHA-256 of the official archives as TensorFlow Datasets' checksum files pin them
# (the MD5s 5c4f3ee8... and 95a8c909... that torchvision pins describe the same files).
PETS_SHA256 = {
    "images.tar.gz": "67195c5e1c01f1ab5f9b6a5d22b8c27a580d896ece458917e61d459337fa318d",
    "annotations.tar.gz": (
        "52425fb6de5c424942b7626b428656fcbd798db970a937df61750c0f1d358e91"
    ),
}
PETS_FOLDER = "oxford-iiit-pet"
PETS_SPLITS = ("trainval", "test")
# an extracted copy in the official layout, used instead of the download when set
PETS_DIR_VARIABLE = "OXFORD_PETS_DIR"

__all__ = [
    "SHAPE_CLASSES",
    "PET_CLASSES",
    "PETS_URLS",
    "PETS_SHA256",
    "PETS_DIR_VARIABLE",
    "PetsError",
    "shape_mask",
    "composite_shapes",
    "trimap_to_labels",
    "verify_archive",
    "extract_pets",
    "read_pets",
    "download_oxford_pets",
    "load_oxford_pets",
]


# ------------------------------------------------------------ the offline composite set


def shape_mask(kind, size, center, radius, angle=0.0) -> np.ndarray:
    """A bool ``(size, size)`` mask of one filled shape. Chapter 13.

    ``kind`` is ``"disk"``, ``"square"`` or ``"triangle"``; ``center`` ``(row, col)``
    and ``radius`` are in pixels (a square and a triangle are regular polygons inscribed
    in the circle of that radius), ``angle`` rotates the polygon (radians). A pixel
    belongs to the shape when its centre lies inside. Raises ``ValueError`` for an
    unknown kind, a non-positive size or radius, or a non-finite centre or angle.
    """
    size = positive_int(size, "size")
    radius = real_number(radius, "radius", low=0, low_open=True)
    angle = real_number(angle, "angle")
    if not isinstance(center, (tuple, list)) or len(center) != 2:
        raise ValueError(f"center must be a (row, col) pair, got {center!r}")
    cy, cx = (real_number(c, "center") for c in center)
    rows, cols = np.mgrid[0:size, 0:size] + 0.5
    dy, dx = rows - cy, cols - cx
    if kind == "disk":
        return dy**2 + dx**2 <= radius**2
    corners = {"square": 4, "triangle": 3}.get(kind)
    if corners is None:
        raise ValueError(f"kind must be one of {SHAPE_CLASSES[1:]}, got {kind!r}")
    # a regular polygon is the intersection of half-planes, one per edge
    inside = np.ones((size, size), dtype=bool)
    apothem = radius * np.cos(np.pi / corners)
    for i in range(corners):
        normal = angle + (2 * i + 1) * np.pi / corners
        inside &= dx * np.cos(normal) + dy * np.sin(normal) <= apothem
    return inside


def composite_shapes(
    photos,
    n,
    *,
    seed=0,
    max_objects=3,
    radius_range=(6.0, 12.0),
    background_contrast=0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` segmentation examples built from real photos: ``(images, masks)``.
    Chapter 13.

    ``photos`` is uint8 ``(P, S, S, 3)`` (CIFAR-10 images, P >= 2). Each example takes
    one random photo as the background, turned grey with its contrast scaled by
    ``background_contrast`` (1 keeps the photo in colour, so shapes differ from the
    background only by texture: a much harder task). It then pastes 1 to
    ``max_objects`` shapes, each a random disk, square or triangle (random radius in
    ``radius_range`` pixels, position and rotation) cut out of another random photo;
    later shapes cover earlier ones.

    Returns ``images`` uint8 ``(n, S, S, 3)`` and ``masks`` uint8 ``(n, S, S)``
    holding indices into :data:`SHAPE_CLASSES` (0 = background). The masks depend only
    on ``seed`` and the number of photos, the images also on the photos. Raises
    ``ValueError`` for photos that are not a uint8 ``(P, S, S, 3)`` stack of at least
    two square photos, a bad ``n``, ``seed`` or ``max_objects``, a radius range that
    does not fit the photos or a ``background_contrast`` outside [0, 1].
    """
    photos = np.asarray(photos)
    if (
        photos.dtype != np.uint8
        or photos.ndim != 4
        or photos.shape[3] != 3
        or photos.shape[1] != photos.shape[2]
        or len(photos) < 2
    ):
        raise ValueError(
            "photos must be a uint8 stack (P, S, S, 3) of at least 2 square RGB "
            "photos, "
            f"got dtype {photos.dtype} and shape {photos.shape}"
        )
    n = positive_int(n, "n")
    seed = positive_int(seed, "seed", allow_zero=True)
    max_objects = positive_int(max_objects, "max_objects")
    size = photos.shape[1]
    if not isinstance(radius_range, (tuple, list)) or len(radius_range) != 2:
        raise ValueError(f"radius_range must be (low, high), got {radius_range!r}")
    r_low = real_number(radius_range[0], "radius_range[0]", low=1)
    r_high = real_number(radius_range[1], "radius_range[1]", low=r_low, high=size / 2)
    contrast = real_number(background_contrast, "background_contrast", low=0, high=1)
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    masks = np.zeros((n, size, size), dtype=np.uint8)
    for i in range(n):
        image = _background(photos[rng.integers(len(photos))], contrast)
        for _ in range(rng.integers(1, max_objects + 1)):
            label = int(rng.integers(1, len(SHAPE_CLASSES)))
            radius = rng.uniform(r_low, r_high)
            center = tuple(rng.uniform(radius * 0.6, size - radius * 0.6, size=2))
            inside = shape_mask(
                SHAPE_CLASSES[label], size, center, radius, rng.uniform(0, 2 * np.pi)
            )
            image[inside] = photos[rng.integers(len(photos))][inside]
            masks[i][inside] = label
        images[i] = image
    return images, masks


def _background(photo: np.ndarray, contrast: float) -> np.ndarray:
    """``photo`` blended towards its grey version and mid-grey; 1 keeps it as it is."""
    if contrast == 1.0:
        return photo.copy()
    grey = photo.astype(np.float64) @ [0.299, 0.587, 0.114]
    out = 127.5 + contrast * (grey[..., None] - 127.5)
    return np.broadcast_to(np.round(out), photo.shape).astype(np.uint8)


# ---------------------------------------------------------------------- Oxford-IIIT Pet


class PetsError(ValueError):
    """Any problem finding, checking, extracting or parsing the Oxford-IIIT Pet data.

    Chapter 13. A ``ValueError``; its message says what to do.
    """


def trimap_to_labels(trimap) -> np.ndarray:
    """Oxford-IIIT Pet trimap values (1 pet, 2 background, 3 border) as uint8 labels 0
    background, 1 pet, 2 border (:data:`PET_CLASSES`). Chapter 13.

    Any shape. Raises :class:`PetsError` for values outside {1, 2, 3}, which means the
    file is not a trimap (or was resized with interpolation instead of nearest
    neighbour).
    """
    trimap = np.asarray(trimap)
    if not np.issubdtype(trimap.dtype, np.integer) or np.any(
        (trimap < 1) | (trimap > 3)
    ):
        bad = np.unique(trimap)[:6]
        raise PetsError(
            f"a trimap holds only the integers 1, 2, 3; got values such as {bad}. "
            "Resize trimaps with nearest-neighbour interpolation."
        )
    return np.array([0, 1, 0, 2], dtype=np.uint8)[trimap]


def verify_archive(archive, expected_sha256=None) -> Path:
    """Check an Oxford-IIIT Pet archive's SHA-256; on a mismatch delete it and raise.

    ``expected_sha256`` defaults to the pinned value for the archive's file name
    (:data:`PETS_SHA256`). Returns the path. Raises :class:`PetsError` when the file is
    missing or unreadable, its name is not an official archive (and no checksum was
    given), or the checksum differs (the file is then removed, so the next run
    downloads it afresh). Chapter 13.
    """
    archive = Path(archive)
    if expected_sha256 is None:
        if archive.name not in PETS_SHA256:
            raise PetsError(
                f"{archive.name} is not an Oxford-IIIT Pet archive; expected one of "
                f"{sorted(PETS_SHA256)}"
            )
        expected_sha256 = PETS_SHA256[archive.name]
    try:
        actual = file_sha256(archive)
    except OSError as err:
        raise PetsError(f"cannot read the archive {archive.name} ({err})") from err
    if actual != expected_sha256:
        archive.unlink(missing_ok=True)
        raise PetsError(
            f"Checksum mismatch for {archive.name}: SHA-256 {actual}, expected "
            f"{expected_sha256}. The bad file was removed; run again to download a "
            "fresh copy."
        )
    return archive


def _wanted(name: str) -> bool:
    """Members the chapter needs: photos, trimaps and the split lists."""
    parts = name.split("/")
    if ".." in parts or name.startswith("/"):
        return False
    stem = parts[-1]
    if stem.startswith("."):  # the archive holds macOS dot-files next to trimaps
        return False
    return (
        (len(parts) == 2 and parts[0] == "images" and stem.endswith(".jpg"))
        or (parts[:2] == ["annotations", "trimaps"] and len(parts) == 3)
        or name in {f"annotations/{split}.txt" for split in PETS_SPLITS}
    )


def extract_pets(archives, folder) -> Path:
    """Extract photos, trimaps and split lists from the two archives into ``folder``.
    Chapter 13.

    ``archives`` is a sequence of paths to ``images.tar.gz`` and
    ``annotations.tar.gz`` (gzip or plain tar). Only regular files under
    ``images/*.jpg``, ``annotations/trimaps/`` and ``annotations/{trainval,test}.txt``
    are copied (no links, no paths outside the folder), into a staging folder that is
    renamed to ``folder`` only when both split lists and at least one photo and trimap
    are there: an interrupted or failed extraction leaves nothing behind. Returns
    ``folder``. Raises :class:`PetsError` for an unreadable or truncated archive or a
    missing member.
    """
    folder = Path(folder)
    with staged_folder(folder, ".pets-extract-") as staging:
        for archive in archives:
            archive = Path(archive)
            try:
                with tarfile.open(archive, "r:*") as tar:
                    for member in tar:
                        if not member.isfile() or not _wanted(member.name):
                            continue
                        target = staging / member.name
                        target.parent.mkdir(parents=True, exist_ok=True)
                        with open(target, "wb") as out:
                            shutil.copyfileobj(tar.extractfile(member), out)
            except (OSError, tarfile.TarError, EOFError) as err:
                raise PetsError(
                    f"cannot extract {archive.name} ({type(err).__name__}: {err}); it "
                    "is truncated or not a tar archive. Delete it and run again."
                ) from err
        missing = [
            f"annotations/{split}.txt"
            for split in PETS_SPLITS
            if not (staging / "annotations" / f"{split}.txt").is_file()
        ]
        for sub in ("images", "annotations/trimaps"):
            if not (staging / sub).is_dir() or not any((staging / sub).iterdir()):
                missing.append(f"{sub}/")
        if missing:
            raise PetsError(
                f"the archives lack {', '.join(missing)}; they are not the official "
                "Oxford-IIIT Pet archives (images.tar.gz and annotations.tar.gz)"
            )
    return folder


def _split_ids(folder: Path, split: str) -> list[str]:
    path = folder / "annotations" / f"{split}.txt"
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise PetsError(f"cannot read the split list {split}.txt ({err})") from err
    ids = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 4:
            raise PetsError(
                f"{split}.txt line {number}: expected 'Image CLASS-ID SPECIES "
                f"BREED-ID', got {line!r}"
            )
        ids.append(fields[0])
    return ids


def read_pets(folder, split="trainval", *, image_size=128, limit=None):
    """Photos and labels of one split of an extracted Oxford-IIIT Pet folder.
    Chapter 13.

    Returns ``images`` uint8 ``(N, S, S, 3)`` (bilinear resize to ``image_size``) and
    ``masks`` uint8 ``(N, S, S)`` in :data:`PET_CLASSES` (nearest-neighbour resize, so
    no invented labels). ``limit`` keeps the first ``limit`` ids of the split list (in
    its order). Grey and RGBA photos become RGB. Raises :class:`PetsError` for an
    unknown split, a missing or unreadable photo or trimap (named), or a bad
    ``image_size``/``limit``.
    """
    from PIL import Image

    if split not in PETS_SPLITS:
        raise PetsError(f"split must be one of {PETS_SPLITS}, got {split!r}")
    size = positive_int(image_size, "image_size")
    folder = Path(folder)
    ids = _split_ids(folder, split)
    if limit is not None:
        ids = ids[: positive_int(limit, "limit")]
    images = np.empty((len(ids), size, size, 3), dtype=np.uint8)
    masks = np.empty((len(ids), size, size), dtype=np.uint8)
    for i, name in enumerate(ids):
        photo = folder / "images" / f"{name}.jpg"
        trimap = folder / "annotations" / "trimaps" / f"{name}.png"
        try:
            with Image.open(photo) as im:
                images[i] = np.asarray(
                    im.convert("RGB").resize((size, size), Image.BILINEAR)
                )
            with Image.open(trimap) as im:
                masks[i] = trimap_to_labels(
                    np.asarray(im.resize((size, size), Image.NEAREST)).astype(np.int64)
                )
        except (OSError, SyntaxError) as err:  # PIL: missing, truncated, not an image
            raise PetsError(
                f"cannot read {name} of the {split} split ({type(err).__name__}: "
                f"{err}); delete the extracted folder and run again"
            ) from err
    return images, masks


def download_oxford_pets(cache=None) -> Path:
    """Download, verify and extract Oxford-IIIT Pet; returns the extracted folder.
    Chapter 13.

    About 811 MB from the URLs in :data:`PETS_URLS` via ``keras.utils.get_file`` into
    ``cache`` (default: the Keras cache folder, see
    :func:`utils.cifar_download.keras_cache_folder`), each archive checked against
    :data:`PETS_SHA256`. An extracted folder already there is reused. Raises
    :class:`PetsError` when a download fails, a checksum differs or the archives are
    damaged.
    """
    import keras

    from utils.cifar_download import keras_cache_folder

    cache = keras_cache_folder() if cache is None else Path(cache).expanduser()
    folder = cache / PETS_FOLDER
    if (folder / "annotations" / "test.txt").is_file():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    archives = []
    for name, url in PETS_URLS.items():
        try:
            path = keras.utils.get_file(
                fname=name,
                origin=url,
                cache_dir=str(cache.parent),
                cache_subdir=cache.name,
            )
        except Exception as err:  # keras raises plain Exception on network failures
            raise PetsError(
                f"downloading {url} failed ({type(err).__name__}: {err}); check the "
                "connection, or download the file by hand into "
                f"{cache} and run again (or extract both archives into one folder "
                f"and name it in the environment variable {PETS_DIR_VARIABLE})"
            ) from err
        archives.append(verify_archive(Path(path)))
    return extract_pets(archives, folder)


def load_oxford_pets(
    *, image_size=128, n_train=None, n_test=None, cache=None, data_dir=None
):
    """Oxford-IIIT Pet as ``(x_train, y_train), (x_test, y_test)``. Chapter 13.

    The photos come from ``data_dir`` if given, else from the folder named by the
    environment variable ``OXFORD_PETS_DIR`` (:data:`PETS_DIR_VARIABLE`; an extracted
    copy in the official layout, e.g. FULL-smoke's offline fixture), else from the
    download (:func:`download_oxford_pets`, first use only). A named folder that is not
    a Pet folder is an error, never a silent download. Then :func:`read_pets` reads the
    official trainval (3,680 photos) and test (3,669) splits, cut to ``n_train`` and
    ``n_test`` when given. Images uint8 ``(N, S, S, 3)``, masks uint8 ``(N, S, S)`` in
    :data:`PET_CLASSES`. Raises :class:`PetsError` as those functions do.
    """
    named = data_dir if data_dir is not None else os.environ.get(PETS_DIR_VARIABLE)
    if named:
        folder = Path(named).expanduser()
    else:
        folder = download_oxford_pets(cache)
    train = read_pets(folder, "trainval", image_size=image_size, limit=n_train)
    test = read_pets(folder, "test", image_size=image_size, limit=n_test)
    return train, test
