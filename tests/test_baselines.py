"""Classic baselines: the reference exposure alone and the triangle-weighted merge."""

import numpy as np
import torch

from datasets.inputs import GAMMA, make_input
from models.baselines import ReferenceOnly, TriangleMerge

TIMES = np.array([1.0, 4.0, 16.0], np.float32)


def static_input(radiance: np.ndarray) -> torch.Tensor:
    """Noise-free, aligned exposures of a (H, W, 3) radiance map -> (1, 18, H, W)."""
    ldrs = [np.clip(radiance * t, 0, 1) ** (1 / GAMMA) for t in TIMES]
    return torch.from_numpy(make_input(np.stack(ldrs).astype(np.float32), TIMES))[None]


def test_reference_only_is_the_linearised_middle_exposure():
    rng = np.random.default_rng(0)
    radiance = rng.uniform(0, 0.5, (8, 8, 3)).astype(np.float32)
    out = ReferenceOnly()(static_input(radiance))[0].numpy().transpose(1, 2, 0)
    expected = np.clip(radiance * 4, 0, 1) ** (1 / GAMMA)
    np.testing.assert_allclose(out, np.clip(expected**GAMMA / 4, 0, 1), rtol=1e-5, atol=1e-7)
    assert (out <= 0.25 + 1e-6).all() and radiance.max() > 0.3  # clipped highlights stay clipped


def test_triangle_merge_recovers_a_static_scene_and_falls_back_where_all_are_clipped():
    rng = np.random.default_rng(1)
    radiance = np.exp2(rng.uniform(-10, 0, (16, 16, 3))).astype(np.float32)  # 10 stops, short never clips
    radiance[0, 0] = 2.0  # clipped in every exposure
    out = TriangleMerge()(static_input(radiance))[0].numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(out[1:], radiance[1:], rtol=1e-4)
    np.testing.assert_allclose(out[0, 0], 1.0)  # the short exposure, clamped to the label range
    assert TriangleMerge()(torch.zeros(1, 18, 4, 4)).abs().max() == 0  # all black: the long exposure, 0
