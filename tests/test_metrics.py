"""Metric functions against closed forms, scikit-image and OpenCV."""

import math

import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from utils.metrics import psnr_l, psnr_mu, ssim_l, ssim_mu
from utils.tonemap import MU, mu_law


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    label = (rng.random((3, 40, 52)) ** 2 * 1.3).astype(np.float32)  # some values above 1
    pred = np.clip(label + 0.03 * rng.standard_normal(label.shape), 0, 1).astype(np.float32)
    return pred, label


def test_identical_images():
    x = np.random.default_rng(1).random((3, 24, 24)).astype(np.float32)
    assert psnr_l(x, x) == math.inf and psnr_mu(x, x) == math.inf
    assert ssim_l(x, x) == pytest.approx(1.0, abs=1e-12) and ssim_mu(x, x) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("offset", [0.01, 0.1])
def test_constant_offset_closed_form(offset):
    label = np.full((3, 16, 16), 0.25, np.float32)
    pred = label + np.float32(offset)
    assert psnr_l(pred, label) == pytest.approx(-20 * math.log10(offset), abs=1e-4)
    d = math.log(1 + MU * (0.25 + offset)) / math.log(1 + MU) - math.log(1 + MU * 0.25) / math.log(1 + MU)
    assert psnr_mu(pred, label) == pytest.approx(-20 * math.log10(d), abs=1e-3)


def test_psnr_matches_scikit_image_and_keeps_labels_above_one(pair):
    pred, label = pair
    assert label.max() > 1
    assert psnr_l(pred, label) == pytest.approx(peak_signal_noise_ratio(label, pred, data_range=1.0), rel=1e-12)
    ref = peak_signal_noise_ratio(mu_law(label), mu_law(pred), data_range=1.0)
    assert psnr_mu(pred, label) == pytest.approx(ref, rel=1e-12)
    mse = np.mean((np.clip(pred, 0, 1).astype(np.float64) - np.clip(label, 0, 1)) ** 2)
    assert psnr_l(pred, label) != pytest.approx(10 * math.log10(1 / mse), rel=1e-4)  # label is not clipped


def test_ssim_matches_scikit_image_gaussian_ssim(pair):
    pred, label = pair

    def sk(a, b):
        a = np.clip(a * 255, 0, 255).transpose(1, 2, 0).astype(np.float64)
        b = np.clip(b * 255, 0, 255).transpose(1, 2, 0).astype(np.float64)
        return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=255, channel_axis=-1)  # fmt: skip

    assert ssim_l(pred, label) == pytest.approx(sk(pred, label), rel=1e-9)
    assert ssim_mu(pred, label) == pytest.approx(sk(mu_law(pred), mu_law(label)), rel=1e-9)
    assert 0.5 < ssim_l(pred, label) < 1


def test_ssim_matches_opencv_per_channel_formula(pair):
    """The official loop: OpenCV 2-D Gaussian filtering per channel, 5-px crop, mean of channels."""
    pred, label = pair
    k = cv2.getGaussianKernel(11, 1.5)
    w = k @ k.T
    vals = []
    for c in range(3):
        x = np.clip(pred[c] * 255, 0, 255).astype(np.float64)
        y = np.clip(label[c] * 255, 0, 255).astype(np.float64)
        f = lambda img: cv2.filter2D(img, -1, w)[5:-5, 5:-5]  # noqa: E731
        mx, my = f(x), f(y)
        sx, sy, sxy = f(x * x) - mx**2, f(y * y) - my**2, f(x * y) - mx * my
        c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
        vals.append((((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sx + sy + c2))).mean())
    assert ssim_l(pred, label) == pytest.approx(np.mean(vals), rel=1e-12)
