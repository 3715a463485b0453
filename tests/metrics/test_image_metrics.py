"""PSNR and SSIM against scikit-image's (`peak_signal_noise_ratio`, and `structural_similarity`
with gaussian_weights=True, sigma=1.5, use_sample_covariance=False: Wang et al. 2004's
definition), over hypothesis-drawn images: sizes 7..64, gray and RGB, constant images included.
scikit-image is a test-only dependency (skipped without it)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygen as tg
from tinygen.metrics import ms_ssim, psnr, ssim

skimage_metrics = pytest.importorskip("skimage.metrics")


def _sk_ssim(a, b, data_range, channel_axis=None):
    return skimage_metrics.structural_similarity(
        a, b, data_range=data_range, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, channel_axis=channel_axis)


@st.composite
def image_pairs(draw):
    h, w = draw(st.integers(7, 64)), draw(st.integers(7, 64))
    channels = draw(st.sampled_from([None, 3]))
    shape = (h, w) if channels is None else (channels, h, w)
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    kind = draw(st.sampled_from(["noise", "constant", "one constant", "close"]))
    a = rng.random(shape)
    if kind == "constant":
        a = np.full(shape, draw(st.floats(0, 1)))
        b = np.full(shape, draw(st.floats(0, 1)))
    elif kind == "one constant":
        b = np.full(shape, 0.5)
    elif kind == "close":
        b = np.clip(a + 0.05 * rng.standard_normal(shape), 0, 1)
    else:
        b = rng.random(shape)
    return a, b, channels


@settings(max_examples=80, deadline=None)
@given(pair=image_pairs(), data_range=st.sampled_from([1.0, 2.0, 255.0]))
def test_ssim_equals_scikit_image(pair, data_range):
    a, b, channels = pair
    axis = None if channels is None else 0
    if min(a.shape[-2:]) < 11:                  # the window does not fit: both refuse
        with pytest.raises(ValueError):
            _sk_ssim(a, b, data_range, axis)
        with pytest.raises(ValueError, match="window"):
            ssim(a, b, data_range=data_range, channel_axis=axis)
        return
    expected = _sk_ssim(a, b, data_range, axis)
    assert ssim(a, b, data_range=data_range, channel_axis=axis) == pytest.approx(expected,
                                                                                abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(pair=image_pairs())
def test_psnr_equals_scikit_image(pair):
    a, b, _ = pair
    if np.mean((a - b) ** 2) == 0:     # equal images, or differences whose squares underflow
        assert psnr(a, b, data_range=1.0) == np.inf     # (scikit-image divides by zero there)
        return
    expected = skimage_metrics.peak_signal_noise_ratio(a, b, data_range=1.0)
    assert psnr(a, b, data_range=1.0) == pytest.approx(expected, rel=1e-12)


def test_integer_images_take_their_dtype_range_and_floats_need_one():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (20, 20)).astype(np.uint8)
    b = rng.integers(0, 256, (20, 20)).astype(np.uint8)
    assert ssim(a, b) == pytest.approx(_sk_ssim(a, b, None), abs=1e-6)
    assert psnr(a, b) == pytest.approx(skimage_metrics.peak_signal_noise_ratio(a, b), rel=1e-12)
    with pytest.raises(ValueError, match="data_range"):
        ssim(a.astype(np.float32), b.astype(np.float32))
    with pytest.raises(ValueError, match="data_range"):
        psnr(a / 255.0, b / 255.0)


def test_batches_tensors_and_devices_give_one_value_per_image():
    rng = np.random.default_rng(2)
    x = rng.random((4, 3, 16, 16))
    y = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1)
    per_image = ssim(x, y, data_range=1.0)
    assert per_image.shape == (4,)
    for i in range(4):
        assert per_image[i] == pytest.approx(_sk_ssim(x[i], y[i], 1.0, 0), abs=1e-6)
        assert psnr(x, y, 1.0)[i] == pytest.approx(psnr(x[i], y[i], 1.0), rel=1e-12)
    on_device = ssim(tg.tensor(x, device="test"), tg.tensor(y, device="test"), data_range=1.0)
    np.testing.assert_allclose(np.asarray(on_device), per_image, rtol=1e-12)
    with pytest.raises(ValueError, match="channel_axis"):
        ssim(x[0], y[0], data_range=1.0)                         # (C, H, W) needs channel_axis=0
    with pytest.raises(ValueError, match="different shapes"):
        ssim(x[0, 0], y[0, 0, :8], data_range=1.0)


def test_ms_ssim():
    rng = np.random.default_rng(3)
    x = rng.random((2, 1, 180, 180))
    noisy = np.clip(x + 0.2 * rng.standard_normal(x.shape), 0, 1)
    noisier = np.clip(x + 0.5 * rng.standard_normal(x.shape), 0, 1)
    np.testing.assert_allclose(ms_ssim(x, x, data_range=1.0), 1.0, atol=1e-12)
    a, b = ms_ssim(x, noisy, data_range=1.0), ms_ssim(x, noisier, data_range=1.0)
    assert np.all(a < 1) and np.all(b < a)
    # one scale is SSIM itself
    np.testing.assert_allclose(ms_ssim(x, noisy, data_range=1.0, weights=(1.0,)),
                               ssim(x, noisy, data_range=1.0), rtol=1e-12)
    with pytest.raises(ValueError, match="at least 176 pixels"):
        ms_ssim(x[:, :, :100, :100], x[:, :, :100, :100], data_range=1.0)
