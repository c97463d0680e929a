"""Detection data: an offline composited set with exact boxes, and PASCAL VOC 2007.

Chapter 14 ("Object detection") uses both:

- :func:`composite_detection_set` pastes CIFAR-10 objects (their 32x32 photos, resized)
  at random places and scales on a smooth random background. The boxes are exact, since
  each is the pasted tile. Everything is deterministic from a seed and needs no
  network, so QUICK and CI use it. It follows the idea of d2l's banana data set (Zhang
  et al., *Dive into Deep Learning*, section 14.6): objects pasted on backgrounds.
- :func:`load_voc2007` reads PASCAL VOC 2007 (Everingham et al. 2010) from the official
  tar archive: ``keras.utils.get_file`` downloads it and checks its published SHA-256.
  Only the annotation XMLs, the JPEGs and the split lists are extracted, atomically.
  :func:`parse_voc_xml` reads one annotation file.

Every problem with the data raises :class:`DetectionDataError` with a message that says
how to fix it.
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from .data import file_sha256, staged_folder
from .shapes import (
    as_float,
    check_class_indices,
    check_finite,
    positive_int,
    real_number,
)

OVERSHOOT = 0.05  # float pixels this far outside [0, 1] are clipped (resize overshoot)

__all__ = [
    "DetectionDataError",
    "VOC_CLASSES",
    "VOC2007",
    "composite_detection_set",
    "parse_voc_xml",
    "verify_checksum",
    "extract_voc",
    "read_voc",
    "load_voc2007",
]


class DetectionDataError(RuntimeError, ValueError):
    """A detection data set cannot be built, found, verified or parsed; chapter 14.

    Also a ``ValueError``, so code catching bad arguments that way keeps working.
    """


# ------------------------------------------------------------- composited set


def _resize_bilinear(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of ``(h, w, c)`` floats with pixel-centre alignment."""
    h, w = img.shape[:2]
    ys = np.clip((np.arange(height) + 0.5) * h / height - 0.5, 0, h - 1)
    xs = np.clip((np.arange(width) + 0.5) * w / width - 0.5, 0, w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    wy, wx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    top = img[y0][:, x0] * (1 - wx) + img[y0][:, x1] * wx
    bottom = img[y1][:, x0] * (1 - wx) + img[y1][:, x1] * wx
    return top * (1 - wy) + bottom * wy


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth random colour field (a 4x4 grid of colours, upsampled) plus noise."""
    coarse = rng.uniform(0.15, 0.85, size=(4, 4, 3))
    smooth = _resize_bilinear(coarse, size, size)
    return np.clip(smooth + rng.normal(0, 0.04, size=smooth.shape), 0, 1)


def _covered_fraction(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Fraction of each of ``boxes`` covered by ``box`` (all xyxy)."""
    w = np.clip(
        np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None
    )
    h = np.clip(
        np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None
    )
    own = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return w * h / own


def _pair(value, name: str) -> tuple:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be a pair (low, high) of ints, got {value!r}")
    return tuple(value)


def _object_photos(images) -> np.ndarray:
    """Photos as float32 in [0, 1]: uint8 / 255, floats checked (scale from dtype)."""
    arr = np.asarray(images)
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(255)
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool:
        raise ValueError(
            f"images must be uint8 (0-255) or floats in [0, 1], got dtype {arr.dtype}; "
            "convert with images.astype(np.uint8) if they are 0-255 values"
        )
    x = check_finite(as_float(arr, "images", np.float32), "images")
    if x.size and (x.min() < -OVERSHOOT or x.max() > 1 + OVERSHOOT):
        raise ValueError(
            f"float images must lie in [0, 1], got values from {x.min():.4g} to "
            f"{x.max():.4g}; for 0-255 floats pass images.astype(np.uint8) (or "
            "images / 255), for [-1, 1] images pass (images + 1) / 2"
        )
    return np.clip(x, 0.0, 1.0)


def composite_detection_set(
    images,
    labels,
    n_images: int,
    *,
    canvas: int = 64,
    objects: tuple[int, int] = (1, 3),
    scale: tuple[int, int] = (16, 32),
    max_covered: float = 0.35,
    seed: int = 0,
):
    """Canvases with pasted objects and their exact boxes; chapter 14.

    ``images`` ``(N, h, w, 3)`` object photos (CIFAR-10: 32x32), uint8 0-255 or floats
    in [0, 1] (the scale is read from the dtype, never guessed from the values; floats
    up to ``OVERSHOOT`` outside [0, 1], a resize's overshoot, are clipped), and
    ``labels`` ``(N,)`` or ``(N, 1)`` their integer class indices (>= 0). Each of the
    ``n_images`` canvases (``canvas x canvas`` pixels) gets a smooth random background
    and between
    ``objects[0]`` and ``objects[1]`` objects, drawn at random from ``images``, each
    resized to a random width and height in ``[scale[0], scale[1]]`` pixels and pasted
    at a random integer position. A later object may cover at most ``max_covered`` of
    an earlier one's box (else a new position is drawn; after 50 tries fewer objects
    are kept), so every object stays visible.

    Returns ``(x, boxes, classes)``: ``x`` float32 ``(n_images, canvas, canvas, 3)`` in
    [0, 1]; ``boxes`` a list of float32 ``(k, 4)`` xyxy pixel boxes (exactly the pasted
    tiles); ``classes`` a list of int64 ``(k,)``. The same arguments and ``seed`` give
    the same set. Raises :class:`DetectionDataError` for bad arguments: images of
    another shape, another integer dtype, NaN/inf, or floats outside [0, 1] (e.g.
    0-255 floats or [-1, 1] images, with the fix), labels that are not non-negative
    integers (never truncated), and bad sizes or pairs.
    """
    try:
        x_src = _object_photos(images)
        n_images = positive_int(n_images, "n_images")
        canvas = positive_int(canvas, "canvas")
        lo_k, hi_k = (positive_int(v, "objects") for v in _pair(objects, "objects"))
        lo_s, hi_s = (positive_int(v, "scale") for v in _pair(scale, "scale"))
        max_covered = real_number(max_covered, "max_covered", low=0, high=1)
        y_src = np.asarray(labels)
        if y_src.ndim == 2 and y_src.shape[1] == 1:
            y_src = y_src[:, 0]
        y_src = check_class_indices(y_src, None, "labels")
    except (ValueError, TypeError) as err:
        raise DetectionDataError(f"composite_detection_set: {err}") from None
    if (
        x_src.ndim != 4
        or x_src.shape[-1] != 3
        or len(y_src) != len(x_src)
        or not len(y_src)
    ):
        raise DetectionDataError(
            "images must be (N, h, w, 3) with one label each (N > 0); got "
            f"{x_src.shape} and {len(y_src)} labels"
        )
    if lo_k > hi_k or lo_s > hi_s or hi_s > canvas:
        raise DetectionDataError(
            f"need objects[0] <= objects[1] and scale[0] <= scale[1] <= canvas; got "
            f"objects={objects}, scale={scale}, canvas={canvas}"
        )
    rng = np.random.default_rng(seed)
    x = np.empty((n_images, canvas, canvas, 3), np.float32)
    all_boxes, all_classes = [], []
    for n in range(n_images):
        img = _background(rng, canvas)
        kept_boxes, kept_classes = [], []
        for _ in range(int(rng.integers(lo_k, hi_k + 1))):
            src = int(rng.integers(len(x_src)))
            for _attempt in range(50):
                w, h = (int(v) for v in rng.integers(lo_s, hi_s + 1, size=2))
                x0 = int(rng.integers(0, canvas - w + 1))
                y0 = int(rng.integers(0, canvas - h + 1))
                box = np.array([x0, y0, x0 + w, y0 + h], np.float32)
                if not kept_boxes or np.all(
                    _covered_fraction(box, np.array(kept_boxes)) <= max_covered
                ):
                    break
            else:
                continue  # no free place found: keep fewer objects
            img[y0 : y0 + h, x0 : x0 + w] = _resize_bilinear(x_src[src], h, w)
            kept_boxes.append(box)
            kept_classes.append(int(y_src[src]))
        x[n] = img
        all_boxes.append(np.array(kept_boxes, np.float32).reshape(-1, 4))
        all_classes.append(np.array(kept_classes, np.int64))
    return x, all_boxes, all_classes


# ---------------------------------------------------------------- PASCAL VOC 2007

VOC_CLASSES = (
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)

# Official archives; SHA-256 from tensorflow/datasets url_checksums/voc.txt, sizes and
# MD5 (torchvision voc.py) agree.
VOC2007 = {
    "trainval": (
        "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtrainval_06-Nov-2007.tar",
        "7d8cd951101b0957ddfd7a530bdc8a94f06121cfc1e511bb5937e973020c7508",
    ),
    "test": (
        "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtest_06-Nov-2007.tar",
        "6836888e2e01dca84577a849d339fa4f73e1e4f135d312430c4856b5609b4892",
    ),
}
VOC_ROOT = "VOCdevkit/VOC2007"
HOW_TO_GET_VOC = (
    "Download the official archive yourself (see utils.det_data.VOC2007 for the URLs "
    "and SHA-256), extract it, and point the book at the folder that holds "
    "'VOCdevkit' with the environment variable VOC2007_DIR (or pass data_dir=...)."
)


def parse_voc_xml(text: str | bytes, name: str = "annotation"):
    """One VOC annotation file as a dict; chapter 14.

    Returns ``{"filename", "width", "height", "boxes" float32 (K, 4) xyxy,
    "classes" int64 (K,) indices into VOC_CLASSES, "difficult" bool (K,)}``. VOC
    stores 1-based inclusive pixel corners, so ``xmin - 1, ymin - 1, xmax, ymax``
    converts them to this book's continuous pixel boxes (:mod:`utils.boxes`). Raises
    :class:`DetectionDataError` naming ``name`` for malformed XML, a missing field,
    an unknown class or a box outside the image.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise DetectionDataError(
            f"{name} is not valid XML ({err}); the archive is damaged: delete it and "
            "download it again"
        ) from None

    def field(node, path):
        found = node.find(path)
        if found is None or found.text is None:
            raise DetectionDataError(f"{name} lacks the field <{path}>: not a VOC file")
        return found.text.strip()

    try:
        width, height = int(field(root, "size/width")), int(field(root, "size/height"))
        boxes, classes, difficult = [], [], []
        for obj in root.iter("object"):
            cls = field(obj, "name")
            if cls not in VOC_CLASSES:
                raise DetectionDataError(f"{name}: unknown VOC class {cls!r}")
            corners = [
                float(field(obj, f"bndbox/{k}"))
                for k in ("xmin", "ymin", "xmax", "ymax")
            ]
            box = [corners[0] - 1, corners[1] - 1, corners[2], corners[3]]
            if not (0 <= box[0] < box[2] <= width and 0 <= box[1] < box[3] <= height):
                raise DetectionDataError(
                    f"{name}: box {corners} lies outside the {width}x{height} image"
                )
            flag = obj.find("difficult")
            boxes.append(box)
            classes.append(VOC_CLASSES.index(cls))
            difficult.append(flag is not None and (flag.text or "0").strip() == "1")
    except ValueError as err:
        if isinstance(err, DetectionDataError):
            raise
        raise DetectionDataError(
            f"{name}: a size or box field is not a number ({err})"
        ) from None
    return {
        "filename": field(root, "filename"),
        "width": width,
        "height": height,
        "boxes": np.array(boxes, np.float32).reshape(-1, 4),
        "classes": np.array(classes, np.int64),
        "difficult": np.array(difficult, bool),
    }


def verify_checksum(archive, sha256: str) -> None:
    """Check a file's SHA-256; on a mismatch delete the file and raise; chapter 14.

    Raises :class:`DetectionDataError` for a missing or unreadable file, or a mismatch.
    """
    archive = Path(archive)
    try:
        digest = file_sha256(archive)
    except OSError as err:
        raise DetectionDataError(
            f"archive {archive.name} cannot be read ({err.strerror}). {HOW_TO_GET_VOC}"
        ) from None
    if digest != sha256:
        archive.unlink(missing_ok=True)
        raise DetectionDataError(
            f"checksum mismatch for {archive.name}: SHA-256 {digest}, "
            f"expected {sha256}. The bad file was removed; run again to download a "
            "fresh copy."
        )


_MEMBER = re.compile(
    re.escape(VOC_ROOT)
    + r"/(Annotations/[^/]+\.xml|JPEGImages/[^/]+\.jpg|ImageSets/Main/[a-z]+\.txt)"
)


def extract_voc(archive, dest, split: str) -> Path:
    """Extract the annotations, JPEGs and split lists of a VOC tar; atomic; chapter 14.

    Only regular-file members named ``VOCdevkit/VOC2007/{Annotations/*.xml,
    JPEGImages/*.jpg, ImageSets/Main/*.txt}`` are copied (no links, no other paths),
    into a temporary folder inside ``dest``; it is renamed to ``dest/VOC2007-<split>``
    only when every image of the split list has its XML and JPEG, so a failure leaves
    nothing half-extracted. Returns the folder (it holds ``VOCdevkit/VOC2007``).
    Raises :class:`DetectionDataError` for an unreadable or truncated tar, a missing
    split list, or a missing member.
    """
    archive, dest = Path(archive), Path(dest)
    target = dest / f"VOC2007-{split}"
    with staged_folder(target, ".voc-extract-") as staging:
        try:
            with tarfile.open(archive, "r:*") as tar:
                for member in tar:
                    if not member.isfile() or not _MEMBER.fullmatch(member.name):
                        continue
                    out = staging / member.name
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with tar.extractfile(member) as src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst)
        except (OSError, tarfile.TarError, EOFError) as err:
            raise DetectionDataError(
                f"the VOC archive {archive.name} cannot be extracted "
                f"({type(err).__name__}: {err}); it is damaged or truncated. Delete it "
                "and run again."
            ) from None
        _check_split(staging, split, archive.name)
    return target


def _split_ids(folder: Path, split: str, what: str) -> list[str]:
    listing = folder / VOC_ROOT / "ImageSets" / "Main" / f"{split}.txt"
    if not listing.is_file():
        raise DetectionDataError(
            f"{what} lacks {VOC_ROOT}/ImageSets/Main/{split}.txt: it is not a VOC 2007 "
            f"'{split}' archive. {HOW_TO_GET_VOC}"
        )
    return [
        line.split()[0] for line in listing.read_text().splitlines() if line.strip()
    ]


def _check_split(folder: Path, split: str, what: str) -> None:
    missing = [
        f"{sub}/{i}.{ext}"
        for i in _split_ids(folder, split, what)
        for sub, ext in (("Annotations", "xml"), ("JPEGImages", "jpg"))
        if not (folder / VOC_ROOT / sub / f"{i}.{ext}").is_file()
    ]
    if missing:
        raise DetectionDataError(
            f"{what} lacks {len(missing)} member(s) of the '{split}' split, e.g. "
            f"{missing[0]}: it is incomplete. Delete it and download it again."
        )


def read_voc(folder, split: str, n_images: int | None = None):
    """Images and boxes of an extracted VOC 2007 split; chapter 14.

    ``folder`` holds ``VOCdevkit/VOC2007``. Reads the first ``n_images`` ids of
    ``ImageSets/Main/<split>.txt`` (all when ``None``). Returns a list of dicts from
    :func:`parse_voc_xml` with an added ``"image"`` (uint8 ``(H, W, 3)``). Raises
    :class:`DetectionDataError` for a missing split list, member or unreadable JPEG,
    or an XML whose size disagrees with its JPEG.
    """
    from PIL import Image

    folder = Path(folder)
    ids = _split_ids(folder, split, str(folder.name))
    ids = (
        ids
        if n_images is None
        else ids[: positive_int(n_images, "n_images", allow_zero=True)]
    )
    records = []
    for i in ids:
        xml = folder / VOC_ROOT / "Annotations" / f"{i}.xml"
        jpg = folder / VOC_ROOT / "JPEGImages" / f"{i}.jpg"
        if not xml.is_file() or not jpg.is_file():
            raise DetectionDataError(
                f"image {i} of the '{split}' split has no XML or JPEG in "
                f"{folder.name}: "
                "the extraction is incomplete; delete the folder and run again."
            )
        record = parse_voc_xml(xml.read_bytes(), name=f"Annotations/{i}.xml")
        try:
            with Image.open(jpg) as im:
                record["image"] = np.asarray(im.convert("RGB"))
        except OSError as err:
            raise DetectionDataError(
                f"JPEGImages/{i}.jpg cannot be decoded ({err}); the archive is damaged."
            ) from None
        if record["image"].shape[:2] != (record["height"], record["width"]):
            raise DetectionDataError(
                f"Annotations/{i}.xml gives size {record['width']}x{record['height']} "
                f"but the JPEG is {record['image'].shape[1]}x{record['image'].shape[0]}"
            )
        records.append(record)
    return records


def load_voc2007(split: str = "test", n_images: int | None = None, *, data_dir=None):
    """PASCAL VOC 2007 ``"trainval"`` or ``"test"`` as records; chapter 14 (FULL).

    ``n_images = 0`` returns ``[]`` and touches neither disk nor network (QUICK stays
    offline this way). Otherwise the data come from, in this order: ``data_dir``; the
    environment variable ``VOC2007_DIR``; the Keras cache
    (``<Keras home>/datasets/VOC2007-<split>``); a download of the official archive by
    ``keras.utils.get_file``, verified against its published SHA-256 before anything is
    extracted (:func:`verify_checksum`, :func:`extract_voc`). A named folder that does
    not hold the split is an error (never a silent download). Returns
    :func:`read_voc`'s records. Raises :class:`DetectionDataError` with the fix.
    """
    if split not in VOC2007:
        raise DetectionDataError(
            f"split must be one of {tuple(VOC2007)}, got {split!r}"
        )
    if n_images is not None:
        n_images = positive_int(n_images, "n_images", allow_zero=True)
        if n_images == 0:
            return []
    named = data_dir if data_dir is not None else os.environ.get("VOC2007_DIR") or None
    if named is not None:
        return read_voc(Path(named).expanduser(), split, n_images)
    from .cifar_download import keras_cache_folder

    cache = keras_cache_folder()
    folder = cache / f"VOC2007-{split}"
    if not (folder / VOC_ROOT / "ImageSets").is_dir():
        import keras

        url, sha256 = VOC2007[split]
        try:
            archive = keras.utils.get_file(
                fname=url.rsplit("/", 1)[1],
                origin=url,
                file_hash=sha256,
                hash_algorithm="sha256",
                cache_dir=str(cache.parent),
                cache_subdir=cache.name,
            )
        except Exception as err:  # keras raises plain Exception on network failures
            raise DetectionDataError(
                f"downloading {url} failed ({type(err).__name__}: {err}). "
                f"{HOW_TO_GET_VOC}"
            ) from None
        verify_checksum(archive, sha256)
        folder = extract_voc(archive, cache, split)
    return read_voc(folder, split, n_images)
