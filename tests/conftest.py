"""Shared test fixtures: paths into ../shared (skipped with a reason when it is absent)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures" / "afunet-official"


def shared_path(*parts: str) -> Path:
    """A path inside ../shared, or a pytest skip naming what is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the reference fixtures live in ../shared beside the repository")
    return path


@pytest.fixture(scope="session")
def official_checkpoint() -> Path:
    return shared_path("fixtures", "afunet-official", "official_random_init.pth")


@pytest.fixture(scope="session")
def forward_cases() -> dict:
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
