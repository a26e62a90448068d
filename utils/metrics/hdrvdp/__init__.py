"""HDR-VDP-2 (version 2.2.1), equal to the reference MATLAB implementation: ``hdrvdp(test, reference,
color_encoding, pixels_per_degree, **options)`` and ``pix_per_deg(diagonal_in, resolution_wh, distance_m)``."""

from .metric import ENCODINGS, hdrvdp
from .parameters import Parameters, pix_per_deg

__all__ = ["ENCODINGS", "Parameters", "hdrvdp", "pix_per_deg"]
