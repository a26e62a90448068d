"""The numerical building blocks HDR-VDP takes from MATLAB, with MATLAB's exact behaviour: bicubic
``imresize`` with antialiasing, linear ``interp1`` (extrapolating where ``pointOp`` does), ``conv2 'same'``
with a 3x3 box, FFT convolution with post-padding, and the frequency image of ``create_cycdeg_image``.

Arrays are float64 NumPy, (H, W); sizes are (rows, columns) as in MATLAB.
"""

import numpy as np
from scipy import fft

CUBIC_WIDTH = 4.0  # support of MATLAB's bicubic kernel


def cubic(x: np.ndarray) -> np.ndarray:
    """MATLAB's bicubic interpolation kernel (Keys, a = -0.5)."""
    ax = np.abs(x)
    ax2, ax3 = ax**2, ax**3
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))


def resize_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix of imresize's bicubic weights along one axis: antialiased when shrinking,
    edges mirrored (symmetric padding), each row normalised to sum 1."""
    scale = n_out / n_in
    width = CUBIC_WIDTH / scale if scale < 1 else CUBIC_WIDTH

    def kernel(x: np.ndarray) -> np.ndarray:
        return scale * cubic(scale * x) if scale < 1 else cubic(x)

    x = np.arange(1, n_out + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(np.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]
    w = kernel(u[:, None] - idx)
    w /= w.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(n_in), np.arange(n_in - 1, -1, -1)])  # 1..n, n..1 in MATLAB
    cols = mirror[np.mod(idx.astype(np.int64) - 1, 2 * n_in)]
    out = np.zeros((n_out, n_in))
    np.add.at(out, (np.repeat(np.arange(n_out), taps), cols.ravel()), w.ravel())
    return out


def imresize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``imresize(img, [rows cols])`` (bicubic, antialiasing): the dimension with the smaller scale first."""
    rows, cols = size
    if (rows, cols) == img.shape:
        return img.astype(np.float64, copy=True)
    wr, wc = resize_weights(img.shape[0], rows), resize_weights(img.shape[1], cols)
    if rows / img.shape[0] <= cols / img.shape[1]:
        return (wr @ img) @ wc.T
    return wr @ (img @ wc.T)


def interp1(x: np.ndarray, y: np.ndarray, xi: np.ndarray | float) -> np.ndarray:
    """Linear ``interp1(x, y, xi)`` for increasing or decreasing ``x``; points outside are extrapolated
    from the end segments (``'extrap'``, what pointOp does; callers clamp where MATLAB would give NaN)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x[0] > x[-1]:
        x, y = x[::-1], y[::-1]
    xi = np.asarray(xi, np.float64)
    k = np.clip(np.searchsorted(x, xi, side="right") - 1, 0, len(x) - 2)
    t = (xi - x[k]) / (x[k + 1] - x[k])
    return y[k] + t * (y[k + 1] - y[k])


def linspace(start: float, stop: float, n: int) -> np.ndarray:
    """MATLAB's ``linspace`` (the last point exactly ``stop``)."""
    return np.linspace(start, stop, n)


def logspace(a: float, b: float, n: int) -> np.ndarray:
    """MATLAB's ``logspace(a, b, n)`` = 10 .^ linspace(a, b, n)."""
    return 10.0 ** linspace(a, b, n)


def box3_same(img: np.ndarray) -> np.ndarray:
    """``conv2(img, ones(3) / 9, 'same')``: a 3x3 mean with zeros outside the image, summed directly (a
    running sum could leave tiny negatives where the masking model takes fractional powers)."""
    h, w = img.shape
    padded = np.pad(img / 9, 1)
    return sum(padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3))


def fast_conv_fft(img: np.ndarray, filt: np.ndarray, pad_value: float) -> np.ndarray:
    """Convolve ``img`` with a filter given in the frequency domain (``filt``, the padded size, real and
    symmetric): pad with ``pad_value`` after the image, multiply the spectra, crop back."""
    h, w = img.shape
    padded = np.full(filt.shape, pad_value, dtype=np.float64)
    padded[:h, :w] = img
    half = filt[:, : filt.shape[1] // 2 + 1]  # real input: the non-negative column frequencies suffice
    out = fft.irfft2(fft.rfft2(padded, workers=-1) * half, s=filt.shape, workers=-1)
    return out[:h, :w]


def cycdeg_image(size: tuple[int, int], pix_per_deg: float) -> np.ndarray:
    """``create_cycdeg_image``: the spatial frequency (cycles per degree) of each FFT coefficient of an
    image of ``size``, in FFT order."""
    nyquist = 0.5 * pix_per_deg

    def axis(n: int) -> np.ndarray:
        half = n // 2
        step = nyquist / half
        if n % 2:
            return np.concatenate([linspace(0, nyquist, half + 1), linspace(-nyquist, -step, half)])
        return np.concatenate([linspace(0, nyquist - step, half), linspace(-nyquist, -step, half)])

    yy, xx = axis(size[0]), axis(size[1])
    return np.sqrt(xx[None, :] ** 2 + yy[:, None] ** 2)


def trapz(x: np.ndarray, y: np.ndarray) -> float:
    """``trapz(x, y)``."""
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))


def cumtrapz(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``cumtrapz(x, y)``, starting at 0."""
    return np.concatenate([[0.0], np.cumsum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2)])
