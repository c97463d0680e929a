"""utils.data: CIFAR-10 parsing, locating, downloading and every bad-input case.

Fake batch files are built in a temporary folder; RECORDS_PER_FILE is patched down
so they stay tiny. One test loads the real shared copy and skips (with the reason) when
none is found.
"""

import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest

from utils import cifar_download, cifar_format, data

RECORDS = 20  # records per fake batch file (2 per class)
REAL_DIR = os.environ.get("CIFAR10_DIR")  # read before the fixture below clears it


@pytest.fixture(autouse=True)
def small_batches(monkeypatch):
    monkeypatch.setattr(data, "RECORDS_PER_FILE", RECORDS)
    monkeypatch.delenv("CIFAR10_DIR", raising=False)


def fake_records(seed: int, n: int = RECORDS) -> tuple[bytes, np.ndarray, np.ndarray]:
    """n records in the official layout, with known labels and NHWC images."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n, dtype=np.uint8) % 10
    images = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    planes = images.transpose(0, 3, 1, 2).reshape(n, -1)  # channel-first bytes
    raw = np.concatenate([labels[:, None], planes], axis=1).astype(np.uint8)
    return raw.tobytes(), images, labels


def make_folder(root: Path) -> tuple[Path, dict]:
    folder = root / data.FOLDER_NAME
    folder.mkdir(parents=True)
    truth = {}
    for i, name in enumerate((*data.TRAIN_FILES, data.TEST_FILE)):
        raw, images, labels = fake_records(i)
        (folder / name).write_bytes(raw)
        truth[name] = (images, labels)
    (folder / "batches.meta.txt").write_text("\n".join(data.CIFAR10_CLASSES) + "\n")
    return folder, truth


def make_archive(path: Path, *, drop: str | None = None, extra: bool = False) -> Path:
    """A .tar.gz with the official member names (maybe one missing, or a stray one)."""
    with tarfile.open(path, "w:gz") as tar:
        names = [n for n in (*data.TRAIN_FILES, data.TEST_FILE) if n != drop]
        for i, name in enumerate(names):
            raw = fake_records(i)[0]
            info = tarfile.TarInfo(f"{data.FOLDER_NAME}/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
        if extra:
            info = tarfile.TarInfo("../escape.txt")
            info.size = 3
            tar.addfile(info, io.BytesIO(b"bad"))
    return path


# ------------------------------------------------------------------ happy paths


def test_parses_records_like_keras(tmp_path, capsys):
    folder, truth = make_folder(tmp_path)
    (x_train, y_train), (x_test, y_test) = data.load_cifar10(folder)
    assert x_train.shape == (5 * RECORDS, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (5 * RECORDS, 1) and y_train.dtype == np.uint8
    assert x_test.shape == (RECORDS, 32, 32, 3) and y_test.shape == (RECORDS, 1)
    np.testing.assert_array_equal(x_train[:RECORDS], truth["data_batch_1.bin"][0])
    np.testing.assert_array_equal(x_test, truth["test_batch.bin"][0])
    np.testing.assert_array_equal(y_test[:, 0], truth["test_batch.bin"][1])
    assert (
        capsys.readouterr().out.strip()
        == "CIFAR-10 from the data_dir argument: 100 training and 20 test images"
    )


def test_environment_variable_is_used(tmp_path, monkeypatch, capsys):
    folder, _ = make_folder(tmp_path)
    monkeypatch.setenv("CIFAR10_DIR", str(folder))
    data.load_cifar10()
    assert "from CIFAR10_DIR" in capsys.readouterr().out


def test_keras_cache_is_used(tmp_path, monkeypatch, capsys):
    make_folder(tmp_path / "kh" / "datasets")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    data.load_cifar10()
    assert "from the Keras cache" in capsys.readouterr().out


def test_argument_beats_environment_variable(tmp_path, monkeypatch):
    folder, _ = make_folder(tmp_path / "a")
    monkeypatch.setenv("CIFAR10_DIR", str(tmp_path / "does-not-exist"))
    data.load_cifar10(folder, verbose=False)


def test_subset_is_class_balanced_deterministic_and_ordered(tmp_path):
    folder, _ = make_folder(tmp_path)
    (x1, y1), (xt1, yt1) = data.load_cifar10(folder, subset=(50, 10), verbose=False)
    (x2, y2), _ = data.load_cifar10(folder, subset=(50, 10), verbose=False)
    assert x1.shape == (50, 32, 32, 3) and xt1.shape == (10, 32, 32, 3)
    assert np.bincount(y1[:, 0], minlength=10).tolist() == [5] * 10
    assert np.bincount(yt1[:, 0], minlength=10).tolist() == [1] * 10
    np.testing.assert_array_equal(x1, x2)
    (xa, ya), (xta, _) = data.load_cifar10(folder, subset=20, verbose=False)
    assert len(xa) == 20 and len(xta) == 20
    (_, _), (xtn, _) = data.load_cifar10(folder, subset=(30, None), verbose=False)
    assert len(xtn) == RECORDS


@pytest.mark.parametrize("bad", [15, 0, -10, 2.5, "100", (10,), True])
def test_bad_subset_is_rejected(tmp_path, bad):
    folder, _ = make_folder(tmp_path)
    with pytest.raises(ValueError, match="subset"):
        data.load_cifar10(folder, subset=bad, verbose=False)


def test_subset_larger_than_split_is_rejected(tmp_path):
    folder, _ = make_folder(tmp_path)
    with pytest.raises(ValueError, match="only"):
        data.load_cifar10(folder, subset=(1000, 10), verbose=False)


# -------------------------------------------------------------------- bad input


def test_missing_folder_is_an_error_never_a_download(tmp_path, monkeypatch):
    monkeypatch.setattr(
        cifar_download,
        "download_cifar10",
        lambda *a, **k: pytest.fail("must not download"),
    )
    with pytest.raises(data.CIFAR10Error, match="does not exist.*CIFAR10_DIR"):
        data.load_cifar10(tmp_path / "nope")
    monkeypatch.setenv("CIFAR10_DIR", str(tmp_path / "nope"))
    with pytest.raises(data.CIFAR10Error, match="does not exist"):
        data.load_cifar10()


def test_missing_batch_file_is_named(tmp_path):
    folder, _ = make_folder(tmp_path)
    (folder / "data_batch_3.bin").unlink()
    with pytest.raises(data.CIFAR10Error, match="missing data_batch_3.bin"):
        data.load_cifar10(folder)


def test_truncated_file_is_named(tmp_path):
    folder, _ = make_folder(tmp_path)
    path = folder / "data_batch_2.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(
        data.CIFAR10Error, match=r"data_batch_2.bin has .* bytes, expected .*truncated"
    ):
        data.load_cifar10(folder)


def test_wrong_size_file_is_named(tmp_path):
    folder, _ = make_folder(tmp_path)
    (folder / "test_batch.bin").write_bytes(b"\0" * (data.RECORD_BYTES * (RECORDS + 1)))
    with pytest.raises(
        data.CIFAR10Error, match="test_batch.bin.*not a CIFAR-10 binary batch"
    ):
        data.load_cifar10(folder)


def test_label_out_of_range_is_named(tmp_path):
    folder, _ = make_folder(tmp_path)
    path = folder / "data_batch_4.bin"
    raw = bytearray(path.read_bytes())
    raw[data.RECORD_BYTES * 7] = 12  # label byte of record 7
    path.write_bytes(bytes(raw))
    with pytest.raises(
        data.CIFAR10Error, match="data_batch_4.bin has label 12 in record 7"
    ):
        data.load_cifar10(folder)


def test_offline_without_data_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-home"))
    import keras

    def offline(*args, **kwargs):
        raise Exception(
            "URL fetch failure on https://www.cs.toronto.edu: [Errno -3] "
            "Temporary failure in name resolution"
        )

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(
        data.CIFAR10Error, match="downloading .* failed.*offline.*CIFAR10_DIR"
    ):
        data.load_cifar10()
    assert not (tmp_path / "empty-home" / "datasets" / data.FOLDER_NAME).exists()


def test_no_download_when_forbidden(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(data.CIFAR10Error, match="download=False"):
        data.load_cifar10(download=False)


# ---------------------------------------------------------------- download path


def test_download_verifies_and_extracts_only_expected_members(
    tmp_path, monkeypatch, capsys
):
    home = tmp_path / "kh"
    monkeypatch.setenv("KERAS_HOME", str(home))
    archive = make_archive(tmp_path / "archive.tar.gz", extra=True)
    import hashlib

    import keras

    def fake_get_file(fname, origin, cache_dir, cache_subdir):
        assert origin == data.CIFAR10_URL
        dest = Path(cache_dir) / cache_subdir / fname
        dest.write_bytes(archive.read_bytes())
        return str(dest)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    monkeypatch.setattr(
        cifar_format, "CIFAR10_SHA256", hashlib.sha256(archive.read_bytes()).hexdigest()
    )
    (x_train, _), _ = data.load_cifar10()
    assert len(x_train) == 5 * RECORDS
    assert "fresh download of the official archive" in capsys.readouterr().out
    extracted = sorted(p.name for p in (home / "datasets" / data.FOLDER_NAME).iterdir())
    assert extracted == sorted((*data.TRAIN_FILES, data.TEST_FILE))
    assert not (tmp_path / "escape.txt").exists() and not (home / "escape.txt").exists()
    assert not [
        p
        for p in (home / "datasets").iterdir()
        if p.name.startswith(".cifar10-extract-")
    ]


def test_checksum_mismatch_removes_the_bad_download(tmp_path, monkeypatch):
    home = tmp_path / "kh"
    monkeypatch.setenv("KERAS_HOME", str(home))
    archive = make_archive(tmp_path / "archive.tar.gz")
    import keras

    saved = []

    def fake_get_file(fname, origin, cache_dir, cache_subdir):
        dest = Path(cache_dir) / cache_subdir / fname
        dest.write_bytes(archive.read_bytes())
        saved.append(dest)
        return str(dest)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    with pytest.raises(data.CIFAR10Error, match="Checksum mismatch.*removed"):
        data.load_cifar10()
    assert saved and not saved[0].exists()
    assert not (home / "datasets" / data.FOLDER_NAME).exists()


def test_archive_missing_a_member_leaves_nothing_behind(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    archive = make_archive(tmp_path / "a.tar.gz", drop="data_batch_5.bin")
    with pytest.raises(data.CIFAR10Error, match="lacks data_batch_5.bin"):
        cifar_download.extract_archive(archive, cache)
    assert list(cache.iterdir()) == []


def test_official_constants():
    assert (
        data.CIFAR10_SHA256
        == "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
    )
    assert data.CIFAR10_ARCHIVE_BYTES == 170_052_171
    assert data.CIFAR10_URL == "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    assert len(data.CIFAR10_CLASSES) == 10


def test_source_never_unpickles():
    text = Path(data.__file__).read_text()
    assert "pickle" not in text.replace("unpickled", "").replace("unpickle", "")


# --------------------------------------------------------- photos and real data


@pytest.mark.parametrize("name", sorted(data.SAMPLE_PHOTOS))
def test_sample_photos_are_real_uint8_images(name):
    img = data.sample_photo(name)
    assert img.dtype == np.uint8 and img.ndim in (2, 3) and min(img.shape[:2]) >= 256


def test_unknown_sample_photo():
    with pytest.raises(ValueError, match="unknown sample photo"):
        data.sample_photo("dog")


def shared_copy() -> Path | None:
    candidates = [
        REAL_DIR,
        str(Path(__file__).resolve().parents[2] / "shared/data/cifar-10-batches-bin"),
    ]
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c)
    return None


def test_real_shared_copy(monkeypatch):
    monkeypatch.setattr(data, "RECORDS_PER_FILE", 10_000)
    folder = shared_copy()
    if folder is None:
        pytest.skip(
            "no CIFAR-10 copy found (set CIFAR10_DIR, or place "
            "../shared/data/cifar-10-batches-bin beside the checkout)"
        )
    (x_train, y_train), (x_test, y_test) = data.load_cifar10(folder, verbose=False)
    assert x_train.shape == (50_000, 32, 32, 3) and x_test.shape == (10_000, 32, 32, 3)
    assert np.bincount(y_train[:, 0]).tolist() == [5000] * 10
    assert np.bincount(y_test[:, 0]).tolist() == [1000] * 10
    assert 100 < x_train.mean() < 140  # real photos, not noise or zeros


def test_train_val_split_is_stratified_disjoint_and_deterministic():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10, dtype=np.uint8), 30).reshape(-1, 1)
    x = np.arange(len(y))
    (xa, ya), (xv, yv) = data.train_val_split(x, y, 50, seed=1)
    assert len(xv) == 50 and len(xa) == 250
    assert np.bincount(yv[:, 0]).tolist() == [5] * 10
    assert not set(xa) & set(xv)
    (_, _), (xv2, _) = data.train_val_split(x, y, 50, seed=1)
    np.testing.assert_array_equal(xv, xv2)
    (_, _), (xv3, _) = data.train_val_split(x, y, 50, seed=2)
    assert not np.array_equal(xv, xv3)
    del rng


@pytest.mark.parametrize(
    "size,match", [(55, "multiple"), (0, "multiple"), (300, "too few")]
)
def test_train_val_split_bad_sizes(size, match):
    y = np.repeat(np.arange(10), 30)
    with pytest.raises(ValueError, match=match):
        data.train_val_split(np.zeros(300), y, size)


def test_train_val_split_length_mismatch():
    with pytest.raises(ValueError, match="labels"):
        data.train_val_split(np.zeros(10), np.zeros(9), 10)


# -------------------------------------------------- ~ in paths (issue 9 item 3)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fake home folder; the working directory moves, so a literal '~' would show."""
    fake = tmp_path / "home"
    fake.mkdir()
    monkeypatch.setenv("HOME", str(fake))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return fake


def test_tilde_in_data_dir_and_cifar10_dir(home, monkeypatch, capsys):
    """'~/data/...' was taken literally: 'folder ... does not exist' (it did)."""
    make_folder(home / "data")
    tilde = "~/data/" + data.FOLDER_NAME
    (x_train, _), _ = data.load_cifar10(tilde, verbose=False)
    assert len(x_train) == 5 * RECORDS
    data.load_cifar10(Path(tilde), verbose=False)
    monkeypatch.setenv("CIFAR10_DIR", tilde)
    assert data.locate_cifar10() == (home / "data" / data.FOLDER_NAME, "CIFAR10_DIR")
    data.load_cifar10()
    assert "from CIFAR10_DIR" in capsys.readouterr().out
    assert (
        data.read_batch("~/data/" + data.FOLDER_NAME + "/test_batch.bin")[0].shape[0]
        == RECORDS
    )


def test_tilde_in_keras_home_is_the_home_folder(home, monkeypatch):
    """KERAS_HOME='~/.keras' made the loader create a literal ./~/.keras/datasets."""
    monkeypatch.setenv("KERAS_HOME", "~/.keras")
    assert cifar_download.keras_cache_folder() == home / ".keras" / "datasets"
    make_folder(home / ".keras" / "datasets")
    assert data.locate_cifar10()[1] == "the Keras cache"
    assert not Path("~").exists()


def test_keras_cache_folder_agrees_with_get_file(home, monkeypatch, tmp_path):
    import keras

    source = tmp_path / "payload.bin"
    source.write_bytes(b"x")
    monkeypatch.setenv("KERAS_HOME", "~/.keras")
    (home / ".keras").mkdir()  # Keras creates its home when it is imported
    got = keras.utils.get_file(
        "payload.bin",
        origin=source.as_uri(),
        cache_dir="~/.keras",
        cache_subdir="datasets",
    )
    assert Path(got).parent == cifar_download.keras_cache_folder()


def test_keras_home_default_and_fallbacks(home, monkeypatch):
    monkeypatch.delenv("KERAS_HOME", raising=False)
    assert cifar_download.keras_cache_folder() == home / ".keras" / "datasets"
    real_access = os.access
    unwritable = {str(home), str(home / "locked")}
    monkeypatch.setattr(
        data.os,
        "access",
        lambda p, mode: str(p) not in unwritable and real_access(p, mode),
    )
    # Keras: a home folder that is not writable means /tmp/.keras
    assert cifar_download.keras_cache_folder() == Path("/tmp/.keras/datasets")
    (home / "locked").mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home / "locked"))
    assert cifar_download.keras_cache_folder() == Path(
        "/tmp/.keras/datasets"
    )  # get_file's
    monkeypatch.setenv("KERAS_HOME", str(home / "locked" / "new"))  # not creatable
    assert cifar_download.keras_cache_folder() == Path("/tmp/.keras/datasets")
    unwritable.discard(str(home))
    monkeypatch.setenv("KERAS_HOME", str(home / "free" / "not-yet"))  # can be created
    assert cifar_download.keras_cache_folder() == home / "free" / "not-yet" / "datasets"
    assert not (home / "free").exists()  # looking creates nothing


@pytest.mark.parametrize("bad", [b"/tmp", 3, ""])
def test_bad_path_arguments(bad):
    with pytest.raises(data.CIFAR10Error, match="path"):
        data.load_cifar10(bad, verbose=False)


# ------------------------------------------------------------- audit: bad input


def test_cifar10_error_is_a_value_error():
    assert issubclass(data.CIFAR10Error, ValueError) and issubclass(
        data.CIFAR10Error, RuntimeError
    )
    with pytest.raises(data.CIFAR10Error, match="unknown sample photo"):
        data.sample_photo(["cat"])


def test_balanced_subset_and_split_bad_input():
    with pytest.raises(data.CIFAR10Error, match="3 images but y has 2"):
        data.balanced_subset(np.zeros((3, 2)), np.zeros(2, np.uint8), 10)
    with pytest.raises(data.CIFAR10Error, match="no images"):
        data.train_val_split(np.zeros((0, 2)), np.zeros(0, np.uint8), 10)


def test_unreadable_and_damaged_files(tmp_path):
    folder, _ = make_folder(tmp_path)
    with pytest.raises(data.CIFAR10Error, match="records must be a positive int"):
        data.read_batch(folder / "test_batch.bin", records=0)
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tar at all")
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(data.CIFAR10Error, match="cannot be extracted"):
        cifar_download.extract_archive(bad, cache)
    assert list(cache.iterdir()) == []
    with pytest.raises(data.CIFAR10Error, match="cannot be read"):
        cifar_download.verify_archive(tmp_path / "missing.tar.gz")


def test_staged_folder_replaces_the_target_only_on_success(tmp_path):
    target = tmp_path / "set"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError, match="half way"):
        with data.staged_folder(target, ".t-") as staging:
            (staging / "new.txt").write_text("new")
            raise RuntimeError("half way")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]
    assert (target / "old.txt").is_file()
    with data.staged_folder(target, ".t-") as staging:
        (staging / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]
