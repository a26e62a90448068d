"""Photos straight from a camera or phone: EXIF exposure data, orientation, and pixels in the network's
LDR domain (8-bit JPEG/PNG and 16-bit TIFF as the training data; camera RAW through rawpy).

Every failure is an ImageIOError naming the file and the problem in one line.
"""

import math
from dataclasses import dataclass
from fractions import Fraction
from numbers import Rational
from pathlib import Path

import exifread
import numpy as np

from .errors import ImageIOError
from .hdr_io import LDR_EXTENSIONS, read_ldr, require_image

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


def exif_number(values: object, several: bool = False) -> float | None:
    """One positive, finite number from an exifread tag's values, or None.

    exifread gives RATIONAL/SRATIONAL as a list of ``Ratio``, SHORT/LONG/BYTE as a list of ints,
    FLOAT/DOUBLE as a list of 1-tuples of a float and ASCII as a ``str`` (read here as ``"1/100"``,
    ``"0.01"`` or ``"8"``). Anything else, zero, negative, non-finite or more than one value is None;
    with ``several`` (EXIF allows ISO as a list) several equal values count as one.
    """
    if isinstance(values, (str, bytes)):
        try:
            values = [Fraction(values.decode() if isinstance(values, bytes) else values.strip())]
        except (ValueError, ZeroDivisionError, UnicodeDecodeError):
            return None
    if not isinstance(values, (list, tuple)) or not values:
        return None
    numbers = {_scalar(v) for v in values}
    if len(numbers) != 1 or (len(values) > 1 and not several):
        return None
    value = numbers.pop()
    return value if value is not None and math.isfinite(value) and value > 0 else None


def _scalar(value: object) -> float | None:
    """One exifread value as a float: a Ratio (den 0 -> None), an int, or a float in a 1-tuple."""
    if isinstance(value, tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, Rational):  # Ratio is a Fraction; exifread keeps a zero denominator unreduced
        return None if value.denominator == 0 else float(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _tag(tags: dict, name: str) -> object:
    tag = tags.get(f"EXIF {name}") or tags.get(f"Image {name}")
    return None if tag is None else tag.values


def _orientation(values: object) -> int:
    """EXIF orientation 1-8; anything else (missing, malformed) is 1, the stored pixels as they are."""
    value = exif_number(values)
    return int(value) if value is not None and value in range(1, 9) else 1


def read_info(path: str | Path) -> PhotoInfo:
    """EXIF exposure time, f-number, ISO, camera model and orientation of a photo (any format exifread
    reads: JPEG, TIFF and the TIFF-based RAW formats)."""
    path = Path(path)
    if not path.is_file():
        raise ImageIOError(f"{path}: file not found")
    if path.suffix.lower() in LDR_EXTENSIONS:
        require_image(path)  # before its EXIF: a file that is no image is not "missing EXIF"
    with open(path, "rb") as f:
        try:
            tags = exifread.process_file(f, details=False)
        except Exception:  # noqa: BLE001 - a damaged EXIF block is as good as none
            tags = {}
    model = tags.get("Image Model")
    camera = " ".join(str(v).strip() for v in (tags.get("Image Make"), model) if v is not None) or None
    return PhotoInfo(path, exif_number(_tag(tags, "ExposureTime")), exif_number(_tag(tags, "FNumber")),
                     exif_number(_tag(tags, "ISOSpeedRatings"), several=True), camera,
                     _orientation(_tag(tags, "Orientation")))  # fmt: skip


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
