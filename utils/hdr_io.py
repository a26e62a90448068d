"""Image files: LDR exposures (16-/8-bit TIFF, PNG, JPEG), Radiance .hdr / OpenEXR, tone-mapped PNG.

Every reader returns float32 RGB ``(H, W, 3)``; every failure is an ``ImageIOError`` whose message
names the file and the problem in one line.
"""

import os
from pathlib import Path

import cv2
import numpy as np

from .errors import ImageIOError, first_line

LDR_EXTENSIONS = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
HDR_EXTENSIONS = (".hdr", ".exr")
# Official decoding: 16-bit codes are divided by 2**16 (not 65535); 8-bit codes likewise by 2**8.
LDR_SCALE = {np.dtype(np.uint16): 2.0**16, np.dtype(np.uint8): 2.0**8}


def enable_openexr() -> None:
    """Let OpenCV read and write OpenEXR. OpenCV 4.x checks this variable at its first EXR access (not at
    import), so setting it before any read or write suffices; a value the user set is kept."""
    os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")


def require_image(path: Path) -> None:
    """Raise ImageIOError unless ``path`` starts like an image OpenCV reads (its signature, not its name)."""
    if not cv2.haveImageReader(str(path)):
        raise ImageIOError(f"{path.name}: unreadable or not an image")


def check_complete(path: Path) -> None:
    """Raise ImageIOError if a JPEG or TIFF is cut short: OpenCV decodes a truncated JPEG to an image whose
    missing rows are grey (a warning on stderr only), and a TIFF whose strips run past the end of the file in
    part. JPEG: Pillow's decoder, which stops at the end-of-image marker (data appended after it, as in motion
    photos, is fine); TIFF: every strip or tile of the first page must lie inside the file."""
    suffix = path.suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        from PIL import Image

        try:
            with Image.open(path) as im:
                im.load()
        except OSError as e:
            raise ImageIOError(f"{path.name}: damaged or truncated JPEG ({e})") from None
    elif suffix in (".tif", ".tiff"):
        import tifffile

        try:
            with tifffile.TiffFile(path) as tif:
                page = tif.pages[0]
                end = max(o + n for o, n in zip(page.dataoffsets, page.databytecounts, strict=True))
        except Exception as e:  # noqa: BLE001 - any failure to parse the structure is a damaged file
            raise ImageIOError(f"{path.name}: damaged TIFF ({first_line(e)})") from None
        if end > path.stat().st_size:
            raise ImageIOError(f"{path.name}: truncated TIFF ({path.stat().st_size} bytes, its image data runs to "
                               f"{end})")  # fmt: skip


def _imread(path: Path) -> np.ndarray:
    enable_openexr()
    if not path.is_file():
        raise ImageIOError(f"{path.name}: file not found")
    require_image(path)
    check_complete(path)  # before decoding: OpenCV would print its own warning for a truncated JPEG
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ImageIOError(f"{path.name}: unreadable or not an image")
    if img.ndim != 3 or img.shape[2] < 3:
        raise ImageIOError(f"{path.name}: expected a colour (3-channel) image, got shape {img.shape}")
    return np.ascontiguousarray(img[:, :, 2::-1])  # BGR(A) -> RGB


def read_ldr(path: str | Path) -> np.ndarray:
    """An LDR exposure as float32 RGB in [0, 1): 16-bit codes / 65536, 8-bit codes / 256."""
    img = _imread(Path(path))
    if img.dtype not in LDR_SCALE:
        raise ImageIOError(f"{Path(path).name}: expected 8- or 16-bit integer pixels, got {img.dtype}")
    return img.astype(np.float32) / np.float32(LDR_SCALE[img.dtype])


def read_hdr(path: str | Path) -> np.ndarray:
    """A linear HDR image (.hdr or .exr) as float32 RGB, unnormalised and unclipped."""
    img = _imread(Path(path))
    if img.dtype.kind != "f":
        raise ImageIOError(f"{Path(path).name}: expected floating-point HDR pixels, got {img.dtype}")
    return img.astype(np.float32)


def write_ldr16(path: str | Path, rgb: np.ndarray) -> None:
    """Write 16-bit codes (uint16 RGB, (H, W, 3)) as a TIFF."""
    _imwrite(Path(path), np.ascontiguousarray(rgb[:, :, ::-1]))


def write_hdr(path: str | Path, rgb: np.ndarray, half: bool = False) -> None:
    """Write linear float RGB (H, W, 3) as Radiance .hdr (RGBE) or OpenEXR, by extension; ``half``: OpenEXR
    in 16-bit floats (half the size; 3 significant digits)."""
    path = Path(path)
    if half and path.suffix.lower() != ".exr":
        raise ValueError(f"{path}: half floats are an OpenEXR option, not one of {path.suffix}")
    params = [cv2.IMWRITE_EXR_TYPE, cv2.IMWRITE_EXR_TYPE_HALF] if half else []
    _imwrite(path, np.ascontiguousarray(rgb[:, :, ::-1].astype(np.float32)), params)


def write_png(path: str | Path, rgb: np.ndarray) -> None:
    """Write float RGB in [0, 1] (H, W, 3) as an 8-bit image: PNG, or JPEG (quality 95) by extension."""
    path = Path(path)
    codes = np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if path.suffix.lower() in (".jpg", ".jpeg") else []
    _imwrite(path, np.ascontiguousarray(codes[:, :, ::-1]), params)


def _imwrite(path: Path, img: np.ndarray, params: list[int] | None = None) -> None:
    enable_openexr()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        written = cv2.imwrite(str(path), img, params or [])
    except cv2.error as e:
        raise ImageIOError(f"{path}: could not be written ({str(e).strip().splitlines()[-1]})") from None
    if not written:
        raise ImageIOError(f"{path}: could not be written")
