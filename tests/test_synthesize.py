"""The scene generator around light sources: resampling radiance leaves no black holes."""

import numpy as np
import pytest

from datasets.synthesize import MARGIN, SceneSynthesizer, camera, crop_source
from utils.hdr_io import write_hdr


def spiky_source(h: int = 150, w: int = 200) -> np.ndarray:
    """A smooth, strictly positive radiance map with a 10^5 light source of 3x3 pixels in the middle."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 1.0 + 0.3 * np.sin(xx / 7.0) * np.cos(yy / 5.0)
    src = np.repeat(base[..., None], 3, axis=2).astype(np.float32)
    src[h // 2 - 1 : h // 2 + 2, w // 2 - 1 : w // 2 + 2] = 1e5
    return src


@pytest.mark.parametrize("seed", range(4))
def test_enlarged_crop_keeps_radiance_positive_beside_a_light(seed):
    src = spiky_source()
    crop = crop_source(src, 330, 440, panorama=False, rng=np.random.default_rng(seed))  # about 2.2x enlarged
    assert crop.min() > 0.5 * src.min(), "resampling made dark or zero pixels beside the light source"
    assert crop.max() > 1e4  # the light is still there


@pytest.mark.parametrize("seed", range(3))
def test_no_zero_label_or_input_pixel_beside_a_light(tmp_path, seed):
    path = tmp_path / "spike.hdr"
    write_hdr(path, spiky_source())
    rng = np.random.default_rng(seed)
    frames, label, _ = SceneSynthesizer([path], procedural_fraction=0.0).scene(64 + MARGIN, 96, rng)
    assert label.min() > 0 and frames.min() > 0
    near_light = label.max(axis=-1) >= 1.0  # where the normalised light clipped; its ring is where cubic rang
    assert near_light.any()
    for frame, t in zip(frames, (1.0, 4.0, 16.0)):  # the short exposure's codes sit well above zero
        codes = camera(frame, t, 10**-4, 10**-3.5, rng)
        assert codes.min() > 0


def test_non_finite_and_negative_source_pixels_stay_out_of_the_resampling(monkeypatch, tmp_path):
    from datasets import sources

    src = spiky_source()
    src[10, 10], src[20, 30, 1], src[40, 50], src[60, 70, 2] = np.nan, np.inf, -np.inf, -3.0
    monkeypatch.setattr(sources, "read_hdr", lambda path: src.copy())
    loaded = sources.load_radiance(tmp_path / "bad.exr")
    assert np.isfinite(loaded).all() and loaded.min() >= 0 and loaded.max() == 1e5
    crop = crop_source(loaded, 330, 440, panorama=False, rng=np.random.default_rng(0))
    assert np.isfinite(crop).all() and crop.min() >= 0
