"""The visual pathway of HDR-VDP 2.2.1 (``hdrvdp_visual_pathway.m``): optics, photoreceptors, the
JND-scaled response, its steerable pyramid and the CSF on the base band."""

from dataclasses import dataclass

import numpy as np
import pyrtools as pt

from .matlab import cycdeg_image, fast_conv_fft, interp1
from .optics import channels_to_lmsr, jnd_spaces, mtf, ncsf
from .parameters import Parameters

STEERABLE_ORDER = 3  # the sp3Filters of matlabPyrTools: four orientations


@dataclass
class Bands:
    """A steerable pyramid as HDR-VDP indexes it: band b (0 = high-pass, last = low-pass) holds
    ``orientations[b]`` images; ``freq[b]`` is its peak frequency in cycles per degree."""

    pyramid: pt.pyramids.SteerablePyramidSpace
    freq: np.ndarray

    @property
    def count(self) -> int:
        return len(self.freq)

    def keys(self, b: int) -> list:
        if b == 0:
            return ["residual_highpass"]
        if b == self.count - 1:
            return ["residual_lowpass"]
        return [(b - 1, o) for o in range(self.pyramid.num_orientations)]

    def band(self, b: int, o: int) -> np.ndarray:
        """Orientation ``o`` of band ``b``; bands with one image give it for every ``o``."""
        keys = self.keys(b)
        return self.pyramid.pyr_coeffs[keys[min(o, len(keys) - 1)]]


def optics(img: np.ndarray, par: Parameters, surround: np.ndarray) -> np.ndarray:
    """Light on the retina: each channel blurred by the eye's MTF (FFT at twice the size, the surround
    luminance outside the image), clamped to [1e-5, 1e10]."""
    if not par.do_mtf:
        return img.copy()
    h, w = img.shape[:2]
    mtf_filter = mtf(cycdeg_image((2 * h, 2 * w), par.pix_per_deg), par)
    return np.stack([np.clip(fast_conv_fft(img[:, :, k], mtf_filter, surround[k]), 1e-5, 1e10)
                     for k in range(img.shape[2])], axis=2)  # fmt: skip


def photoreceptor_response(lmsr: np.ndarray, par: Parameters) -> np.ndarray:
    """Cone (L + M) and rod responses in JND units, each made zero-mean, summed: (H, W)."""
    spaces = jnd_spaces(par)
    responses = []
    for k, kind in ((0, "cone"), (1, "cone"), (3, "rod")):
        log_y, jnd = spaces[kind]
        clamped = np.clip(lmsr[:, :, k], 10.0 ** log_y[0], 10.0 ** log_y[-1])
        grid = log_y[0] + (log_y[1] - log_y[0]) * np.arange(log_y.size)  # pointOp's lookup table
        responses.append(interp1(grid, jnd, np.log10(clamped)))
    cones = responses[0] + responses[1]
    return (cones - cones.mean()) + (responses[2] - responses[2].mean())


def visual_pathway(img: np.ndarray, par: Parameters, surround: np.ndarray, emission: np.ndarray,
                   base_pad: float | None = None) -> tuple[Bands, np.ndarray, float]:  # fmt: skip
    """One image (H, W, C) in cd/m^2 -> (its bands, adaptation luminance (H, W), the base band's pad value).

    ``base_pad`` is the reference's base-band mean, which the test image's CSF filtering reuses; None for
    the reference itself.
    """
    img = np.where(np.isnan(img), 1e-5, img)
    retina = optics(img, par, surround)
    h, w, c = retina.shape
    lmsr = (retina.reshape(-1, c) @ channels_to_lmsr(emission)).reshape(h, w, 4)
    l_adapt = lmsr[:, :, 0] + lmsr[:, :, 1]
    pyramid = pt.pyramids.SteerablePyramidSpace(
        photoreceptor_response(lmsr, par), height="auto", order=STEERABLE_ORDER, edge_type="reflect1"
    )
    freq = 2.0 ** -np.arange(pyramid.num_scales + 2) * par.pix_per_deg / 2
    base = pyramid.pyr_coeffs["residual_lowpass"]
    base_pad = float(base.mean()) if base_pad is None else base_pad
    rho = cycdeg_image((2 * base.shape[0], 2 * base.shape[1]), freq[-1] * 2 * np.sqrt(2))
    pyramid.pyr_coeffs["residual_lowpass"] = fast_conv_fft(base, ncsf(rho, l_adapt.mean(), par), base_pad)
    return Bands(pyramid, freq), l_adapt, base_pad
