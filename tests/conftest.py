"""Shared test fixtures: the shipped official-equivalence data (tests/fixtures), paths into ../shared
(skipped with a reason when it is absent), small synthetic scenes and network inputs, and the device of
the tests that can run on a GPU (``TEST_DEVICE=cuda pytest -m device``; the CPU by default)."""

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURES = ROOT / "tests" / "fixtures" / "afunet-official"  # shipped: a fresh clone runs the equivalence proof


@pytest.fixture(scope="session")
def device() -> torch.device:
    """The device of the tests marked ``device``: $TEST_DEVICE (cpu, cuda, cuda:1, ...), else the CPU."""
    from utils.device import resolve_device

    return resolve_device(os.environ.get("TEST_DEVICE", "cpu"))


def shared_path(*parts: str) -> Path:
    """A path inside ../shared, or a pytest skip naming what is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the full reference data lives in ../shared beside the repository")
    return path


@pytest.fixture(scope="session")
def official_checkpoint() -> Path:
    """The official-format checkpoint with random weights (shipped copy)."""
    return FIXTURES / "official_random_init.pth"


@pytest.fixture(scope="session")
def forward_cases() -> dict:
    """The official network's inputs, outputs and a subset of intermediates (shipped copy)."""
    import torch

    return torch.load(FIXTURES / "forward_cases_subset.pt")


@pytest.fixture(scope="session")
def shared_forward_cases() -> dict:
    """The full official fixture, every intermediate (../shared only)."""
    import torch

    return torch.load(shared_path("fixtures", "afunet-official", "forward_cases.pt"))


def synth_scenes(
    out: Path, layout: str = "kalantari", scenes: int = 2, size: tuple[int, int] = (48, 64), seed: int = 0
):
    """Write small procedural scenes (no ../shared needed) and return the folder."""
    from datasets.layouts import LAYOUTS
    from datasets.synthesize import synthesize

    synthesize(out, LAYOUTS[layout], scenes, seed, size, sources=[], procedural_fraction=1.0)
    return out


def sample_input(b: int = 1, h: int = 32, w: int = 32, seed: int = 0) -> torch.Tensor:
    """A random (b, 18, h, w) network input in the repository's layout (per exposure [ldr**2.2/t, ldr])."""
    g = torch.Generator().manual_seed(seed)
    ldr = torch.rand(b, 3, 3, h, w, generator=g)
    hdr = ldr**2.2 / torch.tensor([1.0, 4.0, 16.0]).view(1, 3, 1, 1, 1)
    return torch.cat([hdr, ldr], dim=2).reshape(b, 18, h, w)
