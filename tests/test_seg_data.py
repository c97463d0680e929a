"""utils/seg_data.py (chapter 13): the composite set and the Oxford-IIIT Pet loader,
tested offline on small archives fabricated in the official layout."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from tools.fixtures import pets as pets_fixture
from tools.fixtures.pets import make_pet_archives
from utils import seg_data
from utils.seg_data import (
    PetsError,
    composite_shapes,
    extract_pets,
    read_pets,
    shape_mask,
    trimap_to_labels,
    verify_archive,
)

PIL = pytest.importorskip("PIL")

RNG = np.random.default_rng(0)
PHOTOS = RNG.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)


# ------------------------------------------------------------------ composite shapes


def test_shape_masks_have_the_expected_area():
    disk = shape_mask("disk", 64, (32, 32), 10)
    assert disk.dtype == bool and abs(disk.sum() - np.pi * 100) < 0.05 * np.pi * 100
    square = shape_mask("square", 64, (32, 32), 10, angle=0.3)
    assert abs(square.sum() - 2 * 100) < 0.06 * 200  # inscribed square: 2 r^2
    tri = shape_mask("triangle", 64, (32, 32), 10, angle=1.0)
    area = 3 * np.sqrt(3) / 4 * 100
    assert abs(tri.sum() - area) < 0.08 * area
    assert not shape_mask("disk", 16, (-20, -20), 3).any()  # off the canvas


def test_composite_is_deterministic_and_exact():
    x1, y1 = composite_shapes(PHOTOS, 20, seed=3)
    x2, y2 = composite_shapes(PHOTOS, 20, seed=3)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert x1.shape == (20, 32, 32, 3) and x1.dtype == np.uint8
    assert y1.shape == (20, 32, 32) and y1.dtype == np.uint8
    assert set(np.unique(y1)) <= {0, 1, 2, 3} and (y1 > 0).any(axis=(1, 2)).all()
    x3, _ = composite_shapes(PHOTOS, 20, seed=4)
    assert not np.array_equal(x1, x3)
    # masks depend on the seed and the number of photos, not on their content
    _, y4 = composite_shapes(255 - PHOTOS, 20, seed=3)
    np.testing.assert_array_equal(y1, y4)


def test_background_is_grey_and_objects_keep_their_colours():
    x, y = composite_shapes(PHOTOS, 10, seed=0, background_contrast=0.5)
    bg = x[y == 0].astype(int)
    assert (bg[:, 0] == bg[:, 1]).all() and (bg[:, 1] == bg[:, 2]).all()
    assert bg.min() >= 63 and bg.max() <= 192  # half contrast around mid-grey
    fg = x[y > 0].astype(int)
    assert (fg[:, 0] != fg[:, 1]).any()
    x1, y1 = composite_shapes(PHOTOS, 10, seed=0, background_contrast=1.0)
    np.testing.assert_array_equal(y, y1)
    assert (x1[y1 == 0][:, 0] != x1[y1 == 0][:, 1]).any()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(photos=PHOTOS[:1]), "at least 2"),
        (dict(photos=PHOTOS.astype(np.float32)), "uint8"),
        (dict(photos=PHOTOS[:, :, :16]), "square"),
        (dict(n=0), "n must"),
        (dict(seed=-1), "seed"),
        (dict(max_objects=0), "max_objects"),
        (dict(radius_range=(5, 40)), "radius_range"),
        (dict(radius_range=(5,)), "radius_range"),
        (dict(background_contrast=1.5), "background_contrast"),
    ],
)
def test_composite_bad_input(kwargs, match):
    args = dict(photos=PHOTOS, n=2) | kwargs
    with pytest.raises(ValueError, match=match):
        composite_shapes(args.pop("photos"), args.pop("n"), **args)


def test_shape_mask_bad_input():
    with pytest.raises(ValueError, match="kind"):
        shape_mask("star", 8, (4, 4), 2)
    with pytest.raises(ValueError, match="radius"):
        shape_mask("disk", 8, (4, 4), 0)
    with pytest.raises(ValueError, match="center"):
        shape_mask("disk", 8, 4, 2)
    with pytest.raises(ValueError, match="size"):
        shape_mask("disk", 0, (4, 4), 2)


# ------------------------------------------------------------------ Oxford-IIIT Pet


def test_trimap_values_map_to_background_pet_border():
    np.testing.assert_array_equal(trimap_to_labels([[1, 2, 3]]), [[1, 0, 2]])
    with pytest.raises(PetsError, match="1, 2, 3"):
        trimap_to_labels([0, 1])
    with pytest.raises(PetsError, match="nearest"):
        trimap_to_labels(np.array([1.5, 2.0]))


@pytest.mark.parametrize("gzip", [True, False])
def test_extract_and_read_the_official_layout(tmp_path, gzip):
    archives = make_pet_archives(tmp_path / "dl", gzip=gzip)
    folder = extract_pets(archives, tmp_path / "cache" / "pets")
    got = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert "images/readme.mat" not in got and not any("xmls" in p for p in got)
    assert not any("._" in p for p in got) and not (tmp_path / "escape.jpg").exists()
    assert "annotations/test.txt" in got and len(got) == 2 + 3 + 3
    x, y = read_pets(folder, "trainval", image_size=16)
    assert x.shape == (2, 16, 16, 3) and x.dtype == np.uint8
    assert y.shape == (2, 16, 16) and set(np.unique(y)) == {0, 1, 2}
    x, y = read_pets(folder, "test", image_size=8, limit=5)
    assert x.shape == (1, 8, 8, 3)
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    "drop",
    ["annotations/test.txt", "annotations/trainval.txt"],
)
def test_missing_member_leaves_nothing_behind(tmp_path, drop):
    archives = make_pet_archives(tmp_path / "dl", drop=drop)
    cache = tmp_path / "cache"
    with pytest.raises(PetsError, match=f"lack {drop}"):
        extract_pets(archives, cache / "pets")
    assert list(cache.iterdir()) == []


def test_missing_photo_is_named_when_reading(tmp_path):
    archives = make_pet_archives(tmp_path / "dl", drop="images/beagle_2.jpg")
    folder = extract_pets(archives, tmp_path / "pets")
    with pytest.raises(PetsError, match="beagle_2 of the trainval split"):
        read_pets(folder, "trainval", image_size=8)


def test_truncated_archive_leaves_nothing_behind(tmp_path):
    archives = make_pet_archives(tmp_path / "dl")
    data = archives[1].read_bytes()
    archives[1].write_bytes(data[: len(data) // 2])
    cache = tmp_path / "cache"
    with pytest.raises(PetsError, match="truncated"):
        extract_pets(archives, cache / "pets")
    assert list(cache.iterdir()) == []


def test_corrupt_photo_is_named(tmp_path):
    archives = make_pet_archives(tmp_path / "dl")
    folder = extract_pets(archives, tmp_path / "pets")
    (folder / "images" / "Bengal_3.jpg").write_bytes(b"\xff\xd8 broken")
    with pytest.raises(PetsError, match="Bengal_3"):
        read_pets(folder, "test", image_size=8)


def test_bad_split_and_list_line(tmp_path):
    folder = extract_pets(make_pet_archives(tmp_path / "dl"), tmp_path / "pets")
    with pytest.raises(PetsError, match="split"):
        read_pets(folder, "val")
    (folder / "annotations" / "test.txt").write_text("Bengal_3 1\n")
    with pytest.raises(PetsError, match="line 1"):
        read_pets(folder, "test")
    with pytest.raises(ValueError, match="image_size"):
        read_pets(folder, "trainval", image_size=0)


def test_checksum(tmp_path):
    path = tmp_path / "annotations.tar.gz"
    path.write_bytes(b"abc")
    good = hashlib.sha256(b"abc").hexdigest()
    assert verify_archive(path, good) == path
    with pytest.raises(PetsError, match="Checksum mismatch.*removed"):
        verify_archive(path)  # the published checksum of the real archive
    assert not path.exists()
    with pytest.raises(PetsError, match="cannot read"):
        verify_archive(path, good)
    with pytest.raises(PetsError, match="not an Oxford-IIIT Pet archive"):
        verify_archive(tmp_path / "other.tar")


def test_download_verifies_then_extracts(tmp_path, monkeypatch):
    import keras

    archives = make_pet_archives(tmp_path / "src")
    sums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in archives}
    calls = []

    def fake_get_file(fname, origin, cache_dir, cache_subdir):
        assert origin == seg_data.PETS_URLS[fname]
        calls.append(fname)
        dest = Path(cache_dir) / cache_subdir / fname
        dest.write_bytes((tmp_path / "src" / fname).read_bytes())
        return str(dest)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    monkeypatch.setattr(seg_data, "PETS_SHA256", sums)
    (x, y), (xt, yt) = seg_data.load_oxford_pets(
        image_size=8, n_train=1, cache=tmp_path / "cache"
    )
    assert x.shape == (1, 8, 8, 3) and xt.shape == (1, 8, 8, 3)
    assert sorted(calls) == ["annotations.tar.gz", "images.tar.gz"]
    seg_data.load_oxford_pets(image_size=8, cache=tmp_path / "cache")
    assert len(calls) == 2  # the extracted folder is reused, no second download


def test_download_with_a_wrong_checksum_extracts_nothing(tmp_path, monkeypatch):
    import keras

    make_pet_archives(tmp_path / "src")

    def fake_get_file(fname, origin, cache_dir, cache_subdir):
        dest = Path(cache_dir) / cache_subdir / fname
        dest.write_bytes((tmp_path / "src" / fname).read_bytes())
        return str(dest)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    cache = tmp_path / "cache"
    with pytest.raises(PetsError, match="Checksum mismatch"):
        seg_data.download_oxford_pets(cache)
    assert not (cache / seg_data.PETS_FOLDER).exists()
    assert not (cache / "images.tar.gz").exists()


def test_failed_download_says_what_to_do(tmp_path, monkeypatch):
    import keras

    def offline(**kwargs):
        raise Exception("URL fetch failure")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(PetsError, match="download the file by hand"):
        seg_data.download_oxford_pets(tmp_path)


def test_a_named_folder_is_read_instead_of_downloading(tmp_path, monkeypatch):
    import keras

    def no_network(**kwargs):
        raise AssertionError("a named folder must not trigger a download")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    folder = extract_pets(make_pet_archives(tmp_path / "dl"), tmp_path / "pets")
    (x, y), (xt, yt) = seg_data.load_oxford_pets(image_size=8, data_dir=folder)
    assert x.shape == (2, 8, 8, 3) and yt.shape == (1, 8, 8)
    monkeypatch.setenv(seg_data.PETS_DIR_VARIABLE, str(folder))
    (x, _), _ = seg_data.load_oxford_pets(image_size=8, n_train=1)
    assert x.shape == (1, 8, 8, 3)
    monkeypatch.setenv(seg_data.PETS_DIR_VARIABLE, str(tmp_path / "empty"))
    with pytest.raises(PetsError, match="split list"):  # never a silent download
        seg_data.load_oxford_pets(image_size=8)


def test_smoke_fixture_feeds_the_loader(tmp_path, monkeypatch):
    variables = pets_fixture.build(tmp_path)
    assert set(variables) == {seg_data.PETS_DIR_VARIABLE}
    name = seg_data.PETS_DIR_VARIABLE
    monkeypatch.setenv(name, variables[name])
    (x, y), (xt, yt) = seg_data.load_oxford_pets(image_size=32)
    assert x.shape == (pets_fixture.SMOKE_PHOTOS["trainval"], 32, 32, 3)
    assert xt.shape[0] == pets_fixture.SMOKE_PHOTOS["test"]
    assert set(np.unique(y)) == {0, 1, 2}  # background, pet and border all present
    assert pets_fixture.build(tmp_path) == variables  # a second build reuses it
