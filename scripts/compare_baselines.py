"""Score checkpoints next to classic baselines and the untrained network on one test set.

    python scripts/compare_baselines.py                    # demo checkpoints on the bundled sample scenes
    python scripts/compare_baselines.py --dataset kalantari --pretrained_model pretrain_model/Kalantari.pth

Methods: each checkpoint (any network); the first one's architecture with its initial (untrained)
weights; a Debevec-style triangle-weighted merge of the three exposures without alignment; the reference
exposure alone. All go through the same evaluator, protocol and metrics as test.py.
"""

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datasets.layouts import add_dataset_arguments  # noqa: E402
from datasets.testing import TestDataset  # noqa: E402
from models import DEMO_WEIGHTS, build_model, checkpoint_config, load_model  # noqa: E402
from models.baselines import ReferenceOnly, TriangleMerge  # noqa: E402
from utils.cli import SEED, Parser, run_cli  # noqa: E402
from utils.device import resolve_device  # noqa: E402
from utils.engine.evaluation import evaluate  # noqa: E402
from utils.engine.reports import format_comparison, network_label  # noqa: E402
from utils.engine.tester import test_set_from_args  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEMOS = [str(p.relative_to(ROOT)) for p in DEMO_WEIGHTS.values() if p.is_file()]


def main(argv: list[str] | None = None) -> int:
    p = Parser(__doc__)
    add_dataset_arguments(p, None, "dataset preset (default: the bundled sample scenes)")
    p.add_argument("--pretrained_model", nargs="+", default=DEMOS,
                   help="one or more checkpoints (default: the bundled demos that exist)")  # fmt: skip
    p.add_argument("--seed", type=SEED, default=443, help="seed of the untrained network's initialisation")
    p.add_argument("--save_dir", type=Path, default=Path("results/comparison"))
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    layout, root, _ = test_set_from_args(args)
    dataset, device = TestDataset(root, layout), resolve_device(args.device)
    methods = {}
    for path in args.pretrained_model:
        model = load_model(path)[0]
        methods[f"{network_label(checkpoint_config(model))}, {Path(path).name}"] = model
    config = dict(checkpoint_config(next(iter(methods.values()))))
    torch.manual_seed(args.seed)
    methods[f"{network_label(config)}, untrained (seed {args.seed})"] = build_model(config.pop("model"), **config)
    methods["triangle merge, no alignment"] = TriangleMerge()
    methods["reference exposure only"] = ReferenceOnly()
    results = {}
    for name, model in methods.items():
        print(f"{name} on {len(dataset)} scenes in {root}")
        results[name] = evaluate(model.to(device), dataset, device)
    table = format_comparison(results)
    args.save_dir.mkdir(parents=True, exist_ok=True)
    (args.save_dir / "comparison.md").write_text(table + "\n")
    (args.save_dir / "comparison.json").write_text(json.dumps({"test_root": str(root), **results}, indent=2) + "\n")
    print(table)
    print(f"wrote comparison.md and comparison.json to {args.save_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
