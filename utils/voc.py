"""PASCAL VOC 2007 detection data, read from the official archive (chapter 14).

:func:`load_voc2007` gives the images and boxes of one split of PASCAL VOC 2007
(Everingham et al. 2010). The data come from a folder the reader names
(``VOC2007_DIR``: a copy made by hand, or FULL-smoke's offline fixture,
``tools/fixtures/voc.py``), the Keras cache, or a download of the official tar archive
with ``keras.utils.get_file``, checked against its SHA-256 (as pinned in TensorFlow
Datasets' checksum files; the MD5s torchvision pins agree) before anything is
extracted. Only the annotation XMLs, the JPEGs and the split lists are extracted,
atomically. :func:`parse_voc_xml` reads one annotation file, converting VOC's 1-based
inclusive corners to the book's continuous pixel boxes and keeping the "difficult"
flags, which VOC's own evaluation leaves out (neither true nor false positives, and
not counted as ground truth; :mod:`utils.detection_metrics` does not model them).

Every problem raises :class:`utils.det_data.DetectionDataError` with a message that
says how to fix it.
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
from .det_data import DetectionDataError
from .shapes import positive_int

__all__ = [
    "DetectionDataError",
    "VOC_CLASSES",
    "VOC2007",
    "VOC_ROOT",
    "parse_voc_xml",
    "verify_checksum",
    "extract_voc",
    "read_voc",
    "load_voc2007",
]

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

# Official archives; SHA-256 as pinned by tensorflow/datasets (url_checksums/voc.txt);
# the sizes and MD5s that torchvision pins agree.
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
    "Download the official archive yourself, or a mirror's copy of it (see "
    "utils.voc.VOC2007 for the URLs and the SHA-256 any copy must have), extract it, "
    "and point the book at the folder that holds "
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
    ``keras.utils.get_file``, verified against its pinned SHA-256 before anything is
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
