"""The bundled sample scenes: synthesized on first use from the held-out radiance maps in samples/radiance/.

No radiance map and no seed used here appears in a training set made by ``python -m datasets.synthesize``
from the shared folder (it leaves HELD_OUT out), so the demo checkpoint is scored on unseen content.
"""

import shutil
import tempfile
from pathlib import Path

from .layouts import LAYOUTS

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples"
RADIANCE_DIR = SAMPLES_DIR / "radiance"
TEST_PATH = "Test"
HELD_OUT = (  # relative to ../shared/data/hdr-radiance
    "openexr-images/ScanLines/Desk.exr",
    "pfstools-gallery/mpi_atrium_3.hdr",
    "polyhaven-3d-demo-data/hdri/chinese_garden_1k.hdr",
    "polyhaven-3d-demo-data/hdri/st_peters_square_night_1k.hdr",
    "polyhaven-drei-assets/hdri/venice_sunset_1k.hdr",
)
SCENES, SEED, SIZE, PROCEDURAL = 8, 2026, (256, 384), 0.25  # training sets use other seeds (0 for the demo)


def is_held_out(path: Path) -> bool:
    """True for a radiance map reserved for the sample scenes."""
    return any(path.as_posix().endswith(rel) for rel in HELD_OUT)


def ensure_samples(root: Path = SAMPLES_DIR) -> Path:
    """Synthesize the sample scenes into root/Test unless they are there; return that folder."""
    from .synthesize import find_sources, synthesize

    test_dir = root / TEST_PATH
    if test_dir.is_dir():
        return test_dir
    sources = find_sources([RADIANCE_DIR])
    print(f"first run: synthesizing {SCENES} sample scenes from {len(sources)} radiance maps in {RADIANCE_DIR}")
    with tempfile.TemporaryDirectory(dir=root, prefix=".synth-") as tmp:
        synthesize(Path(tmp) / TEST_PATH, LAYOUTS["kalantari"], SCENES, SEED, SIZE, sources, PROCEDURAL)
        shutil.move(Path(tmp) / TEST_PATH, test_dir)  # whole folder at once: an interrupted run leaves nothing
    return test_dir
