"""EXIF values in every numeric type exifread returns, and nonsense values read as missing tags."""

import struct

import numpy as np
import pytest
from PIL import Image

from utils.cli import run_cli
from utils.photos import read_info

EXPOSURE_TIME, F_NUMBER, ISO, ORIENTATION, MODEL, EXIF_IFD = 0x829A, 0x829D, 0x8827, 0x0112, 0x0110, 0x8769
TAG_NAMES = {EXPOSURE_TIME: "ExposureTime", F_NUMBER: "FNumber", ISO: "ISOSpeedRatings"}


def encode(kind: str, value) -> tuple[int, int, bytes]:
    """(TIFF type, count, little-endian bytes) of a value stored as the named EXIF type."""
    values = value if isinstance(value, tuple) else (value,)
    if kind == "ASCII":
        data = str(value).encode() + b"\0"
        return 2, len(data), data
    fmt, code = {"RATIONAL": ("II", 5), "SRATIONAL": ("ii", 10), "DOUBLE": ("d", 12), "FLOAT": ("f", 11),
                 "SHORT": ("H", 3), "LONG": ("I", 4)}[kind]  # fmt: skip
    parts = []
    for v in values:
        if kind in ("RATIONAL", "SRATIONAL"):
            num, den = v if isinstance(v, list) else (round(v * 1000), 1000)
            parts.append(struct.pack("<" + fmt, num, den))
        else:
            parts.append(struct.pack("<" + fmt, v if kind in ("DOUBLE", "FLOAT") else int(v)))
    return code, len(values), b"".join(parts)


def exif_block(ifd0: dict, exif: dict) -> bytes:
    """An APP1 EXIF payload (b'Exif\\0\\0' + little-endian TIFF) with IFD0 and an Exif IFD of raw entries."""
    ifd0 = {**ifd0, EXIF_IFD: (4, 1, b"\0\0\0\0")}  # offset patched below
    ifd0_size, exif_size = 2 + 12 * len(ifd0) + 4, 2 + 12 * len(exif) + 4
    data_at = 8 + ifd0_size + exif_size
    extra = bytearray()

    def table(entries: dict, patch_exif_offset: bool) -> bytes:
        out = bytearray(struct.pack("<H", len(entries)))
        for tag in sorted(entries):
            code, count, payload = entries[tag]
            if patch_exif_offset and tag == EXIF_IFD:
                payload = struct.pack("<I", 8 + ifd0_size)
            if len(payload) <= 4:
                field = payload.ljust(4, b"\0")
            else:
                field = struct.pack("<I", data_at + len(extra))
                extra.extend(payload + b"\0" * (len(payload) % 2))
            out += struct.pack("<HHI", tag, code, count) + field
        return bytes(out + b"\0\0\0\0")

    tiff = b"II*\0" + struct.pack("<I", 8) + table(ifd0, True) + table(exif, False)
    return b"Exif\0\0" + tiff + bytes(extra)


def write_jpeg(path, exif: dict, orientation=None):
    ifd0 = {MODEL: encode("ASCII", "TestCam")}
    if orientation is not None:
        ifd0[ORIENTATION] = orientation
    img = Image.fromarray(np.full((16, 24, 3), 128, np.uint8))
    img.save(path, quality=95, exif=exif_block(ifd0, exif))
    return path


VALUES = {EXPOSURE_TIME: 2.0, F_NUMBER: 8.0, ISO: 100.0}  # integers, so that SHORT and LONG can hold them too
FRACTIONAL = {EXPOSURE_TIME: ("1/100", [1, 100], 0.01), F_NUMBER: ("5.6", [28, 5], 5.6), ISO: ("400", [400, 1], 400.0)}


@pytest.mark.parametrize("kind", ["RATIONAL", "SRATIONAL", "DOUBLE", "FLOAT", "SHORT", "LONG", "ASCII"])
@pytest.mark.parametrize("tag", sorted(TAG_NAMES))
def test_every_numeric_type_gives_the_same_exposure(tmp_path, tag, kind):
    others = {t: encode("RATIONAL", v) for t, v in VALUES.items() if t != tag}
    info = read_info(write_jpeg(tmp_path / "a.jpg", {**others, tag: encode(kind, VALUES[tag])}))
    assert (info.exposure_time, info.f_number, info.iso) == (2.0, 8.0, 100.0) and info.camera == "TestCam"
    assert info.exposure == pytest.approx(2.0 * 100 / 64)


@pytest.mark.parametrize("kind", ["RATIONAL", "DOUBLE", "FLOAT", "ASCII"])
@pytest.mark.parametrize("tag", sorted(TAG_NAMES))
def test_fractional_values_in_the_types_that_hold_them(tmp_path, tag, kind):
    text, ratio, value = FRACTIONAL[tag]
    stored = encode(kind, {"ASCII": text, "RATIONAL": (ratio,)}.get(kind, value))
    others = {t: encode("RATIONAL", v) for t, v in VALUES.items() if t != tag}
    info = read_info(write_jpeg(tmp_path / "a.jpg", {**others, tag: stored}))
    got = {EXPOSURE_TIME: info.exposure_time, F_NUMBER: info.f_number, ISO: info.iso}[tag]
    assert got == pytest.approx(value, rel=1e-6)


NONSENSE = {
    "string": encode("ASCII", "fast"),
    "zero": encode("RATIONAL", 0.0),
    "negative": encode("SRATIONAL", -0.01),
    "zero denominator": encode("RATIONAL", ([1, 0],)),
    "two values": encode("DOUBLE", (0.01, 0.02)),
    "infinite": encode("DOUBLE", float("inf")),
    "empty string": encode("ASCII", ""),
}


@pytest.mark.parametrize("problem", sorted(NONSENSE))
@pytest.mark.parametrize("tag", sorted(TAG_NAMES))
def test_nonsense_values_are_missing_tags_not_tracebacks(tmp_path, tag, problem):
    others = {t: encode("RATIONAL", v) for t, v in VALUES.items() if t != tag}
    info = read_info(write_jpeg(tmp_path / "a.jpg", {**others, tag: NONSENSE[problem]}))
    assert info.missing == [TAG_NAMES[tag]]


def test_merge_names_a_nonsense_tag_and_ev_in_one_line(tmp_path, capsys):
    import merge as merge_script

    paths = []
    for i, seconds in enumerate((0.01, 0.04, 0.0025)):
        tags = {EXPOSURE_TIME: encode("DOUBLE", seconds), F_NUMBER: encode("DOUBLE", 8.0), ISO: encode("SHORT", 100)}
        if i == 1:
            tags[EXPOSURE_TIME] = NONSENSE["two values"]
        paths.append(str(write_jpeg(tmp_path / f"p{i}.jpg", tags)))
    assert run_cli(merge_script.main, [*paths, "--out", str(tmp_path / "o.exr")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "p1.jpg" in err and "ExposureTime" in err and "--ev" in err, err


@pytest.mark.parametrize("stored", [encode("SHORT", 6), encode("LONG", 6), encode("SHORT", 9), encode("ASCII", "six"),
                                    encode("SHORT", (6, 3)), encode("DOUBLE", 6.5)])  # fmt: skip
def test_orientation_of_any_type_or_nonsense_never_raises(tmp_path, stored):
    info = read_info(write_jpeg(tmp_path / "a.jpg", {}, orientation=stored))
    valid = stored[0] in (3, 4) and stored[1] == 1 and struct.unpack("<H", stored[2][:2])[0] == 6
    assert info.orientation == (6 if valid else 1)
