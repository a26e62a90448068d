"""Count black (all-zero) label pixels beside the brightest pixels of generated scenes.

    python scripts/check_scenes.py data/synth/Training [--radius 7]

A resampling kernel with negative lobes (cubic) leaves such holes around light sources; the generator
(datasets/synthesize.py) must leave none. A label's own black areas far from its lights do not count.
"""

import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datasets.layouts import LAYOUTS  # noqa: E402
from utils.cli import COUNT, Parser, run_cli  # noqa: E402
from utils.errors import DatasetError  # noqa: E402
from utils.hdr_io import read_hdr  # noqa: E402


def black_beside_lights(label: np.ndarray, radius: int) -> int:
    """Pixels of an (H, W, 3) label that are 0 in every channel within ``radius`` px of one at >= half its peak."""
    bright = (label.max(axis=2) >= 0.5 * label.max()).astype(np.uint8)
    near = cv2.dilate(bright, np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)) > 0
    return int((near & (label.max(axis=2) <= 0)).sum())


def main(argv: list[str] | None = None) -> int:
    p = Parser(__doc__)
    p.add_argument("folder", type=Path, help="a folder of scene folders")
    p.add_argument("--layout", choices=sorted(LAYOUTS), default="kalantari", help="file naming (default: %(default)s)")
    p.add_argument("--radius", type=COUNT, default=7, help="pixels around the brightest ones (default: %(default)s)")
    args = p.parse_args(argv)
    label_name = LAYOUTS[args.layout].label_file_name
    scenes = sorted(d for d in args.folder.iterdir() if (d / label_name).is_file()) if args.folder.is_dir() else []
    if not scenes:
        raise DatasetError(f"{args.folder}: no scene folders with a {label_name}")
    counts = {d.name: black_beside_lights(read_hdr(d / label_name), args.radius) for d in scenes}
    bad = {name: n for name, n in counts.items() if n}
    print(f"{len(scenes)} scenes, {len(bad)} with black label pixels within {args.radius} px of their brightest "
          f"({sum(bad.values())} in all{', worst ' + str(max(bad.values())) if bad else ''})")  # fmt: skip
    for name, n in bad.items():
        print(f"  {name}: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
