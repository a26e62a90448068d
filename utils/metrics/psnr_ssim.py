"""PSNR-l, PSNR-mu, SSIM-l, SSIM-mu exactly as the official test computes them (evaluation.md, Sec. 2).

Each takes float (3, H, W) NumPy arrays of linear HDR (prediction, label) and returns a Python float.
"""

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio

from ..tonemap import mu_law

SSIM_WINDOW, SSIM_SIGMA, SSIM_CROP = 11, 1.5, 5  # MATLAB-style SSIM of Wang et al. 2004
SSIM_C1, SSIM_C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def psnr(pred: np.ndarray, label: np.ndarray) -> float:
    """10 log10(1 / MSE) with peak 1, MSE over all values in float64; inf for identical images."""
    if np.array_equal(pred, label):
        return float("inf")
    return float(peak_signal_noise_ratio(label, pred, data_range=1.0))


def ssim(x: np.ndarray, y: np.ndarray) -> float:
    """Gaussian 11x11 (sigma 1.5) SSIM on [0, 255] HWC images, 5-pixel valid crop, mean over channels."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    k = cv2.getGaussianKernel(SSIM_WINDOW, SSIM_SIGMA)
    window = np.outer(k, k.transpose())
    c = SSIM_CROP

    def blur(img: np.ndarray) -> np.ndarray:
        return cv2.filter2D(img, -1, window)[c:-c, c:-c]

    mu_x, mu_y = blur(x), blur(y)
    var_x, var_y, cov = blur(x * x) - mu_x**2, blur(y * y) - mu_y**2, blur(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + SSIM_C1) * (2 * cov + SSIM_C2)) / (
        (mu_x**2 + mu_y**2 + SSIM_C1) * (var_x + var_y + SSIM_C2)
    )
    return float(ssim_map.mean())


def _to_255(img: np.ndarray) -> np.ndarray:
    """(3, H, W) in [0, 1] -> clip(img * 255, 0, 255) as (H, W, 3), in the input's precision."""
    return np.clip(img * 255, 0, 255).transpose(1, 2, 0)


def psnr_l(pred: np.ndarray, label: np.ndarray) -> float:
    """PSNR on linear values (label not clipped)."""
    return psnr(pred, label)


def psnr_mu(pred: np.ndarray, label: np.ndarray) -> float:
    """PSNR after the mu-law tone map."""
    return psnr(mu_law(pred), mu_law(label))


def ssim_l(pred: np.ndarray, label: np.ndarray) -> float:
    """SSIM on clip(x * 255, 0, 255) of the linear values."""
    return ssim(_to_255(pred), _to_255(label))


def ssim_mu(pred: np.ndarray, label: np.ndarray) -> float:
    """SSIM on clip(tau(x) * 255, 0, 255)."""
    return ssim(_to_255(mu_law(pred)), _to_255(mu_law(label)))


METRICS = {"psnr_mu": psnr_mu, "psnr_l": psnr_l, "ssim_mu": ssim_mu, "ssim_l": ssim_l}


def all_metrics(pred: np.ndarray, label: np.ndarray) -> dict[str, float]:
    """The four metrics of the paper's tables, in the paper's column order."""
    return {name: fn(pred, label) for name, fn in METRICS.items()}
