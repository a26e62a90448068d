"""The evaluation loop: predict every scene of a test set with the official protocol (or tiles), score the
labelled ones with the paper's metrics, and save the predictions."""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from datasets.testing import TestDataset
from utils.device import sync_device
from utils.hdr_io import write_hdr, write_png
from utils.metrics import METRICS, all_metrics
from utils.tonemap import mu_law_8bit

from .inference import TILE_OVERLAP, predict_full, predict_tiled


def evaluate(
    model: nn.Module,
    dataset: TestDataset,
    device: torch.device,
    save_dir: Path | None = None,
    save_inputs: bool = False,
    tile: int | None = None,
    overlap: int = TILE_OVERLAP,
    progress: bool = True,
    on_prediction: Callable[[dict, np.ndarray], None] | None = None,
) -> dict[str, Any]:
    """Predict every scene; score the labelled ones. Returns {'scenes': [...], 'mean': {...}, 'unlabeled': [...]}.

    ``on_prediction(item, prediction)`` sees each scene's item and (3, H, W) prediction as it is made.
    """
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
        if on_prediction is not None:
            on_prediction(item, pred)
    mean = {k: float(np.mean([r[k] for r in rows])) for k in METRICS} if rows else {}
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
