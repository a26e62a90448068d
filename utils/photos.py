"""Photos straight from a camera or phone: EXIF exposure data, orientation, and pixels in the network's
LDR domain (8-bit JPEG/PNG and 16-bit TIFF as the training data; camera RAW through rawpy).

Every failure is an ImageIOError naming the file and the problem in one line.
"""

from dataclasses import dataclass
from pathlib import Path

import exifread
import numpy as np

from .errors import ImageIOError
from .hdr_io import LDR_EXTENSIONS, read_ldr

RAW_EXTENSIONS = (
    ".dng",
    ".cr2",
    ".cr3",
    ".nef",
    ".nrw",
    ".arw",
    ".srw",
    ".orf",
    ".rw2",
    ".raf",
    ".pef",
    ".3fr",
    ".iiq",
)
PHOTO_EXTENSIONS = LDR_EXTENSIONS + RAW_EXTENSIONS
EXPOSURE_TAGS = ("ExposureTime", "FNumber", "ISOSpeedRatings")


@dataclass
class PhotoInfo:
    """What the EXIF says about one photo; None for a missing tag."""

    path: Path
    exposure_time: float | None
    f_number: float | None
    iso: float | None
    camera: str | None
    orientation: int

    @property
    def missing(self) -> list[str]:
        values = (self.exposure_time, self.f_number, self.iso)
        return [tag for tag, value in zip(EXPOSURE_TAGS, values) if value is None]

    @property
    def exposure(self) -> float | None:
        """Relative exposure t * ISO / N^2 (None when a tag is missing)."""
        if self.missing:
            return None
        return self.exposure_time * self.iso / self.f_number**2


def _number(tags: dict, name: str) -> float | None:
    tag = tags.get(f"EXIF {name}") or tags.get(f"Image {name}")
    if tag is None or not tag.values:
        return None
    value = tag.values[0]
    try:
        value = float(value.num) / float(value.den) if hasattr(value, "den") else float(value)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def read_info(path: str | Path) -> PhotoInfo:
    """EXIF exposure time, f-number, ISO, camera model and orientation of a photo (any format exifread
    reads: JPEG, TIFF and the TIFF-based RAW formats)."""
    path = Path(path)
    if not path.is_file():
        raise ImageIOError(f"{path}: file not found")
    with open(path, "rb") as f:
        try:
            tags = exifread.process_file(f, details=False)
        except Exception:  # noqa: BLE001 - a damaged EXIF block is as good as none
            tags = {}
    model = tags.get("Image Model")
    camera = " ".join(str(v).strip() for v in (tags.get("Image Make"), model) if v is not None) or None
    orientation = tags.get("Image Orientation")
    return PhotoInfo(path, _number(tags, "ExposureTime"), _number(tags, "FNumber"), _number(tags, "ISOSpeedRatings"),
                     camera, int(orientation.values[0]) if orientation else 1)  # fmt: skip


def apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """Turn pixels as stored into the image as it should be seen (EXIF orientation 1-8)."""
    if orientation in (2, 4, 5, 7):
        img = img[:, ::-1]
    turns = {3: 2, 4: 2, 5: 1, 6: 3, 7: 3, 8: 1}.get(orientation, 0)  # counter-clockwise quarter turns
    return np.ascontiguousarray(np.rot90(img, turns))


def read_photo(info: PhotoInfo, gamma: float) -> np.ndarray:
    """The photo as float32 RGB in [0, 1), orientation applied, in the network's LDR domain: JPEG/PNG
    codes / 256, 16-bit TIFF codes / 65536 (as the training data), RAW linear then gamma 1/``gamma``."""
    suffix = info.path.suffix.lower()
    if suffix in RAW_EXTENSIONS:
        img = read_raw(info.path, gamma)
    elif suffix in LDR_EXTENSIONS:
        img = read_ldr(info.path)
    else:
        raise ImageIOError(f"{info.path}: unsupported file type {suffix or '(none)'}; use "
                           f"{', '.join(e.lstrip('.') for e in PHOTO_EXTENSIONS)}")  # fmt: skip
    return apply_orientation(img, info.orientation)


def read_raw(path: Path, gamma: float) -> np.ndarray:
    """A camera RAW as linear 16-bit RGB (camera white balance, no auto-brightening), gamma-encoded with
    1/``gamma`` to match the network's input mapping; float32 in [0, 1). rawpy applies no orientation."""
    import rawpy

    try:
        with rawpy.imread(str(path)) as raw:
            rgb = raw.postprocess(gamma=(1, 1), no_auto_bright=True, use_camera_wb=True, output_bps=16,
                                  user_flip=0)  # fmt: skip
    except Exception as e:  # noqa: BLE001 - LibRaw's errors all mean the same to the user
        version = ".".join(map(str, rawpy.libraw_version))
        raise ImageIOError(f"{path}: LibRaw {version} (rawpy {rawpy.__version__}) cannot decode it "
                           f"({type(e).__name__}: {e})") from None  # fmt: skip
    linear = rgb.astype(np.float32) / np.float32(2**16)
    return np.power(linear, np.float32(1 / gamma))
