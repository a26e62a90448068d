"""The models of the eye HDR-VDP 2.2.1 builds on: spectral sensitivities of the photoreceptors, the
optical MTF, the rod and cone sensitivities and their JND spaces, and the neural CSF."""

from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.interpolate import PchipInterpolator

from .matlab import cumtrapz, interp1, linspace, logspace, trapz
from .parameters import Parameters

DATA = Path(__file__).resolve().parent / "data"
DISPLAYS = ("ccfl-lcd", "led-lcd", "crt")
LN10 = np.log(10.0)


@lru_cache(maxsize=16)
def spectral_response(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``load_spectral_resp``: (lambda, R) with lambda = linspace(360, 780, 420) nm and each column of the
    file interpolated with MATLAB's 'cubic' (PCHIP), 0 outside the measured range."""
    table = np.loadtxt(DATA / name, delimiter=",", ndmin=2)
    lam = linspace(360, 780, 420)  # the reference's grid: 420 points, so not quite 1 nm apart
    inside = (lam >= table[0, 0]) & (lam <= table[-1, 0])
    resp = np.zeros((lam.size, table.shape[1] - 1))
    for k in range(1, table.shape[1]):
        resp[inside, k - 1] = PchipInterpolator(table[:, 0], table[:, k])(lam[inside])
    return lam, resp


def display_emission(channels: int, rgb_display: str) -> np.ndarray:
    """Emission spectra of the image channels: the RGB display's, or D65 for one channel."""
    if channels == 3:
        if rgb_display not in DISPLAYS:
            raise ValueError(f"rgb_display must be one of {DISPLAYS}, got {rgb_display!r}")
        return spectral_response(f"emission_spectra_{rgb_display}.csv")[1]
    return spectral_response("d65.csv")[1].sum(axis=1, keepdims=True)


def photoreceptor_spectra() -> tuple[np.ndarray, np.ndarray]:
    """(lambda, LMSR): the L, M, S cone fundamentals (Smith & Pokorny 1975) and the rod (CIE scotopic)
    sensitivities, (420, 4)."""
    lam, log_lms = spectral_response("log_cone_smith_pokorny_1975.csv")
    log_lms = np.where(log_lms == 0, log_lms.min(), log_lms)
    rod = spectral_response("cie_scotopic_lum.txt")[1]
    return lam, np.concatenate([10.0**log_lms, rod], axis=1)


def channels_to_lmsr(emission: np.ndarray) -> np.ndarray:
    """(channels, 4) matrix from image channels to L, M, S and rod responses."""
    lam, lmsr = photoreceptor_spectra()
    return np.array([[trapz(lam, lmsr[:, k] * emission[:, c]) for k in range(4)] for c in range(emission.shape[1])])


def mtf(rho: np.ndarray, par: Parameters) -> np.ndarray:
    """Optical modulation transfer function of the eye at spatial frequency ``rho`` (cycles/degree)."""
    return sum(a * np.exp(-b * rho) for a, b in zip(par.mtf_params_a, par.mtf_params_b))


def joint_rod_cone_sensitivity(la: np.ndarray, par: Parameters) -> np.ndarray:
    """Sensitivity of rods and cones together at adaptation luminance ``la`` (the paper's p5-p8)."""
    s_peak, drop, trans_slope, low_slope = par.csf_sa
    return s_peak * ((drop / la) ** trans_slope + 1) ** -low_slope


def rod_sensitivity(la: np.ndarray, par: Parameters) -> np.ndarray:
    """Sensitivity of the rods at adaptation luminance ``la``."""
    peak_l, low_s, low_exp, high_s, high_exp, rod_sens = par.csf_sr_par
    dist = np.abs(np.log10(la / peak_l))
    s = np.where(la > peak_l, np.exp(-(dist**high_exp) / high_s), np.exp(-(dist**low_exp) / low_s))
    return s * 10.0**rod_sens


def jnd_spaces(par: Parameters) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``create_pn_jnd``: for cones and rods, (log10 luminance, JND-scaled response) over 1e-5..1e5 cd/m^2,
    the response scaled by the sensitivity correction."""
    c_l = logspace(-5, 5, 2048)
    s_a = joint_rod_cone_sensitivity(c_l, par)
    s_r = rod_sensitivity(c_l, par) * 10.0**par.rod_sensitivity
    s_c = 0.5 * interp1(c_l, np.maximum(s_a - s_r, 1e-3), np.minimum(c_l * 2, c_l[-1]))
    log_l = np.log10(c_l)
    return {name: (log_l, cumtrapz(log_l, s * LN10) * par.sensitivity_correction)
            for name, s in (("cone", s_c), ("rod", s_r))}  # fmt: skip


def ncsf(rho: np.ndarray | float, lum: np.ndarray | float, par: Parameters) -> np.ndarray:
    """Neural contrast sensitivity (``hdrvdp_ncsf``) at spatial frequency ``rho`` and luminance ``lum``;
    0 at rho = 0."""
    lum_lut = np.log10(par.csf_lums)
    log_lum = np.clip(np.log10(np.asarray(lum, np.float64)), lum_lut[0], lum_lut[-1])
    p1, p2, p3, p4 = (interp1(lum_lut, par.csf_params[:, k + 1], log_lum) for k in range(4))
    with np.errstate(divide="ignore"):
        return p4 / np.sqrt((1 + (p1 * rho) ** p2) / (1 - np.exp(-((rho / 7) ** 2))) ** p3)
