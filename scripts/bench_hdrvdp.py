"""Time HDR-VDP-2 (utils.metrics.hdrvdp) on a full 1000x1500 pair, the size of a Kalantari test scene.

    python scripts/bench_hdrvdp.py                       # a synthetic pair, SCTNet recipe, 3 runs
    python scripts/bench_hdrvdp.py --pair pred.hdr label.hdr --runs 5

Prints the median seconds of the runs (after one untimed run) and Q.
"""

import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from utils.cli import POSITIVE_INT, Parser, run_cli  # noqa: E402
from utils.hdr_io import read_hdr  # noqa: E402
from utils.metrics.hdrvdp.recipes import RECIPES, score  # noqa: E402


def synthetic_pair(h: int = 1000, w: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random radiance field with highlights, and a noisy copy of it."""
    rng = np.random.default_rng(0)
    coarse = rng.standard_normal((12, 18, 3)).astype(np.float32)
    label = np.exp2(2.5 * cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC) - 4).astype(np.float32)
    return label * (1 + 0.05 * rng.standard_normal(label.shape)).clip(0.5, 1.5).astype(np.float32), label


def main(argv: list[str] | None = None) -> int:
    p = Parser(__doc__)
    p.add_argument("--pair", nargs=2, type=Path, metavar=("PRED", "LABEL"), help="score these files instead")
    p.add_argument("--recipe", choices=sorted(RECIPES), default="sctnet")
    p.add_argument("--runs", type=POSITIVE_INT, default=3, help="timed runs (default: %(default)s)")
    args = p.parse_args(argv)
    pred, label = (read_hdr(args.pair[0]), read_hdr(args.pair[1])) if args.pair else synthetic_pair()
    q = score(pred, label, args.recipe)  # untimed: loads the spectral data and warms the FFT plans
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        score(pred, label, args.recipe)
        times.append(time.perf_counter() - start)
    h, w = label.shape[:2]
    print(f"HDR-VDP-2 {w}x{h}, recipe {args.recipe}: {statistics.median(times):.2f} s (median of {args.runs}; "
          f"min {min(times):.2f}, max {max(times):.2f}), Q = {q:.4f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
