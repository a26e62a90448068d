"""HDR-VDP 2.2.1 (Mantiuk et al., SIGGRAPH 2011) as ``hdrvdp.m`` computes it: colour encoding, the visual
pathway of both images, contrast masking per band, the quality correlate Q and the detection maps."""

import copy
from typing import Any

import numpy as np

from .matlab import box3_same, imresize, interp1, logspace
from .optics import display_emission, ncsf
from .parameters import MAP_BANDS, Parameters
from .pathway import Bands, visual_pathway

ENCODINGS = ("sRGB-display", "rgb-bt.709", "luminance", "luma-display", "XYZ")
CHANNELS = {"srgb-display": 3, "rgb-bt.709": 3, "luminance": 1, "luma-display": 1, "xyz": 3}
XYZ_TO_RGB = np.array([[3.240708, -1.537259, -0.498570], [-0.969257, 1.875995, 0.041555],
                       [0.055636, -0.203996, 1.057069]])  # fmt: skip
EPSILON = 1e-12


def display_model_srgb(srgb: np.ndarray) -> np.ndarray:
    """sRGB pixel values -> luminance of a 100 cd/m^2 display with a 1 cd/m^2 black level."""
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    return 99 * linear + 1


def encode(img: np.ndarray, encoding: str) -> np.ndarray:
    """Input values -> absolute photometric units (cd/m^2) for the colour encoding, (H, W, C) float64."""
    img = np.asarray(img, np.float64)
    if img.ndim == 2:
        img = img[:, :, None]
    key = encoding.lower()
    if key not in CHANNELS:
        raise ValueError(f"unknown colour encoding {encoding!r}; use one of {', '.join(ENCODINGS)}")
    if img.shape[2] != CHANNELS[key]:
        raise ValueError(f"{encoding!r} needs {CHANNELS[key]} channel(s), got {img.shape[2]}")
    if key == "srgb-display":
        return display_model_srgb(img)
    if key == "luma-display":
        return 99 * img**2.2 + 1
    if key == "xyz":
        return img @ XYZ_TO_RGB.T
    return img


def sign_pow(x: np.ndarray, e: float) -> np.ndarray:
    return np.sign(x) * np.abs(x) ** e


def msre(x: np.ndarray) -> float:
    """Root of the summed squares over the number of elements."""
    return float(np.sqrt(np.sum(x**2)) / x.size)


def surround_luminance(reference: np.ndarray, surround_l: float | list[float]) -> np.ndarray:
    """The surround per channel: the option's value, or (-1) the reference's geometric mean."""
    if np.isscalar(surround_l) and surround_l == -1:
        return np.exp(np.log(reference.reshape(-1, reference.shape[2])).mean(axis=0))
    return np.broadcast_to(np.asarray(surround_l, np.float64), (reference.shape[2],))


def hdrvdp(test: np.ndarray, reference: np.ndarray, color_encoding: str, pixels_per_degree: float,
           **options: Any) -> dict[str, Any]:  # fmt: skip
    """HDR-VDP-2 of ``test`` against ``reference`` ((H, W, 3) or (H, W)), in MATLAB's argument order.

    Returns Q (quality, 100 = identical), P_det (probability of detection), C_max (maximum threshold-
    normalised contrast) and the maps P_map, C_map (H, W). ``options`` are the reference's names
    (surround_l, rgb_display, peak_sensitivity, mask_p, ...; see ``Parameters``).
    """
    par = Parameters.with_options(pixels_per_degree, **options)
    test, reference = encode(test, color_encoding), encode(reference, color_encoding)
    if test.shape != reference.shape:
        raise ValueError(f"test {test.shape[:2]} and reference {reference.shape[:2]} differ in size")
    surround = surround_luminance(reference, par.surround_l)
    emission = display_emission(test.shape[2], par.rgb_display)
    bands_r, adapt_r, base_pad = visual_pathway(reference, par, surround, emission)
    bands_t, adapt_t, _ = visual_pathway(test, par, surround, emission, base_pad)
    with np.errstate(divide="ignore", invalid="ignore"):
        diff_mask = np.any(np.abs(test - reference) / reference > 0.001, axis=2).astype(np.float64)
    q, d_bands = masked_differences(bands_t, bands_r, (adapt_t + adapt_r) / 2, diff_mask, par)
    s_map = np.abs(d_bands.pyramid.recon_pyr(levels=MAP_BANDS[par.map_bands]))
    if par.do_spatial_pooling:
        s_map = s_map.sum() / (s_map.max() + EPSILON) * s_map
    p_map = 1 - np.exp(np.log(0.5) * s_map)
    return {"Q": 100 - q, "P_det": float(p_map.max()), "C_max": float(s_map.max()), "P_map": p_map, "C_map": s_map}


def masked_differences(bands_t: Bands, bands_r: Bands, l_adapt: np.ndarray, diff_mask: np.ndarray,
                       par: Parameters) -> tuple[float, Bands]:  # fmt: skip
    """Per band and orientation: the difference normalised by the CSF and by contrast masking (self,
    across orientations, across neighbouring bands); its Q term. -> (sum of Q terms, the bands of D)."""
    csf_la = logspace(-5, 5, 256)
    csf_log_la = np.log10(csf_la)
    log_la = np.log10(np.clip(l_adapt, csf_la[0], csf_la[-1]))
    p, q = 10.0**par.mask_p, 10.0**par.mask_q
    pf = 10.0**par.psych_func_slope / p
    k_self, k_xo, k_xn = 10.0**par.mask_self, 10.0**par.mask_xo, 10.0**par.mask_xn
    n_bands = bands_t.count
    mutual = [[box3_same(np.minimum(np.abs(bands_t.band(b, o)), np.abs(bands_r.band(b, o))))
               for o in range(len(bands_t.keys(b)))] for b in range(n_bands)]  # fmt: skip

    def mutual_masking(b: int, o: int) -> np.ndarray:
        return mutual[b][min(o, len(mutual[b]) - 1)]

    out = Bands(copy.copy(bands_t.pyramid), bands_t.freq)
    out.pyramid.pyr_coeffs = dict(bands_t.pyramid.pyr_coeffs)
    total = 0.0
    for b in range(n_bands):
        keys = bands_t.keys(b)
        shape = bands_t.band(b, 0).shape
        mask_xo = sum(mutual[b])
        log_la_b = np.clip(imresize(log_la, shape), csf_log_la[0], csf_log_la[-1])
        csf_b = interp1(csf_log_la, ncsf(bands_t.freq[b], csf_la, par), log_la_b)
        band_norm = 2.0**b
        n_ncsf = 1.0 if b == n_bands - 1 else 1 / csf_b
        w_f = interp1(par.quality_band_freq, par.quality_band_w,
                      np.clip(bands_t.freq[b], par.quality_band_freq[-1], par.quality_band_freq[0]))  # fmt: skip
        diff_mask_b = imresize(diff_mask, shape)
        for o, key in enumerate(keys):
            ex_diff = sign_pow((bands_t.band(b, o) - bands_r.band(b, o)) / band_norm, p) * band_norm
            if par.do_masking:
                self_mask = mutual_masking(b, o)
                mask_xn = np.zeros(shape)
                if b > 0:
                    mask_xn = np.maximum(imresize(mutual_masking(b - 1, o), shape), 0) / (band_norm / 2)
                if b < n_bands - 2:
                    mask_xn = mask_xn + np.maximum(imresize(mutual_masking(b + 1, o), shape), 0) / (band_norm * 2)
                band_mask_xo = np.maximum(mask_xo - self_mask, 0)
                n_mask = band_norm * (k_self * (self_mask / n_ncsf / band_norm) ** q
                                      + k_xo * (band_mask_xo / n_ncsf / band_norm) ** q
                                      + k_xn * (mask_xn / n_ncsf) ** q)  # fmt: skip
                d = ex_diff / np.sqrt(n_ncsf ** (2 * p) + n_mask**2)
            else:
                d = ex_diff / n_ncsf**p
            out.pyramid.pyr_coeffs[key] = sign_pow(d / band_norm, pf) * band_norm
            total += (np.log(msre(d * diff_mask_b) + EPSILON) - np.log(EPSILON)) * float(w_f)
    return total, out
