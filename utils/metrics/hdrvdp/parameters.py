"""The calibrated parameters of HDR-VDP 2.2.1 (``hdrvdp_parse_options.m``) and the viewing geometry."""

import math
from dataclasses import dataclass, field, fields

import numpy as np

DALY_PEAK_CONTRAST_SENS = 0.006894596
# Which bands of D the detection maps P_map/C_map (so P_det, C_max) are reconstructed from. matlabPyrTools'
# reconSpyr.m/reconSpyrLevs.m pick the MEX call upConv(..., res), which adds each band into res in place,
# with `strcmp(finfo.file((end-2):end), '.m')`: three characters against two, never true. With the MEX files
# that HDR-VDP 2.2.1 ships (MATLAB on Linux, Windows, Intel macOS) every band is added ("all"); with the .m
# fallback (Octave, or no MEX for the platform) the call's result is dropped and only the low-pass band
# remains ("lowpass"). Q is pooled from the bands before this reconstruction and does not depend on it.
MAP_BANDS = {"all": "all", "lowpass": ["residual_lowpass"]}  # the pyrtools levels each reconstructs


@dataclass
class Parameters:
    """Every option of the reference that changes results, with its default value. ``peak_sensitivity``
    (log10 of the absolute sensitivity) sets ``sensitivity_correction`` as the reference does."""

    pix_per_deg: float = 30.0
    sensitivity_correction: float = DALY_PEAK_CONTRAST_SENS / 10.0**-2.4
    do_masking: bool = True
    do_mtf: bool = True
    do_spatial_pooling: bool = True
    surround_l: float | list[float] = 1e-5  # -1: the reference image's geometric mean per channel
    rgb_display: str = "ccfl-lcd"  # emission spectra of the display: ccfl-lcd, led-lcd or crt
    map_bands: str = "all"  # P_map/C_map from every band (MATLAB with the MEX files); "lowpass": the .m fallback
    mask_p: float = 0.544068
    mask_self: float = 0.189065
    mask_xo: float = 0.449199
    mask_xn: float = 1.52512
    mask_q: float = 0.49576
    psych_func_slope: float = math.log10(3.5)
    rod_sensitivity: float = 0.0
    csf_params: np.ndarray = field(default_factory=lambda: np.array([
        [0.0160737, 0.991265, 3.74038, 0.50722, 4.46044],
        [0.383873, 0.800889, 3.54104, 0.682505, 4.94958],
        [0.929301, 0.476505, 4.37453, 0.750315, 5.28678],
        [1.29776, 0.405782, 4.40602, 0.935314, 5.61425],
        [1.49222, 0.334278, 3.79542, 1.07327, 6.4635],
        [1.46213, 0.394533, 2.7755, 1.16577, 7.45665]]))  # fmt: skip
    csf_lums: np.ndarray = field(default_factory=lambda: np.array([0.002, 0.02, 0.2, 2, 20, 150]))
    csf_sa: np.ndarray = field(default_factory=lambda: np.array([30.162, 4.0627, 1.6596, 0.2712]))
    csf_sr_par: np.ndarray = field(default_factory=lambda: np.array([1.1732, 1.1478, 1.2167, 0.5547, 2.9899, 1.1414]))
    mtf_params_a: np.ndarray = field(default_factory=lambda: mtf_weights(0.061466549455263, 0.99727370023777070))
    mtf_params_b: np.ndarray = field(default_factory=lambda: np.array([0.028, 0.37, 37, 360]))
    quality_band_freq: np.ndarray = field(default_factory=lambda: np.array(
        [60, 30, 15, 7.5, 3.75, 1.875, 0.9375, 0.4688, 0.2344, 0.1172]))  # fmt: skip
    quality_band_w: np.ndarray = field(default_factory=lambda: np.array(
        [0, 0.2832, 0.2832, 0.2142, 0.2690, 0.0398, 0.0003, 0.0003, 0, 0]))  # fmt: skip

    @classmethod
    def with_options(cls, pix_per_deg: float, **options: object) -> "Parameters":
        """Defaults with the reference's named options replaced; an unknown name is a ValueError
        (the reference silently ignores misspelled options)."""
        known = {f.name for f in fields(cls)}
        if "peak_sensitivity" in options:
            options["sensitivity_correction"] = DALY_PEAK_CONTRAST_SENS / 10.0 ** -float(
                options.pop("peak_sensitivity")
            )
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"unknown HDR-VDP option(s) {unknown}; known: {sorted(known | {'peak_sensitivity'})}")
        if options.get("map_bands", "all") not in MAP_BANDS:
            raise ValueError(f"map_bands must be one of {', '.join(MAP_BANDS)}, got {options['map_bands']!r}")
        return cls(pix_per_deg=float(pix_per_deg), **options)


def mtf_weights(p1: float, p2: float) -> np.ndarray:
    """The four weights of the eye's MTF from its older two-parameter form."""
    return np.array([p2 * 0.426, p2 * 0.574, (1 - p2) * p1, (1 - p2) * (1 - p1)])


def pix_per_deg(diagonal_in: float, resolution_wh: tuple[int, int], distance_m: float) -> float:
    """Pixels per visual degree of a display (``hdrvdp_pix_per_deg``): its diagonal in inches, its
    resolution (width, height) in pixels and the viewing distance in metres."""
    aspect = resolution_wh[0] / resolution_wh[1]
    height_mm = math.sqrt((diagonal_in * 25.4) ** 2 / (1 + aspect**2))
    height_deg = 2 * math.degrees(math.atan(0.5 * height_mm / (distance_m * 1000)))
    return resolution_wh[1] / height_deg
