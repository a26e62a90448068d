"""The HDR-VDP-2 recipes of the deghosting literature, and scoring saved Radiance/OpenEXR files with them.

Every recipe calls ``hdrvdp(prediction, label, 'sRGB-display', ppd)`` on the linear values as read from
the files (what MATLAB's ``hdrread`` gives); they differ in the display that sets ppd:

| recipe | display | distance | resolution for ppd | ppd at 1500x1000 |
|---|---|---|---|---|
| sctnet | 30 in | 0.55 m | 1500 x 1000 | 23.79 |
| default | 24 in | 0.50 m | the label's W x H | 26.76 |
| safnet | 28 in | 0.55 m | the label's W x H | 25.34 |
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from utils.errors import UserError
from utils.hdr_io import read_hdr

from .metric import hdrvdp
from .parameters import pix_per_deg

VERSION = "2.2.1"
COLOR_ENCODING = "sRGB-display"


@dataclass(frozen=True)
class Recipe:
    """A display model: diagonal in inches, viewing distance in metres, and a fixed resolution (W, H) or
    None for the label's own."""

    name: str
    diagonal_in: float
    distance_m: float
    resolution_wh: tuple[int, int] | None

    def ppd(self, label_hw: tuple[int, int]) -> float:
        """Pixels per degree for a label of ``label_hw`` = (H, W)."""
        return pix_per_deg(self.diagonal_in, self.resolution_wh or (label_hw[1], label_hw[0]), self.distance_m)

    def describe(self, ppd_override: float | None = None) -> dict[str, Any]:
        """What results.json records: the recipe, the HDR-VDP version and call, the display or the ppd."""
        where = (
            "the label's W x H" if self.resolution_wh is None else f"{self.resolution_wh[0]}x{self.resolution_wh[1]}"
        )
        display = f"{self.diagonal_in:g}-inch display at {self.distance_m:g} m, resolution {where}"
        return {"recipe": self.name, "hdrvdp_version": VERSION, "color_encoding": COLOR_ENCODING,
                "ppd": ppd_override if ppd_override else display,
                "call": f"hdrvdp(prediction, label, '{COLOR_ENCODING}', ppd)"}  # fmt: skip


RECIPES = {
    "sctnet": Recipe("sctnet", 30, 0.55, (1500, 1000)),
    "default": Recipe("default", 24, 0.5, None),
    "safnet": Recipe("safnet", 28, 0.55, None),
}


def check_image(img: np.ndarray, name: str) -> None:
    """One-line UserError for values HDR-VDP cannot score: NaN/Inf, negatives, not 3 channels."""
    if img.ndim != 3 or img.shape[2] != 3:
        raise UserError(f"{name}: {COLOR_ENCODING} needs 3 colour channels, got shape {img.shape}")
    if not np.all(np.isfinite(img)):
        raise UserError(f"{name}: contains NaN or Inf values")
    if np.any(img < 0):
        raise UserError(f"{name}: contains negative values ({img.min():.3g}); linear HDR must be >= 0")


def score(prediction: np.ndarray, label: np.ndarray, recipe: str = "sctnet", ppd: float | None = None,
          names: tuple[str, str] = ("prediction", "label")) -> float:  # fmt: skip
    """Q of a prediction against its label, (H, W, 3) linear RGB each, with a recipe (or an explicit ppd)."""
    check_image(prediction, names[0])
    check_image(label, names[1])
    if prediction.shape != label.shape:
        raise UserError(f"{names[0]}: size {prediction.shape[1]}x{prediction.shape[0]} differs from {names[1]}'s "
                        f"{label.shape[1]}x{label.shape[0]}")  # fmt: skip
    ppd = ppd or RECIPES[recipe].ppd(label.shape[:2])
    return float(hdrvdp(prediction, label, COLOR_ENCODING, ppd)["Q"])


def score_files(prediction: Path, label: Path, recipe: str = "sctnet", ppd: float | None = None) -> float:
    """Q of two .hdr/.exr files, as MATLAB's hdrread reads them."""
    return score(read_hdr(prediction), read_hdr(label), recipe, ppd, (str(prediction), str(label)))
