"""Image writers: each format gets only its own OpenCV parameters, so no write prints a library warning."""

import numpy as np
import pytest

from utils.hdr_io import read_hdr, read_ldr, write_hdr, write_ldr16, write_png


def test_every_writer_is_silent_and_reads_back(tmp_path, capfd):
    rgb = np.random.default_rng(0).random((8, 12, 3)).astype(np.float32)
    for name in ("a.png", "a.jpg", "a.jpeg"):
        write_png(tmp_path / name, rgb)
    write_hdr(tmp_path / "a.hdr", rgb * 40)
    write_hdr(tmp_path / "a.exr", rgb * 40)
    write_hdr(tmp_path / "h.exr", rgb * 40, half=True)
    write_ldr16(tmp_path / "a.tif", (rgb * 65535).astype(np.uint16))
    err = capfd.readouterr().err
    assert "WARN" not in err and "unsupported" not in err, err
    assert np.array_equal(read_ldr(tmp_path / "a.png") * 256, np.round(rgb * 255))  # 8-bit codes, read as code / 256
    assert np.abs(read_hdr(tmp_path / "h.exr") - rgb * 40).max() < 40 * 2**-10
    assert np.abs(read_hdr(tmp_path / "a.exr") - rgb * 40).max() == 0


def test_half_floats_outside_openexr_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"a\.hdr: half floats are an OpenEXR option"):
        write_hdr(tmp_path / "a.hdr", np.ones((4, 4, 3), np.float32), half=True)
