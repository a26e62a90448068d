"""merge.py's clip guard: a lamp that clips in every photo keeps at least the shortest exposure's value."""

import numpy as np
from PIL import Image

import merge as merge_script
from models import DEMO_WEIGHTS
from utils.cli import run_cli
from utils.engine.clip_guard import FEATHER, clip_floor, clipped_fraction, guard_clipped
from utils.hdr_io import read_hdr

DEMO = DEMO_WEIGHTS["afunet"]


def lamp_bracket(folder, h=64, w=96):
    """Three PNGs of a smooth scene (1/400, 1/100, 1/25 s) with a lamp 10x above the shortest's clipping level."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    radiance = np.exp2(np.sin(xx / 9) + np.cos(yy / 7) - 2)[..., None] * np.array([1.0, 0.8, 0.6], np.float32)
    lamp = (yy - h / 2) ** 2 + (xx - w / 3) ** 2 <= 8**2
    radiance[lamp] = 10.0  # t = 1 is the shortest exposure: it clips at radiance 1
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, t in (("short", 1.0), ("ref", 4.0), ("long", 16.0)):
        ldr = np.clip(radiance * t, 0, 1) ** (1 / 2.2)
        Image.fromarray(np.round(ldr * 255).astype(np.uint8)).save(folder / f"{name}.png")
        paths.append(str(folder / f"{name}.png"))
    return paths, lamp


def test_a_lamp_clipped_everywhere_keeps_at_least_the_clipping_level(tmp_path, capsys):
    paths, lamp = lamp_bracket(tmp_path / "in")
    common = [*paths, "--ev", "-2", "0", "2", "--align", "none", "--pretrained_model", str(DEMO), "--float32"]
    assert run_cli(merge_script.main, [*common, "--out", str(tmp_path / "guarded.exr")]) == 0
    assert "clip guard:" in capsys.readouterr().out
    assert run_cli(merge_script.main, [*common, "--out", str(tmp_path / "raw.exr"), "--no_clip_guard"]) == 0
    guarded, raw = read_hdr(tmp_path / "guarded.exr"), read_hdr(tmp_path / "raw.exr")
    inside = guarded[lamp]  # the clipping level is 1: merge.py writes the shortest exposure at 1
    assert inside.mean() >= 0.97 and np.percentile(inside, 10) >= 0.95, (inside.mean(), np.percentile(inside, 10))
    # away from the lamp nothing changes; the raise fades out over FEATHER pixels
    short = np.asarray(Image.open(paths[0]), np.float32) / 256
    _, weight = clip_floor(short, 1.0)
    far = weight.max(axis=2) == 0
    assert np.array_equal(guarded[far], raw[far]) and far.mean() > 0.8
    ring = (weight > 0) & (weight < 1)
    assert ring.any() and np.all(weight[ring] <= FEATHER / (FEATHER + 1) + 1e-6)


def test_guard_raises_only_towards_the_floor_and_never_lowers():
    rng = np.random.default_rng(0)
    short = rng.uniform(0.5, 1.0, (24, 32, 3)).astype(np.float32)
    short[8:16, 10:20] = 0.999  # a clipped block
    hdr = rng.uniform(0.0, 1.0, short.shape).astype(np.float32)
    guarded = guard_clipped(hdr, short)
    assert np.all(guarded >= hdr) and clipped_fraction(short) > 0
    floor = short**2.2
    assert np.all(guarded[8:16, 10:20] >= np.minimum(floor[8:16, 10:20], 1) - 1e-6)
    assert np.all(guarded <= np.maximum(hdr, floor) + 1e-6)
