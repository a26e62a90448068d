"""Evaluate a checkpoint (AFUNet, STHDR, LF-Diff) on a test set with the official protocol and write tables
and predictions.

With no arguments it scores the bundled AFUNet demo checkpoint on the bundled sample scenes (samples/);
--model sthdr and --model lfdiff score the bundled STHDR and LF-Diff demos. LF-Diff's diffusion samples
its prior from seeded noise (--seed, default 0): the same seed gives the same table on the same device.
Full frame in one pass, reflect-padded to a multiple of 128 (LF-Diff: 4) and cropped back; per-scene PSNR-mu,
PSNR-l, SSIM-mu, SSIM-l (as the official test computes them), with --hdrvdp also HDR-VDP-2, and their
mean over scenes.
"""

import argparse
import os
import sys

from datasets.layouts import add_dataset_arguments
from models import NETWORKS
from models.lfdiff import T as DIFFUSION_STEPS
from utils.cli import COUNT, POSITIVE, POSITIVE_INT, SEED, Parser, number, run_cli


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = Parser(__doc__)
    add_dataset_arguments(
        p,
        None,
        "dataset preset (default: kalantari, or the bundled sample scenes when neither "
        "--dataset nor --dataset_dir is given)",
    )
    p.add_argument("--pretrained_model", default=None,
                   help="official or our checkpoint of any network (default: the bundled demo of --model)")  # fmt: skip
    p.add_argument("--model", choices=sorted(NETWORKS), default=None,
                   help="without --pretrained_model: whose bundled demo to score (default: afunet); with it: the "
                        "network the checkpoint must hold")  # fmt: skip
    p.add_argument("--save_dir", default="results", help="tables and predictions go here (default: %(default)s)")
    p.add_argument("--save_inputs", action="store_true", help="also save tone-mapped reference and label PNGs")
    p.add_argument("--tile", type=POSITIVE_INT, default=None,
                   help="bound memory with overlapping NxN tiles (not the paper protocol; off by default)")  # fmt: skip
    p.add_argument("--tile_overlap", type=COUNT, default=32, help="tile overlap in pixels (default: %(default)s)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:1, ...")
    p.add_argument(
        "--tf32",
        action="store_true",
        help="CUDA: TF32 matmuls and convolutions (faster; outputs move by about 1e-3). Default: full float32, "
        "as the paper tables and the equivalence checks need",
    )
    p.add_argument(
        "--seed",
        type=SEED,
        default=None,
        help="LF-Diff: seed of the noise its diffusion starts from (default 0; results.json records it)",
    )
    p.add_argument(
        "--ddim_steps",
        type=number(int, 1, DIFFUSION_STEPS),
        default=None,
        help="LF-Diff: DDIM steps S at test time (default: 10, as trained; the paper's Table 4)",
    )
    p.add_argument(
        "--hdrvdp",
        nargs="?",
        const="sctnet",
        default=None,
        choices=["sctnet", "default", "safnet"],
        help="add the HDR-VDP-2 (2.2.1) column: Q of each prediction as saved to .hdr against its label, "
        "with this recipe's display model (default when given without a value: sctnet; README)",
    )
    p.add_argument(
        "--hdrvdp_ppd",
        type=POSITIVE,
        default=None,
        help="pixels per degree for HDR-VDP-2 instead of the recipe's (implies --hdrvdp)",
    )
    args = p.parse_args(argv)
    if args.tile is not None and args.tile <= args.tile_overlap:
        p.error(f"--tile {args.tile} must be larger than --tile_overlap {args.tile_overlap}")
    return args


def main(argv: list[str] | None = None) -> int:
    from utils.engine.tester import run_test

    return run_test(parse_args(argv))


if __name__ == "__main__":
    # Linux CPUs: large tensors on transparent huge pages, far fewer page faults: 1.1-1.2x faster inference
    # at the same peak memory (README, Performance). Not set for training, which it slows down.
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    sys.exit(run_cli(main))
