"""Make the README figures in readme-img/: sample scenes side by side, and the demo run's training curve.

    python scripts/make_figures.py

samples.png: for each chosen sample scene, the three LDR inputs as captured, then the triangle merge
(no alignment, ghosts where objects move), the AFUNet output and the label, tone-mapped with the
mu-law (mu = 5000). training_curve.png: training loss per logged iteration and validation PSNR-mu per
epoch, read from the run's log.jsonl.
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datasets.layouts import LAYOUTS  # noqa: E402
from datasets.samples import ensure_samples  # noqa: E402
from datasets.scene import list_scenes  # noqa: E402
from datasets.testing import TestDataset  # noqa: E402
from models import load_model  # noqa: E402
from models.baselines import TriangleMerge, exposure  # noqa: E402
from utils.cli import Parser, run_cli  # noqa: E402
from utils.engine.inference import predict_full  # noqa: E402
from utils.errors import UserError  # noqa: E402
from utils.metrics import psnr_mu  # noqa: E402
from utils.tonemap import mu_law_8bit  # noqa: E402

DEMO = Path("pretrain_model")


def hwc(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().transpose(1, 2, 0)


def sample_figure(checkpoint: Path, scenes: list[str], out: Path) -> None:
    """One row per scene: short, reference, long, triangle merge, AFUNet, label."""
    root = ensure_samples()
    folders = [f for f in list_scenes(root) if f.name in scenes]
    dataset = TestDataset(None, LAYOUTS["kalantari"], folders)
    model = load_model(checkpoint)[0].eval()
    fig, axes = plt.subplots(len(dataset), 6, figsize=(18, 2.35 * len(dataset) + 0.4), squeeze=False)
    for row, item in zip(axes, dataset):
        x, label = item["input"][None], hwc(item["label"])
        with torch.inference_mode():
            merged, pred = hwc(TriangleMerge()(x)[0]), hwc(predict_full(model, x)[0])
        panels = [(hwc(exposure(x, i)[1][0]), title) for i, title in enumerate(("short", "reference", "long"))]
        panels += [(mu_law_8bit(img), f"{title} ({psnr_mu(img, label):.1f} dB)" if title != "label" else title)
                   for img, title in ((merged, "triangle merge"), (pred, "AFUNet"), (label, "label"))]  # fmt: skip
        for ax, (img, title) in zip(row, panels):
            ax.imshow(np.clip(img, 0, 1))
            ax.set_title(f"{item['name']}: {title}" if title == "short" else title, fontsize=10)
            ax.axis("off")
    fig.suptitle("Sample scenes (held out): LDR inputs as captured; HDR images μ-law tone-mapped, PSNR-μ in brackets")
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)


def training_curve(log: Path, out: Path) -> None:
    """Training loss (left axis) and validation PSNR-mu (right axis) against iterations; a vertical line
    where a record's 'phase' changes (a fine-tuning phase started from the previous weights)."""
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    train = [r for r in records if r.get("kind") == "train"]
    val = [r for r in records if r.get("kind") == "val"]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot([r["iteration"] for r in train], [r["loss"] for r in train], color="tab:blue", lw=1)
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss (L1 on μ-law + FFT term)", color="tab:blue")
    if val:
        ax2 = ax.twinx()
        ax2.plot([r["iteration"] for r in val], [r["psnr_mu"] for r in val], "o-", color="tab:red")
        ax2.set_ylabel("validation PSNR-μ (dB)", color="tab:red")
    for before, after in zip(train, train[1:]):
        if before.get("phase") != after.get("phase"):
            ax.axvline(before["iteration"], color="gray", ls="--", lw=1)
            ax.text(before["iteration"], ax.get_ylim()[1], f" phase {after['phase']}", va="top", color="gray")
    ax.set_title("Demo run (pretrain_model/AFUNet_synthetic.pth)")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = Parser(__doc__)
    p.add_argument("--pretrained_model", type=Path, default=DEMO / "AFUNet_synthetic.pth")
    p.add_argument("--log", type=Path, default=DEMO / "AFUNet_synthetic_log.jsonl", help="the run's log.jsonl")
    p.add_argument("--scenes", nargs="+", default=["002", "007"], help="sample scenes to show")
    p.add_argument("--out", type=Path, default=Path("readme-img"))
    args = p.parse_args(argv)
    for path in (args.pretrained_model, args.log):
        if not path.is_file():
            raise UserError(f"{path}: not found")
    args.out.mkdir(parents=True, exist_ok=True)
    sample_figure(args.pretrained_model, args.scenes, args.out / "samples.png")
    training_curve(args.log, args.out / "training_curve.png")
    print(f"wrote samples.png and training_curve.png to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
