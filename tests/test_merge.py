"""merge.py: EXIF exposures and their order, overrides, alignment, tiling, outputs, the bundled bracket,
and every bad input."""

from fractions import Fraction

import numpy as np
import pytest
import tifffile
from conftest import ROOT
from PIL import Image, TiffImagePlugin

import merge as merge_script
from utils import align
from utils.cli import run_cli
from utils.engine import merge as engine
from utils.hdr_io import read_hdr
from utils.metrics import psnr_l
from utils.photos import read_info, read_photo

BRACKETS = ROOT / "samples" / "brackets"


def scene(h: int = 64, w: int = 96, seed: int = 0) -> np.ndarray:
    """A smooth random radiance map with texture, (h, w, 3), mostly within a 4-stop range."""
    import cv2

    rng = np.random.default_rng(seed)
    coarse = cv2.resize(rng.standard_normal((6, 9, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    return np.exp2(1.5 * coarse + 0.3 * rng.standard_normal((h, w, 3)).astype(np.float32) - 3)


def exif(seconds: float | None, camera: str = "TestCam") -> Image.Exif:
    data = Image.Exif()
    data[0x0110] = camera
    if seconds is not None:
        ifd = data.get_ifd(0x8769)
        t = Fraction(seconds).limit_denominator(100_000)
        ifd[0x829A] = TiffImagePlugin.IFDRational(t.numerator, t.denominator)
        ifd[0x829D] = TiffImagePlugin.IFDRational(4, 1)
        ifd[0x8827] = 100
    return data


def write_bracket(folder, names_seconds, size=(64, 96), camera="TestCam", suffix=".jpg", seed=0):
    """JPEGs (or EXIF-less PNGs) of one scene at the given exposure times; returns the paths in the given order."""
    folder.mkdir(parents=True, exist_ok=True)
    radiance = scene(*size, seed)
    paths = []
    for name, seconds in names_seconds:
        ldr = np.clip(radiance * (seconds or 0.01) * 100, 0, 1) ** (1 / 2.2)
        img = Image.fromarray(np.round(ldr * 255).astype(np.uint8))
        path = folder / f"{name}{suffix}"
        img.save(path, **({"exif": exif(seconds, camera), "quality": 95} if suffix == ".jpg" else {}))
        paths.append(path)
    return paths


def order(paths, ev=None, times=None) -> list[tuple[str, float]]:
    frames = engine.choose_three(engine.exposures(paths, ev, times))
    return [(f.info.path.stem, round(f.ev, 3)) for f in frames]


def test_jpeg_exposures_come_from_exif_and_are_sorted_by_exposure_not_name(tmp_path):
    paths = write_bracket(tmp_path, [("a", 1 / 25), ("b", 1 / 400), ("c", 1 / 100)])
    assert order(paths) == [("b", -2.0), ("c", 0.0), ("a", 2.0)]
    info = engine.read_info(paths[0])
    assert (info.exposure_time, info.f_number, info.iso, info.camera) == (0.04, 4.0, 100.0, "TestCam")


def test_tiff_exposures_and_more_than_three_photos(tmp_path, capsys):
    for name, seconds, iso in (("x1", 1 / 50, 400), ("x2", 1 / 800, 400), ("x3", 1 / 50, 100)):
        codes = (np.random.default_rng(0).random((16, 24, 3)) * 65535).astype(np.uint16)
        tags = [(33434, 5, 1, (1, round(1 / seconds)), False), (33437, 5, 1, (4, 1), False), (34855, 3, 1, iso, False)]
        tifffile.imwrite(tmp_path / f"{name}.tif", codes, photometric="rgb", extratags=tags)
    # t * ISO / N^2 with N = 4: x2 0.03125, x3 0.125, x1 0.5: ISO counts as much as time
    assert order(sorted(tmp_path.glob("*.tif"))) == [("x2", -2.0), ("x3", 0.0), ("x1", 2.0)]
    more = write_bracket(
        tmp_path / "five", [(f"p{i}", s) for i, s in enumerate((1 / 1600, 1 / 400, 1 / 100, 1 / 25, 1 / 6))]
    )
    assert order(more[::-1]) == [("p1", -2.0), ("p2", 0.0), ("p3", 2.0)]
    assert "5 photos: using the three nearest to -2/0/+2 EV: p1.jpg, p2.jpg, p3.jpg" in capsys.readouterr().out


def test_ev_and_times_replace_missing_exif(tmp_path, capsys):
    paths = write_bracket(tmp_path, [("s", None), ("m", None), ("l", None)], suffix=".png")
    with pytest.raises(engine.UserError, match=r"EXIF exposure data missing in s.png \(ExposureTime, FNumber, "
                                               r"ISOSpeedRatings\).*--ev"):  # fmt: skip
        engine.exposures(paths, None, None)
    assert order(paths, ev=[-3, 0, 3]) == [("s", -3.0), ("m", 0.0), ("l", 3.0)]
    assert order(paths, times=[0.1, 0.4, 0.025]) == [("l", -2.0), ("s", 0.0), ("m", 2.0)]
    order(paths, ev=[-1, 0, 1])
    assert "far from the training data" in capsys.readouterr().out


def test_alignment_recovers_a_known_homography_within_half_a_pixel():
    import cv2

    radiance = cv2.resize(read_hdr(ROOT / "samples" / "radiance" / "mpi_atrium_3.hdr"), (384, 256))
    ldr = np.clip(radiance / np.percentile(radiance, 99) * 0.5, 0, 1) ** (1 / 2.2)
    truth = np.array([[1.004, 0.01, -5.5], [-0.009, 0.998, 3.7], [1e-5, -2e-5, 1]])
    frame = cv2.warpPerspective(ldr, np.linalg.inv(truth), (384, 256), borderMode=cv2.BORDER_REFLECT)
    short = np.clip(frame**2.2 / 4, 0, 1) ** (1 / 2.2)  # the same view, 2 EV darker
    found = align.estimate(align.equalise(short, 4.0, 2.2), align.equalise(ldr, 1.0, 2.2))
    corners = np.array([[0, 0, 1], [384, 0, 1], [0, 256, 1], [384, 256, 1]], float).T
    a, b = truth @ corners, found.matrix @ corners
    assert found.method == "homography" and np.abs(a[:2] / a[2] - b[:2] / b[2]).max() < 0.5
    assert align.estimate(align.equalise(short, 4.0, 2.2), align.equalise(ldr, 1.0, 2.2), "none").method == "none"


def run(argv, capsys):
    rc = run_cli(merge_script.main, [str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_outputs_read_back_with_the_size_and_the_tiles_agree_with_one_pass(tmp_path, official_checkpoint, capsys):
    write_bracket(tmp_path / "in", [("a", 1 / 100), ("b", 1 / 400), ("c", 1 / 25)], size=(72, 104))
    common = [tmp_path / "in", "--pretrained_model", official_checkpoint, "--device", "cpu"]
    assert run([*common, "--out", tmp_path / "full.exr", "--float32"], capsys)[0] == 0
    assert run([*common, "--out", tmp_path / "half.exr"], capsys)[0] == 0
    rc, out, _ = run([*common, "--out", tmp_path / "tiled.hdr", "--tile", "64"], capsys)
    assert rc == 0 and "64x64 tiles" in out and "| a.jpg (reference) |" in out
    full, half, tiled = (read_hdr(tmp_path / name) for name in ("full.exr", "half.exr", "tiled.hdr"))
    assert full.shape == half.shape == tiled.shape == (72, 104, 3)
    assert (tmp_path / "full_preview.jpg").is_file() and (tmp_path / "tiled_preview.jpg").is_file()
    assert np.abs(half - full).max() <= 1e-3 * full.max() and 0 < full.min() and full.max() < 1
    assert np.abs(tiled - full).mean() < 0.05 * full.mean()  # tiles see other CFM statistics, but stay close


@pytest.mark.slow
def test_the_bundled_bracket_merges_out_of_the_box_and_recovers_the_highlights(tmp_path, capsys):
    rc, out, _ = run([*sorted(BRACKETS.glob("*.jpg")), "--out", tmp_path / "merged.exr"], capsys)
    assert rc == 0 and "AFUNet_synthetic.pth" in out and "homography" in out
    merged, truth = read_hdr(tmp_path / "merged.exr"), read_hdr(BRACKETS / "ground_truth.hdr")
    reference = np.asarray(Image.open(BRACKETS / "IMG_2041.jpg"), np.float32) / 256
    reference_only = np.clip(reference**2.2 / 4, 0, 1)  # the reference exposure alone, t = 4 (shortest = 1)
    assert merged.shape == truth.shape and 0.8 < merged.mean() / truth.mean() < 1.25
    assert psnr_l(merged.transpose(2, 0, 1), truth.transpose(2, 0, 1)) > psnr_l(
        reference_only.transpose(2, 0, 1), truth.transpose(2, 0, 1)) + 2  # fmt: skip


@pytest.mark.parametrize("problem", ["two", "size", "camera", "unreadable", "unsupported", "raw", "no exif",
                                     "same exposure", "format", "exists", "folder"])  # fmt: skip
def test_bad_input_is_one_line_and_writes_nothing(problem, tmp_path, capsys):
    seconds = [("a", 1 / 100), ("b", 1 / 400), ("c", 1 / 25)]
    paths = write_bracket(tmp_path, seconds)
    out, expected = tmp_path / "out.exr", {
        "two": "need at least three exposures, got 2", "size": "photos differ in size",
        "camera": "photos from different cameras", "unreadable": "bad.jpg: unreadable or not an image",
        "unsupported": "unsupported file type .gif", "raw": "bad.dng: LibRaw", "no exif": "EXIF exposure data missing",
        "same exposure": "have the same exposure", "format": "the output must be .exr",
        "exists": "exists; pass --overwrite", "folder": "output folder is not writable",
    }[problem]  # fmt: skip
    if problem == "two":
        paths = paths[:2]
    elif problem == "size":
        paths[2] = write_bracket(tmp_path / "big", [("c", 1 / 25)], size=(80, 96))[0]
    elif problem == "camera":
        paths[2] = write_bracket(tmp_path / "other", [("c", 1 / 25)], camera="OtherCam")[0]
    elif problem in ("unreadable", "unsupported", "raw"):
        paths[2] = tmp_path / {"unreadable": "bad.jpg", "unsupported": "bad.gif", "raw": "bad.dng"}[problem]
        paths[2].write_bytes(b"not an image" * 20)
        if problem != "unsupported":
            paths[:2] = write_bracket(tmp_path / "plain", seconds[:2], suffix=".png")
            paths = [*paths, "--ev", "0", "-2", "2"]
        else:
            paths = [*paths, "--ev", "0", "-2", "2"]
    elif problem == "no exif":
        paths = write_bracket(tmp_path / "plain", seconds, suffix=".png")
    elif problem == "same exposure":
        paths[2] = write_bracket(tmp_path / "same", [("c", 1 / 100)])[0]
    elif problem == "format":
        out = tmp_path / "out.png"
    elif problem == "exists":
        out.write_bytes(b"keep me")
    elif problem == "folder":
        (tmp_path / "file").write_text("")
        out = tmp_path / "file" / "out.exr"
    rc, _, err = run([*paths, "--out", out], capsys)
    assert rc == 1 and err.startswith("error: ") and expected in err and err.count("\n") == 1, err
    assert not (tmp_path / "out_preview.jpg").exists()
    assert problem != "exists" or out.read_bytes() == b"keep me"


def test_exif_orientation_is_applied(tmp_path):
    path = write_bracket(tmp_path, [("a", 1 / 100)], size=(40, 64))[0]
    img = Image.open(path)
    data = img.getexif()
    data[0x0112] = 6  # stored sideways: to be turned 90 degrees clockwise
    img.save(tmp_path / "turned.jpg", exif=data, quality=95)
    upright, turned = (read_photo(read_info(p), 2.2) for p in (path, tmp_path / "turned.jpg"))
    assert upright.shape == (40, 64, 3) and turned.shape == (64, 40, 3)
    assert np.abs(turned - np.rot90(upright, -1)).mean() < 0.02  # JPEG re-encoding aside, the same picture


def test_an_almost_all_clipped_reference_is_a_warning(tmp_path, official_checkpoint, capsys):
    paths = write_bracket(tmp_path, [("a", 1.0), ("b", 1 / 4), ("c", 4.0)])  # the reference a is nearly all white
    argv = [*paths, "--out", tmp_path / "o.hdr", "--pretrained_model", official_checkpoint, "--align", "none"]
    rc, out, _ = run(argv, capsys)
    assert rc == 0 and "almost all clipped or black" in out
