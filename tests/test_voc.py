"""utils.voc (chapter 14): the PASCAL VOC 2007 loader, offline.

VOC archives are fabricated in the official layout (VOCdevkit/VOC2007/...) by
tools/fixtures/voc.py, a few tiny JPEGs with their XMLs; the download is replaced by a
function returning such an archive, so nothing touches the network.
"""

import hashlib

import numpy as np
import pytest

from tools.fixtures import voc as voc_fixture
from tools.fixtures.voc import XML, jpeg_bytes, make_voc_tar
from utils import voc

pytest.importorskip("PIL")


# ---------------------------------------------------------------------- VOC XML


def test_parse_voc_xml():
    rec = voc.parse_voc_xml(XML.format(name="000005", w=20, h=16))
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
    with pytest.raises(voc.DetectionDataError, match=match):
        voc.parse_voc_xml(text, name="Annotations/a.xml")


# ------------------------------------------------------------------ VOC archive


def test_extract_and_read(tmp_path):
    archive = make_voc_tar(tmp_path / "voc.tar")
    folder = voc.extract_voc(archive, tmp_path / "cache", "test")
    assert folder.name == "VOC2007-test"
    assert not (tmp_path / "escape.txt").exists()
    assert not (folder / voc.VOC_ROOT / "SegmentationClass").exists()
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["VOC2007-test"]
    records = voc.read_voc(folder, "test")
    assert len(records) == 2 and records[0]["image"].shape == (20, 24, 3)
    assert records[1]["image"].dtype == np.uint8
    assert len(voc.read_voc(folder, "test", n_images=1)) == 1


@pytest.mark.parametrize(
    "drop, match",
    [
        (f"{voc.VOC_ROOT}/JPEGImages/000002.jpg", "lacks 1 member"),
        (f"{voc.VOC_ROOT}/ImageSets/Main/test.txt", "Main/test.txt"),
    ],
)
def test_extract_missing_member_leaves_nothing(tmp_path, drop, match):
    archive = make_voc_tar(tmp_path / "voc.tar", drop=drop)
    with pytest.raises(voc.DetectionDataError, match=match):
        voc.extract_voc(archive, tmp_path / "cache", "test")
    assert list((tmp_path / "cache").iterdir()) == []


def test_extract_truncated_archive_leaves_nothing(tmp_path):
    archive = make_voc_tar(tmp_path / "voc.tar")
    raw = archive.read_bytes()
    archive.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(voc.DetectionDataError, match="damaged or truncated"):
        voc.extract_voc(archive, tmp_path / "cache", "test")
    assert list((tmp_path / "cache").iterdir()) == []


def test_verify_checksum(tmp_path):
    archive = make_voc_tar(tmp_path / "voc.tar")
    good = hashlib.sha256(archive.read_bytes()).hexdigest()
    voc.verify_checksum(archive, good)  # no error, file kept
    assert archive.exists()
    with pytest.raises(voc.DetectionDataError, match="checksum mismatch"):
        voc.verify_checksum(archive, "0" * 64)
    assert not archive.exists()  # the bad file is removed
    with pytest.raises(voc.DetectionDataError, match="cannot be read"):
        voc.verify_checksum(archive, good)


def test_read_voc_bad_jpeg_and_size(tmp_path):
    folder = voc.extract_voc(make_voc_tar(tmp_path / "v.tar"), tmp_path, "test")
    jpg = folder / voc.VOC_ROOT / "JPEGImages" / "000001.jpg"
    jpg.write_bytes(b"not a jpeg")
    with pytest.raises(voc.DetectionDataError, match="cannot be decoded"):
        voc.read_voc(folder, "test")
    jpg.write_bytes(jpeg_bytes(30, 20, 0))
    with pytest.raises(voc.DetectionDataError, match="size 24x20"):
        voc.read_voc(folder, "test")


# ----------------------------------------------------------------- load_voc2007


def test_load_zero_images_is_offline(monkeypatch):
    monkeypatch.setenv("VOC2007_DIR", "/nonexistent")
    assert voc.load_voc2007("test", 0) == []


def test_load_from_named_folder(tmp_path, monkeypatch):
    folder = voc.extract_voc(make_voc_tar(tmp_path / "v.tar"), tmp_path, "test")
    monkeypatch.setenv("VOC2007_DIR", str(folder))
    assert len(voc.load_voc2007("test", 1)) == 1
    assert len(voc.load_voc2007("test", data_dir=folder)) == 2
    with pytest.raises(voc.DetectionDataError, match="trainval.txt"):
        voc.load_voc2007("trainval", data_dir=folder)  # never a silent download


def test_load_downloads_verifies_and_extracts(tmp_path, monkeypatch):
    import keras

    archive = make_voc_tar(tmp_path / "VOCtest_06-Nov-2007.tar", extra=False)
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    url = "http://example.invalid/VOCtest_06-Nov-2007.tar"
    monkeypatch.setitem(voc.VOC2007, "test", (url, sha))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("VOC2007_DIR", raising=False)
    calls = []

    def fake_get_file(fname, origin, file_hash, hash_algorithm, **kwargs):
        calls.append((fname, origin, file_hash, hash_algorithm))
        return str(archive)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    records = voc.load_voc2007("test")
    assert len(records) == 2 and calls == [(archive.name, url, sha, "sha256")]
    assert (tmp_path / "keras" / "datasets" / "VOC2007-test").is_dir()
    voc.load_voc2007("test")  # second call: found in the cache, no download
    assert len(calls) == 1


def test_load_bad_checksum_and_failed_download(tmp_path, monkeypatch):
    import keras

    archive = make_voc_tar(tmp_path / "VOCtest_06-Nov-2007.tar")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("VOC2007_DIR", raising=False)
    monkeypatch.setattr(keras.utils, "get_file", lambda **kw: str(archive))
    with pytest.raises(voc.DetectionDataError, match="checksum mismatch"):
        voc.load_voc2007("test")
    assert not archive.exists()
    assert not (tmp_path / "keras" / "datasets" / "VOC2007-test").exists()

    def offline(**kwargs):
        raise Exception("URL fetch failure")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(voc.DetectionDataError, match="VOC2007_DIR"):
        voc.load_voc2007("test")


def test_load_bad_arguments():
    with pytest.raises(voc.DetectionDataError, match="split must be one of"):
        voc.load_voc2007("val")
    with pytest.raises(ValueError, match="n_images must be a non-negative int"):
        voc.load_voc2007("test", -1)


def test_smoke_fixture_feeds_the_loader(tmp_path, monkeypatch):
    variables = voc_fixture.build(tmp_path)
    assert set(variables) == {"VOC2007_DIR"}
    monkeypatch.setenv("VOC2007_DIR", variables["VOC2007_DIR"])
    records = voc.load_voc2007("test", voc_fixture.SMOKE_IMAGES)
    assert len(records) == voc_fixture.SMOKE_IMAGES
    assert all(r["difficult"].tolist() == [False, True] for r in records)
    assert voc_fixture.build(tmp_path) == variables  # a second build reuses it
