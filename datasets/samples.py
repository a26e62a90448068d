"""The bundled sample scenes: synthesized on first use from the held-out radiance maps in samples/radiance/.

Their maps (``sources.HELD_OUT``) and their seed are used by no training set of this project.
"""

import shutil
import tempfile
from pathlib import Path

from .layouts import LAYOUTS
from .sources import find_sources
from .synthesize import synthesize

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples"
RADIANCE_DIR = SAMPLES_DIR / "radiance"
TEST_PATH = "Test"
SCENES, SEED, SIZE, PROCEDURAL = 8, 2026, (256, 384), 0.25  # training sets use other seeds (0 for the demo)


def ensure_samples(root: Path = SAMPLES_DIR) -> Path:
    """Synthesize the sample scenes into root/Test unless they are there; return that folder."""
    test_dir = root / TEST_PATH
    if test_dir.is_dir():
        return test_dir
    sources = find_sources([RADIANCE_DIR])
    print(f"first run: synthesizing {SCENES} sample scenes from {len(sources)} radiance maps in {RADIANCE_DIR}")
    with tempfile.TemporaryDirectory(dir=root, prefix=".synth-") as tmp:
        synthesize(Path(tmp) / TEST_PATH, LAYOUTS["kalantari"], SCENES, SEED, SIZE, sources, PROCEDURAL)
        shutil.move(Path(tmp) / TEST_PATH, test_dir)  # whole folder at once: an interrupted run leaves nothing
    return test_dir
