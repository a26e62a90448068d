"""Merge your own bracketed photos into one ghost-free linear HDR image with AFUNet.

    python merge.py IMG_1.jpg IMG_2.jpg IMG_3.jpg --out result.exr
    python merge.py samples/brackets --out merged.exr          # a folder works too

Photos in any order: exposures come from EXIF (exposure time x ISO / f-number^2, or --ev / --times),
sorted short to long; the middle one is the reference, whose geometry the result keeps. The others are
aligned to it (hand-held shake), then AFUNet removes what moved. Writes linear OpenEXR (half float;
--float32 for full) or Radiance .hdr by the extension, and a tone-mapped preview JPEG beside it.
"""

import argparse
import os
import sys
from pathlib import Path

from utils.cli import POSITIVE, SEED, Parser, number, run_cli


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from datasets.scene import MAX_EV
    from utils.engine.inference import TILE_OVERLAP

    p = Parser(__doc__)
    p.add_argument("inputs", nargs="+", type=Path, help="three or more photos (JPEG, PNG, TIFF, RAW), or a folder")
    p.add_argument("--out", type=Path, required=True, help="result.exr or result.hdr")
    p.add_argument("--preview", default=None, help="tone-mapped preview (default: <out>_preview.jpg)")
    p.add_argument("--float32", action="store_true", help="full float OpenEXR instead of half")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument(
        "--ev",
        type=number(float, -MAX_EV, MAX_EV),
        nargs="+",
        default=None,
        help="EV of each photo in the order given (e.g. -2 0 2), instead of the EXIF",
    )
    p.add_argument(
        "--times",
        type=POSITIVE,
        nargs="+",
        default=None,
        help="exposure time of each photo in seconds, in the order given (same ISO and aperture)",
    )
    p.add_argument(
        "--align",
        choices=["auto", "homography", "translation", "none"],
        default="auto",
        help="align the other frames to the reference (default: auto = homography, then translation)",
    )
    p.add_argument(
        "--pretrained_model",
        default=None,
        help="weights (default: pretrain_model/Kalantari.pth if present, else the bundled demo)",
    )
    p.add_argument(
        "--tile",
        type=number(int, 2 * TILE_OVERLAP),  # tiles overlap by TILE_OVERLAP
        default=None,
        help="tile size for bounded memory (default: one pass; on a CPU 1024x1024 tiles above 3 megapixels; "
        "on a GPU tiles half the size after each out-of-memory error)",
    )
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, ...")
    p.add_argument("--seed", type=SEED, default=None,
                   help="LF-Diff weights: seed of the noise its diffusion starts from (default 0): the same seed "
                        "gives the same result on the same device")  # fmt: skip
    p.add_argument(
        "--no_clip_guard",
        action="store_true",
        help="keep the network's values where even the shortest exposure clipped (default: raise them to at "
        "least what that exposure implies, blended over a few pixels)",
    )
    args = p.parse_args(argv)
    if args.ev is not None and args.times is not None:
        p.error("give --ev or --times, not both")
    return args


def main(argv: list[str] | None = None) -> int:
    from utils.engine.merge import run_merge

    return run_merge(parse_args(argv))


if __name__ == "__main__":
    # Linux CPUs: large tensors on transparent huge pages, as test.py does (identical outputs, fewer page faults)
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    sys.exit(run_cli(main))
