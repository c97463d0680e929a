"""utils.backbones (chapter 11): the small CNN, keras.applications backbones built
offline, and the checked ImageNet weights file (found in the Keras cache, downloaded and
checked, or refused with what to do), including FULL-smoke's stand-in file."""

from pathlib import Path

import numpy as np
import pytest

from tools.fixtures import mobilenet as fixture
from utils import backbones as bb


def toy_images(n=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


def test_cnn_backbone_weights_round_trip(tmp_path):
    x = toy_images()
    net = bb.cnn_backbone(4)
    assert net.output_shape == (None, 16)
    assert [layer.name for layer in bb.bn_layers(net)] == ["bn1", "bn2", "bn3"]
    path = tmp_path / "cnn.weights.h5"
    net.save_weights(path)
    loaded = bb.pretrained_backbone("cnn", path, width=4)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), net.predict(x, verbose=0), rtol=1e-6
    )


@pytest.mark.parametrize(
    "args, error, match",
    [
        (("resnet",), ValueError, "unknown backbone"),
        (("cnn", "imagenet"), ValueError, "no ImageNet"),
        (("cnn", "no/such/file.weights.h5"), FileNotFoundError, "does not exist"),
        (("cnn", 3), ValueError, "weights must be"),
        (("cnn", None, (64, 64, 3)), ValueError, r"\(32, 32, 3\)"),
        (("mobilenet_v2", None, (32, 32)), ValueError, "input_shape"),
        (("mobilenet_v2", None, (16, 16, 3)), ValueError, "at least 32x32"),
        (("mobilenet_v2", "imagenet", (64, 64, 3)), ValueError, "no checked"),
        (("efficientnet_b0", "imagenet", (96, 96, 3)), ValueError, "no checked"),
    ],
)
def test_pretrained_backbone_rejects_bad_arguments(args, error, match):
    with pytest.raises(error, match=match):
        bb.pretrained_backbone(*args)


@pytest.mark.parametrize(
    "name, dim", [("mobilenet_v2", 1280), ("efficientnet_b0", 1280)]
)
def test_full_profile_applications_build_offline(name, dim):
    # the FULL path with weights=None: same architecture, resizing and preprocessing
    net = bb.pretrained_backbone(name, None, (48, 48, 3))
    assert net.input_shape == (None, 32, 32, 3)
    feats = net.predict(toy_images(2), verbose=0)
    assert feats.shape == (2, dim) and np.all(np.isfinite(feats))


# ------------------------------------------------------------- ImageNet weights


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


def test_the_smoke_fixture_loads_through_the_imagenet_path(tmp_path, keras_home):
    # FULL-smoke's stand-in: the legacy .h5 layout, in the cache where get_file looks
    variables = fixture.build(tmp_path / "mobilenet")
    assert variables == {"KERAS_HOME": str(keras_home)}
    spec = bb.IMAGENET_WEIGHTS["mobilenet_v2", 96]
    path = bb.imagenet_weights_file("mobilenet_v2", 96)
    assert path == keras_home / "models" / spec.name
    net = bb.pretrained_backbone("mobilenet_v2", "imagenet", (96, 96, 3))
    import h5py

    inner = net.get_layer("mobilenetv2_1.00_96")
    with h5py.File(path, "r") as f:
        stored = f["Conv1"]["Conv1/kernel:0"][()]
        moving = f["Conv_1_bn"]["Conv_1_bn/moving_variance:0"][()]
    np.testing.assert_array_equal(inner.get_layer("Conv1").kernel.numpy(), stored)
    bn = inner.get_layer("Conv_1_bn")
    np.testing.assert_array_equal(bn.moving_variance.numpy(), moving)
    feats = net.predict(toy_images(2), verbose=0)
    assert feats.shape == (2, 1280) and np.all(np.isfinite(feats))


def fake_get_file(content: bytes | None):
    """A keras.utils.get_file stand-in that 'downloads' ``content`` (None: fails)."""

    def get_file(fname, origin, cache_dir, cache_subdir):
        if content is None:
            raise Exception(f"URL fetch failure on {origin}: no network")
        folder = Path(cache_dir) / cache_subdir
        folder.mkdir(parents=True, exist_ok=True)
        (folder / fname).write_bytes(content)
        return str(folder / fname)

    return get_file


def test_a_download_is_checked_and_a_bad_one_removed(keras_home, monkeypatch):
    import keras

    spec = bb.IMAGENET_WEIGHTS["mobilenet_v2", 96]
    target = keras_home / "models" / spec.name
    good = bb.HDF5_SIGNATURE + bytes(spec.size - len(bb.HDF5_SIGNATURE))
    monkeypatch.setattr(keras.utils, "get_file", fake_get_file(good))
    assert bb.imagenet_weights_file("mobilenet_v2", 96) == target
    target.unlink()
    monkeypatch.setattr(keras.utils, "get_file", fake_get_file(good[:-1000]))
    with pytest.raises(bb.WeightsUnavailable, match="9,405,464 bytes, not 9,406,464"):
        bb.imagenet_weights_file("mobilenet_v2", 96)
    assert not target.exists()  # removed, so the next run downloads again
    monkeypatch.setattr(keras.utils, "get_file", fake_get_file(b"<html>error</html>"))
    with pytest.raises(bb.WeightsUnavailable, match="HDF5 signature.*was removed"):
        bb.imagenet_weights_file("mobilenet_v2", 96)
    monkeypatch.setattr(keras.utils, "get_file", fake_get_file(None))
    with pytest.raises(bb.WeightsUnavailable, match="IMAGE_SIZE_IMAGENET=0"):
        bb.imagenet_weights_file("mobilenet_v2", 96)


def test_a_bad_cached_file_is_refused_with_what_to_do(keras_home):
    spec = bb.IMAGENET_WEIGHTS["mobilenet_v2", 96]
    cached = keras_home / "models" / spec.name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not hdf5")
    with pytest.raises(bb.WeightsUnavailable, match="delete it and run again"):
        bb.imagenet_weights_file("mobilenet_v2", 96)
    cached.write_bytes(bb.HDF5_SIGNATURE + b"\0" * 64)  # the signature, then junk
    with pytest.raises(bb.WeightsUnavailable, match="does not load into MobileNetV2"):
        bb.pretrained_backbone("mobilenet_v2", "imagenet", (96, 96, 3))


def test_check_weights_file_names_what_is_wrong(tmp_path):
    with pytest.raises(bb.WeightsUnavailable, match="does not exist"):
        bb.check_weights_file(tmp_path / "none.h5")
    path = tmp_path / "w.h5"
    path.write_bytes(bb.HDF5_SIGNATURE + b"12")
    assert bb.check_weights_file(path) == path
    assert bb.check_weights_file(path, 10) == path
    with pytest.raises(bb.WeightsUnavailable, match="10 bytes, not 11"):
        bb.check_weights_file(path, 11)
