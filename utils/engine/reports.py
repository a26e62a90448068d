"""Result tables and report files laid out like the paper's tables, with the paper's AFUNet rows."""

import csv
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .inference import TEST_PAD

COLUMNS = {"psnr_mu": "PSNR-μ", "psnr_l": "PSNR-l", "ssim_mu": "SSIM-μ", "ssim_l": "SSIM-l", "hdrvdp2": "HDR-VDP-2"}
# AFUNet rows of the paper's Tables 1-3 (paper-results.md)
PAPER_RESULTS = {
    "kalantari": {"psnr_mu": 44.91, "psnr_l": 42.59, "ssim_mu": 0.9923, "ssim_l": 0.9906, "hdrvdp2": 66.75},
    "hu": {"psnr_mu": 48.83, "psnr_l": 52.13, "ssim_mu": 0.9968, "ssim_l": 0.9991, "hdrvdp2": 77.44},
    "tel": {"psnr_mu": 43.31, "psnr_l": 47.83, "ssim_mu": 0.9876, "ssim_l": 0.9959, "hdrvdp2": 71.08},
}


def columns_of(result: dict[str, Any]) -> list[str]:
    """The metric columns a result holds, in the paper's order (HDR-VDP-2 only when it was computed)."""
    present = result["mean"] or (result["scenes"][0] if result["scenes"] else {})
    return [k for k in COLUMNS if k in present] or [k for k in COLUMNS if k != "hdrvdp2"]


def row(name: str, values: dict[str, float], cols: list[str], signed: bool = False) -> str:
    """One Markdown row: PSNRs and HDR-VDP-2 with 2 decimals, SSIMs with 4."""
    sign = "+" if signed else ""
    cells = [f"{values[k]:{sign}.{4 if k.startswith('ssim') else 2}f}" for k in cols]
    return f"| {name} | " + " | ".join(cells) + " |"


def format_table(result: dict[str, Any], dataset: str | None, method: str = "AFUNet (this run)") -> str:
    """Markdown table laid out like the paper's: per scene, the mean, and the paper's row if known."""
    cols = columns_of(result)
    lines = ["| Scene | " + " | ".join(COLUMNS[k] for k in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    lines += [row(r["scene"], r, cols) for r in result["scenes"]]
    if result["mean"]:
        lines.append(row(f"**{method}, mean of {len(result['scenes'])}**", result["mean"], cols))
        paper = PAPER_RESULTS.get(dataset or "")
        if paper:
            lines.append(row(f"AFUNet (paper, {dataset})", paper, cols))
            diff = {k: result["mean"][k] - paper[k] for k in cols}
            lines.append(row("difference (this run − paper)", diff, cols, True))
    if result["unlabeled"]:
        lines.append(f"\n{len(result['unlabeled'])} scene(s) without a label were predicted but not scored: "
                     + ", ".join(result["unlabeled"]))  # fmt: skip
    return "\n".join(lines)


def format_comparison(results: dict[str, dict[str, Any]]) -> str:
    """Markdown: the mean of every metric per method, then PSNR-μ per scene with one column per method."""
    cols = columns_of(next(iter(results.values())))
    lines = ["| Method | " + " | ".join(COLUMNS[k] for k in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    lines += [row(method, result["mean"], cols) for method, result in results.items()]
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
    cols = columns_of(result)
    with open(save_dir / "results.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["scene", *cols, "seconds"])
        for r in result["scenes"]:
            writer.writerow([r["scene"], *(f"{r[k]:.6f}" for k in cols), f"{r['seconds']:.3f}"])
        if result["mean"]:
            writer.writerow(["mean", *(f"{result['mean'][k]:.6f}" for k in cols), ""])
    protocol = meta.get("protocol") or f"full frame, reflect-padded to a multiple of {TEST_PAD}, one pass, float32"
    payload = {**meta, "protocol": protocol, "software": software_versions(), **result}
    (save_dir / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    table = format_table(result, dataset)
    (save_dir / "results.md").write_text(table + "\n")
    return table
