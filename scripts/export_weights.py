"""Turn a training checkpoint into a weights file for test.py (no optimiser or RNG state).

    python scripts/export_weights.py runs/demo/latest.pth pretrain_model/AFUNet_synthetic.pth \
        --meta data="python -m datasets.synthesize --out data/synth/Training --scenes 160 --seed 0"

The file keeps the model config and the run's metadata (arguments, iterations, epoch, training
seconds) plus every --meta KEY=VALUE, and loads through models.official.load_model.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from utils.checkpoint import export_weights  # noqa: E402
from utils.cli import Parser, run_cli  # noqa: E402
from utils.errors import UserError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = Parser(__doc__)
    p.add_argument("checkpoint", type=Path, help="a train.py checkpoint (latest.pth, best.pth, epoch_NNNN.pth)")
    p.add_argument("out", type=Path, help="weights file to write")
    p.add_argument("--meta", nargs="*", default=[], metavar="KEY=VALUE", help="extra metadata to record")
    args = p.parse_args(argv)
    bad = [m for m in args.meta if "=" not in m]
    if bad:
        raise UserError(f"--meta expects KEY=VALUE, got {bad[0]!r}")
    meta = export_weights(args.checkpoint, args.out, dict(m.split("=", 1) for m in args.meta))
    print(json.dumps({k: v for k, v in meta.items() if k != "args"}, indent=2))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
