"""Result tables and report files laid out like the papers' tables, with the evaluated network's paper row."""

import csv
import json
import math
import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models import NETWORK_VARIANTS

from .inference import TEST_PAD

COLUMNS = {"psnr_mu": "PSNR-μ", "psnr_l": "PSNR-l", "ssim_mu": "SSIM-μ", "ssim_l": "SSIM-l", "hdrvdp2": "HDR-VDP-2"}


def _row(psnr_mu: float, psnr_l: float, ssim_mu: float, ssim_l: float, hdrvdp2: float) -> dict[str, float]:
    return {"psnr_mu": psnr_mu, "psnr_l": psnr_l, "ssim_mu": ssim_mu, "ssim_l": ssim_l, "hdrvdp2": hdrvdp2}


# (network, variant) -> dataset -> the paper's row. AFUNet: Tables 1-3 of its paper (paper-results.md);
# STHDR: Table 1 (SCM_MS) and the ablations of Table 3, Kalantari only (sthdr-paper.txt L150-L202);
# LF-Diff: Table 1, the full model (lfdiff-paper.txt L187-L198).
PAPER_RESULTS = {
    ("afunet", None): {
        "kalantari": _row(44.91, 42.59, 0.9923, 0.9906, 66.75),
        "hu": _row(48.83, 52.13, 0.9968, 0.9991, 77.44),
        "tel": _row(43.31, 47.83, 0.9876, 0.9959, 71.08),
    },
    ("sthdr", "SCM_MS"): {"kalantari": _row(42.8409, 40.4269, 0.9893, 0.9853, 62.2958)},
    ("sthdr", "SCM_SS"): {"kalantari": _row(42.1324, 40.2872, 0.9889, 0.9846, 60.2071)},
    ("sthdr", "MS"): {"kalantari": _row(42.1188, 40.2144, 0.9882, 0.9844, 61.7550)},
    ("sthdr", "SS"): {"kalantari": _row(41.6693, 39.8216, 0.9869, 0.9833, 59.3218)},
    ("sthdr", "HSS"): {"kalantari": _row(39.3389, 38.7547, 0.9809, 0.9809, 54.9542)},
    ("lfdiff", "full"): {
        "kalantari": _row(44.76, 42.59, 0.9919, 0.9906, 66.54),
        "hu": _row(48.74, 52.10, 0.9968, 0.9993, 77.35),
    },
}
# each network's default variant, not named in a table's method label
DEFAULT_VARIANTS = {name: variants[0] for name, variants in NETWORK_VARIANTS.items()}
NAMES = {"afunet": "AFUNet", "sthdr": "STHDR", "lfdiff": "LF-Diff"}


def full_frame_protocol(pad: int = TEST_PAD) -> str:
    """The test protocol's line in results.json: one full-frame pass, reflect-padded to a multiple of ``pad``."""
    own = "" if pad == TEST_PAD else " (the network's own)"
    return f"full frame, reflect-padded to a multiple of {pad}{own}, one pass, float32"


def network_label(config: dict[str, Any] | None) -> str:
    """'AFUNet', 'STHDR', 'STHDR HSS': the network of a checkpoint config, with a non-default variant."""
    config = config or {}
    name = NAMES.get(config.get("model", "afunet"), config.get("model", "?"))
    variant = config.get("variant")
    return f"{name} {variant}" if variant and variant != DEFAULT_VARIANTS.get(config.get("model")) else name


def paper_row(config: dict[str, Any] | None, dataset: str | None) -> dict[str, float] | None:
    """The paper's row for this network (and variant) on ``dataset``, if the paper reports one."""
    config = config or {}
    return PAPER_RESULTS.get((config.get("model", "afunet"), config.get("variant")), {}).get(dataset or "")


def columns_of(result: dict[str, Any]) -> list[str]:
    """The metric columns a result holds, in the paper's order (HDR-VDP-2 only when it was computed)."""
    present = result["mean"] or (result["scenes"][0] if result["scenes"] else {})
    return [k for k in COLUMNS if k in present] or [k for k in COLUMNS if k != "hdrvdp2"]


def row(name: str, values: dict[str, float], cols: list[str], signed: bool = False) -> str:
    """One Markdown row: PSNRs and HDR-VDP-2 with 2 decimals, SSIMs with 4."""
    sign = "+" if signed else ""
    cells = [f"{values[k]:{sign}.{4 if k.startswith('ssim') else 2}f}" for k in cols]
    return f"| {name} | " + " | ".join(cells) + " |"


def format_table(result: dict[str, Any], dataset: str | None, config: dict[str, Any] | None = None) -> str:
    """Markdown table laid out like the paper's: per scene, the mean, and the paper's row of the network
    of ``config`` (a checkpoint config; AFUNet when None) if known."""
    method = f"{network_label(config)} (this run)"
    cols = columns_of(result)
    lines = ["| Scene | " + " | ".join(COLUMNS[k] for k in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    lines += [row(r["scene"], r, cols) for r in result["scenes"]]
    if result["mean"]:
        lines.append(row(f"**{method}, mean of {len(result['scenes'])}**", result["mean"], cols))
        paper = paper_row(config, dataset)
        if paper:
            lines.append(row(f"{network_label(config)} (paper, {dataset})", paper, cols))
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


def strict_json(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None (JSON null; a PSNR of identical images is
    infinite), so that results.json is strict JSON that any parser reads."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    return value


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
    protocol = meta.get("protocol") or full_frame_protocol()
    payload = {**meta, "protocol": protocol, "software": software_versions(), **result}
    (save_dir / "results.json").write_text(json.dumps(strict_json(payload), indent=2, allow_nan=False) + "\n")
    table = format_table(result, dataset, meta.get("model_config"))
    (save_dir / "results.md").write_text(table + "\n")
    return table
