"""One scene folder -> three LDR exposures, their exposure times and the optional HDR label."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.errors import DatasetError, ImageIOError
from utils.hdr_io import LDR_EXTENSIONS, read_hdr, read_ldr

from .layouts import Layout

N_EXPOSURES = 3
MAX_EV = 64  # beyond this no camera, and 2**EV leaves float range near 1024


@dataclass
class Scene:
    """A decoded scene. ldrs: (3, H, W, 3) float32 RGB, short to long; exposure_times: (3,) = 2**EV;
    label: (H, W, 3) float32 linear RGB, or None for scenes without ground truth."""

    name: str
    ldrs: np.ndarray
    exposure_times: np.ndarray
    label: np.ndarray | None


def list_scenes(root: str | Path) -> list[Path]:
    """Scene folders of a split, sorted by name; files and hidden entries (e.g. .DS_Store) skipped."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found")
    scenes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not scenes:
        raise DatasetError(f"{root}: no scene folders found")
    return scenes


def read_exposure_times(path: Path) -> np.ndarray:
    """Exposure file -> t_i = 2**EV_i. Three numbers (EV stops), one per line, LF or CRLF."""
    if not path.is_file():
        raise DatasetError(f"{path.name}: exposure file not found")
    try:
        values = [float(tok) for tok in path.read_text().split()]
    except (ValueError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path.name}: malformed exposure file ({e})") from None
    if len(values) != N_EXPOSURES:
        raise DatasetError(f"{path.name}: expected {N_EXPOSURES} exposure values (EV stops), found {len(values)}")
    shown = " ".join(f"{v:g}" for v in values)
    if not all(np.isfinite(values)) or max(map(abs, values)) > MAX_EV:
        raise DatasetError(f"{path.name}: exposure values must be finite EV stops within ±{MAX_EV}, got {shown}")
    if not values[0] < values[1] < values[2]:
        raise DatasetError(f"{path.name}: exposures must increase with the image order (short, reference, long), "
                           f"got {shown}")  # fmt: skip
    return np.power(2.0, np.asarray(values, dtype=np.float64))


def find_ldr_files(folder: Path, prefix: str) -> list[Path]:
    """The exposures of a scene: files named <prefix>* with an image extension, in sorted order."""
    return sorted(p for p in folder.iterdir() if p.name.startswith(prefix) and p.suffix.lower() in LDR_EXTENSIONS)


def read_scene(folder: str | Path, layout: Layout, require_label: bool = True) -> Scene:
    """Decode one scene folder; raise DatasetError('scene <folder>: <file>: <problem>') on bad input."""
    folder = Path(folder)
    try:
        return _read_scene(folder, layout, require_label)
    except (DatasetError, ImageIOError) as e:
        raise DatasetError(f"scene {folder}: {e}") from None


def _read_scene(folder: Path, layout: Layout, require_label: bool) -> Scene:
    if not folder.is_dir():
        raise DatasetError("scene folder not found")
    files = find_ldr_files(folder, layout.ldr_prefix)
    if len(files) != N_EXPOSURES:
        names = ", ".join(p.name for p in files) or "none"
        raise DatasetError(f"{layout.ldr_prefix}*: expected {N_EXPOSURES} LDR images, found {len(files)} ({names})")
    ldrs = [read_ldr(p) for p in files]
    for p, ldr in zip(files[1:], ldrs[1:]):
        if ldr.shape != ldrs[0].shape:
            raise DatasetError(f"{p.name}: size {ldr.shape[1]}x{ldr.shape[0]} differs from {files[0].name}'s "
                               f"{ldrs[0].shape[1]}x{ldrs[0].shape[0]}")  # fmt: skip
    times = read_exposure_times(folder / layout.exposure_file_name)
    label_path = folder / layout.label_file_name
    label = None
    if label_path.exists():
        label = read_hdr(label_path)
        if label.shape != ldrs[0].shape:
            raise DatasetError(f"{label_path.name}: label size {label.shape[1]}x{label.shape[0]} differs from the "
                               f"LDR size {ldrs[0].shape[1]}x{ldrs[0].shape[0]}")  # fmt: skip
        if not np.all(np.isfinite(label)):
            raise DatasetError(f"{label_path.name}: label contains NaN or Inf values")
    elif require_label:
        raise DatasetError(f"{label_path.name}: label file not found")
    return Scene(folder.name, np.stack(ldrs), times, label)
