"""Run a network over a test set with the official protocol; write per-scene tables and predictions."""

import csv
import json
import platform
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from datasets.layouts import LAYOUTS, Layout, layout_from_args
from datasets.testing import TestDataset

from .hdr_io import write_hdr, write_png
from .inference import TEST_PAD, TILE_OVERLAP, predict_full, predict_tiled
from .metrics import all_metrics
from .tonemap import mu_law_8bit

COLUMNS = {"psnr_mu": "PSNR-μ", "psnr_l": "PSNR-l", "ssim_mu": "SSIM-μ", "ssim_l": "SSIM-l"}
# AFUNet rows of the paper's Tables 1-3 (paper-results.md)
PAPER_RESULTS = {
    "kalantari": {"psnr_mu": 44.91, "psnr_l": 42.59, "ssim_mu": 0.9923, "ssim_l": 0.9906},
    "hu": {"psnr_mu": 48.83, "psnr_l": 52.13, "ssim_mu": 0.9968, "ssim_l": 0.9991},
    "tel": {"psnr_mu": 43.31, "psnr_l": 47.83, "ssim_mu": 0.9876, "ssim_l": 0.9959},
}


def sync_device(device: torch.device) -> None:
    """Wait for queued CUDA work so that timings are real; a no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def evaluate(
    model: nn.Module,
    dataset: TestDataset,
    device: torch.device,
    save_dir: Path | None = None,
    save_inputs: bool = False,
    tile: int | None = None,
    overlap: int = TILE_OVERLAP,
    progress: bool = True,
) -> dict[str, Any]:
    """Predict every scene; score the labelled ones. Returns {'scenes': [...], 'mean': {...}, 'unlabeled': [...]}."""
    model.eval()
    rows, unlabeled = [], []
    bar = tqdm(range(len(dataset)), desc="testing", unit="scene", disable=not progress)
    for i in bar:
        item = dataset[i]
        x = item["input"][None].to(device)
        start = time.perf_counter()
        pred = predict_tiled(model, x, tile, overlap) if tile else predict_full(model, x)
        sync_device(device)
        seconds = time.perf_counter() - start
        pred = pred[0].float().cpu().numpy()
        if item["has_label"]:
            label = item["label"].numpy()
            pred = pred[:, : label.shape[1], : label.shape[2]]
            rows.append({"scene": item["name"], **all_metrics(pred, label), "seconds": seconds})
            bar.set_postfix(scene=item["name"], psnr_mu=f"{rows[-1]['psnr_mu']:.2f}", s=f"{seconds:.2f}")
        else:
            unlabeled.append(item["name"])
            bar.set_postfix(scene=item["name"], s=f"{seconds:.2f}")
        if save_dir is not None:
            save_prediction(save_dir, item, pred, save_inputs)
    mean = {k: float(np.mean([r[k] for r in rows])) for k in COLUMNS} if rows else {}
    return {"scenes": rows, "mean": mean, "unlabeled": unlabeled}


def save_prediction(save_dir: Path, item: dict, pred: np.ndarray, save_inputs: bool) -> None:
    """<scene>.hdr (linear RGBE, what HDR-VDP reads) and <scene>_tonemapped.png (mu-law, 8 bit);
    with save_inputs also the tone-mapped linearised reference exposure and label."""
    name, hdr = item["name"], pred.transpose(1, 2, 0)
    write_hdr(save_dir / f"{name}.hdr", hdr)
    write_png(save_dir / f"{name}_tonemapped.png", mu_law_8bit(hdr))
    if save_inputs:
        reference = item["input"][6:9].numpy().transpose(1, 2, 0)  # H_2 = L_2^2.2 / t_2
        write_png(save_dir / f"{name}_reference.png", mu_law_8bit(reference))
        if item["has_label"]:
            write_png(save_dir / f"{name}_label.png", mu_law_8bit(item["label"].numpy().transpose(1, 2, 0)))


def row(name: str, values: dict[str, float], signed: bool = False) -> str:
    """One Markdown row: PSNRs with 2 decimals, SSIMs with 4."""
    sign = "+" if signed else ""
    cells = [f"{values[k]:{sign}.{4 if k.startswith('ssim') else 2}f}" for k in COLUMNS]
    return f"| {name} | " + " | ".join(cells) + " |"


def format_table(result: dict[str, Any], dataset: str | None, method: str = "AFUNet (this run)") -> str:
    """Markdown table laid out like the paper's: per scene, the mean, and the paper's row if known."""
    head = "| Scene | " + " | ".join(COLUMNS.values()) + " |"
    lines = [head, "|---" * (len(COLUMNS) + 1) + "|"]

    lines += [row(r["scene"], r) for r in result["scenes"]]
    if result["mean"]:
        lines.append(row(f"**{method}, mean of {len(result['scenes'])}**", result["mean"]))
        paper = PAPER_RESULTS.get(dataset or "")
        if paper:
            lines.append(row(f"AFUNet (paper, {dataset})", paper))
            lines.append(row("difference (this run − paper)", {k: result["mean"][k] - paper[k] for k in COLUMNS}, True))
    if result["unlabeled"]:
        lines.append(f"\n{len(result['unlabeled'])} scene(s) without a label were predicted but not scored: "
                     + ", ".join(result["unlabeled"]))  # fmt: skip
    return "\n".join(lines)


def format_comparison(results: dict[str, dict[str, Any]]) -> str:
    """Markdown: the mean of every metric per method, then PSNR-μ per scene with one column per method."""
    lines = ["| Method | " + " | ".join(COLUMNS.values()) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    lines += [row(method, result["mean"]) for method, result in results.items()]
    lines += ["", "| Scene (PSNR-μ) | " + " | ".join(results) + " |", "|---" * (len(results) + 1) + "|"]
    per_scene = [{r["scene"]: r["psnr_mu"] for r in result["scenes"]} for result in results.values()]
    for scene in per_scene[0]:
        lines.append(f"| {scene} | " + " | ".join(f"{p[scene]:.2f}" for p in per_scene) + " |")
    return "\n".join(lines)


def software_versions() -> dict[str, str]:
    import cv2
    import skimage

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "opencv": cv2.__version__, "scikit-image": skimage.__version__}  # fmt: skip


def write_reports(result: dict[str, Any], save_dir: Path, meta: dict[str, Any], dataset: str | None) -> str:
    """Write results.csv, results.json and results.md into save_dir; return the Markdown table."""
    save_dir.mkdir(parents=True, exist_ok=True)
    with open(save_dir / "results.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["scene", *COLUMNS, "seconds"])
        for r in result["scenes"]:
            writer.writerow([r["scene"], *(f"{r[k]:.6f}" for k in COLUMNS), f"{r['seconds']:.3f}"])
        if result["mean"]:
            writer.writerow(["mean", *(f"{result['mean'][k]:.6f}" for k in COLUMNS), ""])
    protocol = meta.get("protocol") or f"full frame, reflect-padded to a multiple of {TEST_PAD}, one pass, float32"
    payload = {**meta, "protocol": protocol, "software": software_versions(), **result}
    (save_dir / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    table = format_table(result, dataset)
    (save_dir / "results.md").write_text(table + "\n")
    return table


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; anything else as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def test_set_from_args(args: Any) -> tuple[Layout, Path, str | None]:
    """(layout, test folder, dataset whose paper row applies). With neither --dataset nor --dataset_dir,
    the bundled sample scenes (synthesized on first use), which have no paper row."""
    if args.dataset is None and args.dataset_dir is None:
        from datasets.samples import SAMPLES_DIR, TEST_PATH, ensure_samples

        root = ensure_samples()
        return replace(LAYOUTS["kalantari"], dataset_dir=str(SAMPLES_DIR), test_path=TEST_PATH), root, None
    layout = layout_from_args(args)
    return layout, Path(layout.dataset_dir) / layout.test_path, args.dataset or "kalantari"


def run_test(args: Any) -> int:
    """test.py: load the checkpoint, evaluate the test split, write and print the tables."""
    from models.official import load_model

    layout, root, paper_row = test_set_from_args(args)
    dataset = TestDataset(root, layout)
    device = resolve_device(args.device)
    model, ckpt = load_model(args.pretrained_model)
    model.to(device)
    save_dir = Path(args.save_dir)
    print(f"{len(dataset)} scenes in {root}; checkpoint {args.pretrained_model}; device {device}")
    result = evaluate(model, dataset, device, save_dir, args.save_inputs, args.tile, args.tile_overlap)
    protocol = None
    if args.tile:
        protocol = f"tiled: {args.tile}x{args.tile} tiles, {args.tile_overlap} px overlap (not the paper protocol)"
    meta = {"checkpoint": str(args.pretrained_model), "model_config": getattr(model, "config", None),
            "checkpoint_meta": ckpt.get("meta"), "dataset": layout.__dict__, "test_root": str(root),
            "device": str(device), "protocol": protocol}  # fmt: skip
    table = write_reports(result, save_dir, meta, paper_row)
    print(table)
    print(f"wrote results.csv, results.json, results.md and predictions to {save_dir}")
    return 0
