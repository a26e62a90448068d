"""Radiance maps that synthetic scenes are cut from, and the five held out for the bundled sample scenes.

No radiance map held out here appears in a training set made by ``python -m datasets.synthesize`` from the
shared folder, so the demo checkpoint is scored on unseen content.
"""

from functools import lru_cache
from pathlib import Path

import numpy as np

from utils.errors import ImageIOError
from utils.hdr_io import HDR_EXTENSIONS, read_hdr

DEFAULT_SOURCES = Path(__file__).resolve().parents[2] / "shared" / "data" / "hdr-radiance"
HELD_OUT = (  # relative to DEFAULT_SOURCES
    "openexr-images/ScanLines/Desk.exr",
    "pfstools-gallery/mpi_atrium_3.hdr",
    "polyhaven-3d-demo-data/hdri/chinese_garden_1k.hdr",
    "polyhaven-3d-demo-data/hdri/st_peters_square_night_1k.hdr",
    "polyhaven-drei-assets/hdri/venice_sunset_1k.hdr",
)


def is_held_out(path: Path) -> bool:
    """True for a radiance map reserved for the sample scenes."""
    return any(path.as_posix().endswith(rel) for rel in HELD_OUT)


def find_sources(paths: list[Path]) -> list[Path]:
    """.hdr/.exr files among the given files and folders (recursively), sorted."""
    found = []
    for p in paths:
        if p.is_dir():
            found += [f for f in p.rglob("*") if f.suffix.lower() in HDR_EXTENSIONS]
        elif p.suffix.lower() in HDR_EXTENSIONS:
            found.append(p)
        else:
            raise ImageIOError(f"{p}: not a folder or an .hdr/.exr file")
    return sorted(set(found))


def training_sources() -> list[Path]:
    """The shared radiance maps (if that folder is present) without those held out for the sample scenes."""
    shared = find_sources([DEFAULT_SOURCES]) if DEFAULT_SOURCES.is_dir() else []
    return [path for path in shared if not is_held_out(path)]


@lru_cache(maxsize=8)
def load_radiance(path: Path) -> np.ndarray:
    """A source radiance map, float32 RGB, negatives and non-finite values set to 0."""
    img = read_hdr(path)
    return np.where(np.isfinite(img) & (img > 0), img, 0).astype(np.float32)
