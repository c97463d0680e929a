"""utils.det_data: the composited detection set, and the VOC 2007 loader offline.

VOC archives are fabricated here in the official layout (VOCdevkit/VOC2007/...), a few
tiny JPEGs with their XMLs; the download is replaced by a function returning such an
archive, so nothing touches the network.
"""

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

from utils import boxes, det_data

# ------------------------------------------------------------- composited set


def tiles(n=20, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), np.arange(n) % 4


def test_composite_is_deterministic_and_exact():
    x_src, y_src = tiles()
    kwargs = dict(canvas=48, objects=(2, 4), scale=(12, 20), seed=5)
    x, b, c = det_data.composite_detection_set(x_src, y_src, 30, **kwargs)
    x2, b2, c2 = det_data.composite_detection_set(x_src, y_src, 30, **kwargs)
    np.testing.assert_array_equal(x, x2)
    assert x.shape == (30, 48, 48, 3) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1
    for bi, ci, bi2, ci2 in zip(b, c, b2, c2):
        np.testing.assert_array_equal(bi, bi2)
        np.testing.assert_array_equal(ci, ci2)
        assert 1 <= len(bi) <= 4 and bi.dtype == np.float32 and ci.dtype == np.int64
        wh = boxes.convert(bi, "xyxy", "xywh")[:, 2:]
        assert np.all((wh >= 12) & (wh <= 20)) and np.all(bi % 1 == 0)
        assert np.all(bi[:, :2] >= 0) and np.all(bi[:, 2:] <= 48)
        assert set(ci) <= {0, 1, 2, 3}


def test_composite_last_object_is_its_tile():
    # one object on each canvas, a constant-colour tile: the box holds exactly it
    x_src = np.full((1, 32, 32, 3), 255, np.uint8)
    x, b, c = det_data.composite_detection_set(
        x_src, [7], 5, canvas=32, objects=(1, 1), scale=(8, 16), seed=1
    )
    for img, (x0, y0, x1, y1) in zip(x, (bi[0].astype(int) for bi in b)):
        inside = np.zeros(img.shape[:2], bool)
        inside[y0:y1, x0:x1] = True
        assert np.all(img[inside] == 1.0) and np.all(img[~inside] < 1.0)
    assert all(list(ci) == [7] for ci in c)


def test_composite_keeps_objects_visible():
    x_src, y_src = tiles()
    _, b, _ = det_data.composite_detection_set(
        x_src, y_src, 40, canvas=40, objects=(3, 3), scale=(16, 24), max_covered=0.2
    )
    for bi in b:
        for k in range(1, len(bi)):
            covered = det_data._covered_fraction(bi[k], bi[:k])
            assert np.all(covered <= 0.2 + 1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_images=0), "n_images must be a positive int"),
        (dict(scale=(20, 70)), "scale"),
        (dict(objects=(3, 1)), "objects"),
        (dict(max_covered=2.0), "max_covered must be <= 1"),
        (dict(labels=np.zeros(3, int)), "one label each"),
        (dict(labels=np.full(20, 0.5)), "integer class indices"),
        (dict(images=np.zeros((4, 8, 8))), r"\(N, h, w, 3\)"),
    ],
)
def test_composite_bad_input(kwargs, match):
    x_src, y_src = tiles(4)
    args = dict(images=x_src, labels=y_src, n_images=2) | kwargs
    with pytest.raises(det_data.DetectionDataError, match=match):
        det_data.composite_detection_set(**args)


# ---------------------------------------------------------------------- VOC XML

XML = """<annotation>
  <folder>VOC2007</folder><filename>{name}.jpg</filename>
  <size><width>{w}</width><height>{h}</height><depth>3</depth></size>
  <object><name>dog</name><difficult>0</difficult>
    <bndbox><xmin>2</xmin><ymin>3</ymin><xmax>10</xmax><ymax>12</ymax></bndbox></object>
  <object><name>person</name><difficult>1</difficult>
    <bndbox><xmin>1</xmin><ymin>1</ymin><xmax>{w}</xmax><ymax>{h}</ymax></bndbox></object>
</annotation>"""


def test_parse_voc_xml():
    rec = det_data.parse_voc_xml(XML.format(name="000005", w=20, h=16))
    assert rec["filename"] == "000005.jpg" and (rec["width"], rec["height"]) == (20, 16)
    # 1-based inclusive corners -> continuous pixel boxes
    np.testing.assert_array_equal(rec["boxes"], [[1, 2, 10, 12], [0, 0, 20, 16]])
    np.testing.assert_array_equal(rec["classes"], [11, 14])  # dog, person
    np.testing.assert_array_equal(rec["difficult"], [False, True])


@pytest.mark.parametrize(
    "text, match",
    [
        ("<annotation><size>", "not valid XML"),
        ("<annotation><filename>a</filename></annotation>", "lacks the field"),
        (XML.format(name="a", w=20, h=16).replace("dog", "unicorn"), "unknown VOC"),
        (XML.format(name="a", w=8, h=16), "outside the 8x16 image"),
        (XML.format(name="a", w="wide", h=16), "not a number"),
    ],
)
def test_parse_voc_xml_bad_input(text, match):
    with pytest.raises(det_data.DetectionDataError, match=match):
        det_data.parse_voc_xml(text, name="Annotations/a.xml")


# ------------------------------------------------------------------ VOC archive


def jpeg_bytes(w, h, seed):
    from PIL import Image

    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def make_voc_tar(
    path, split="test", ids=("000001", "000002"), *, drop=None, extra=True
):
    """A VOC-layout tar; ``drop`` leaves one member out; ``extra`` adds stray ones."""
    root = det_data.VOC_ROOT
    members = {f"{root}/ImageSets/Main/{split}.txt": "\n".join(ids).encode() + b"\n"}
    for k, i in enumerate(ids):
        members[f"{root}/Annotations/{i}.xml"] = XML.format(name=i, w=24, h=20).encode()
        members[f"{root}/JPEGImages/{i}.jpg"] = jpeg_bytes(24, 20, k)
    if extra:
        members["../escape.txt"] = b"bad"
        members[f"{root}/SegmentationClass/000001.png"] = b"not wanted"
    with tarfile.open(path, "w") as tar:
        for name, raw in members.items():
            if name == drop:
                continue
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return Path(path)


def test_extract_and_read(tmp_path):
    archive = make_voc_tar(tmp_path / "voc.tar")
    folder = det_data.extract_voc(archive, tmp_path / "cache", "test")
    assert folder.name == "VOC2007-test"
    assert not (tmp_path / "escape.txt").exists()
    assert not (folder / det_data.VOC_ROOT / "SegmentationClass").exists()
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["VOC2007-test"]
    records = det_data.read_voc(folder, "test")
    assert len(records) == 2 and records[0]["image"].shape == (20, 24, 3)
    assert records[1]["image"].dtype == np.uint8
    assert len(det_data.read_voc(folder, "test", n_images=1)) == 1


@pytest.mark.parametrize(
    "drop, match",
    [
        (f"{det_data.VOC_ROOT}/JPEGImages/000002.jpg", "lacks 1 member"),
        (f"{det_data.VOC_ROOT}/ImageSets/Main/test.txt", "Main/test.txt"),
    ],
)
def test_extract_missing_member_leaves_nothing(tmp_path, drop, match):
    archive = make_voc_tar(tmp_path / "voc.tar", drop=drop)
    with pytest.raises(det_data.DetectionDataError, match=match):
        det_data.extract_voc(archive, tmp_path / "cache", "test")
    assert list((tmp_path / "cache").iterdir()) == []


def test_extract_truncated_archive_leaves_nothing(tmp_path):
    archive = make_voc_tar(tmp_path / "voc.tar")
    raw = archive.read_bytes()
    archive.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(det_data.DetectionDataError, match="damaged or truncated"):
        det_data.extract_voc(archive, tmp_path / "cache", "test")
    assert list((tmp_path / "cache").iterdir()) == []


def test_verify_checksum(tmp_path):
    archive = make_voc_tar(tmp_path / "voc.tar")
    good = hashlib.sha256(archive.read_bytes()).hexdigest()
    det_data.verify_checksum(archive, good)  # no error, file kept
    assert archive.exists()
    with pytest.raises(det_data.DetectionDataError, match="checksum mismatch"):
        det_data.verify_checksum(archive, "0" * 64)
    assert not archive.exists()  # the bad file is removed
    with pytest.raises(det_data.DetectionDataError, match="cannot be read"):
        det_data.verify_checksum(archive, good)


def test_read_voc_bad_jpeg_and_size(tmp_path):
    folder = det_data.extract_voc(make_voc_tar(tmp_path / "v.tar"), tmp_path, "test")
    jpg = folder / det_data.VOC_ROOT / "JPEGImages" / "000001.jpg"
    jpg.write_bytes(b"not a jpeg")
    with pytest.raises(det_data.DetectionDataError, match="cannot be decoded"):
        det_data.read_voc(folder, "test")
    jpg.write_bytes(jpeg_bytes(30, 20, 0))
    with pytest.raises(det_data.DetectionDataError, match="size 24x20"):
        det_data.read_voc(folder, "test")


# ----------------------------------------------------------------- load_voc2007


def test_load_zero_images_is_offline(monkeypatch):
    monkeypatch.setenv("VOC2007_DIR", "/nonexistent")
    assert det_data.load_voc2007("test", 0) == []


def test_load_from_named_folder(tmp_path, monkeypatch):
    folder = det_data.extract_voc(make_voc_tar(tmp_path / "v.tar"), tmp_path, "test")
    monkeypatch.setenv("VOC2007_DIR", str(folder))
    assert len(det_data.load_voc2007("test", 1)) == 1
    assert len(det_data.load_voc2007("test", data_dir=folder)) == 2
    with pytest.raises(det_data.DetectionDataError, match="trainval.txt"):
        det_data.load_voc2007("trainval", data_dir=folder)  # never a silent download


def test_load_downloads_verifies_and_extracts(tmp_path, monkeypatch):
    import keras

    archive = make_voc_tar(tmp_path / "VOCtest_06-Nov-2007.tar", extra=False)
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    url = "http://example.invalid/VOCtest_06-Nov-2007.tar"
    monkeypatch.setitem(det_data.VOC2007, "test", (url, sha))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("VOC2007_DIR", raising=False)
    calls = []

    def fake_get_file(fname, origin, file_hash, hash_algorithm, **kwargs):
        calls.append((fname, origin, file_hash, hash_algorithm))
        return str(archive)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    records = det_data.load_voc2007("test")
    assert len(records) == 2 and calls == [(archive.name, url, sha, "sha256")]
    assert (tmp_path / "keras" / "datasets" / "VOC2007-test").is_dir()
    det_data.load_voc2007("test")  # second call: found in the cache, no download
    assert len(calls) == 1


def test_load_bad_checksum_and_failed_download(tmp_path, monkeypatch):
    import keras

    archive = make_voc_tar(tmp_path / "VOCtest_06-Nov-2007.tar")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("VOC2007_DIR", raising=False)
    monkeypatch.setattr(keras.utils, "get_file", lambda **kw: str(archive))
    with pytest.raises(det_data.DetectionDataError, match="checksum mismatch"):
        det_data.load_voc2007("test")
    assert not archive.exists()
    assert not (tmp_path / "keras" / "datasets" / "VOC2007-test").exists()

    def offline(**kwargs):
        raise Exception("URL fetch failure")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(det_data.DetectionDataError, match="VOC2007_DIR"):
        det_data.load_voc2007("test")


def test_load_bad_arguments():
    with pytest.raises(det_data.DetectionDataError, match="split must be one of"):
        det_data.load_voc2007("val")
    with pytest.raises(ValueError, match="n_images must be a non-negative int"):
        det_data.load_voc2007("test", -1)
