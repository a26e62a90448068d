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
from models import needs_label
from utils.device import is_out_of_memory, sync_device
from utils.errors import UserError, require_finite
from utils.hdr_io import read_hdr, write_hdr, write_png
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
    hdrvdp_recipe: str | None = None,
    hdrvdp_ppd: float | None = None,
) -> dict[str, Any]:
    """Predict every scene; score the labelled ones. Returns {'scenes': [...], 'mean': {...}, 'unlabeled': [...]}.

    ``on_prediction(item, prediction)`` sees each scene's item and (3, H, W) prediction as it is made.
    With ``hdrvdp_recipe`` (needs ``save_dir``) each scene also gets HDR-VDP-2's Q ('hdrvdp2') of the
    prediction as saved to .hdr against the label, with that recipe or ``hdrvdp_ppd``.
    """
    if hdrvdp_recipe and save_dir is None:
        raise ValueError("HDR-VDP-2 scores the saved .hdr predictions: give save_dir")
    if hdrvdp_recipe:  # imported here: pyrtools and its imports cost half a second a run without the column
        from utils.metrics.hdrvdp.recipes import score
    oracle = needs_label(model)
    if oracle and tile:
        raise UserError("a network that reads the label (LF-Diff stage 1) is evaluated on full frames: drop --tile")
    model.eval()
    rows, unlabeled = [], []
    bar = tqdm(range(len(dataset)), desc="testing", unit="scene", disable=not progress)
    for i in bar:
        item = dataset[i]
        x = item["input"][None].to(device)
        start = time.perf_counter()
        if oracle and not item["has_label"]:
            raise UserError(f"scene {item['name']}: LF-Diff stage 1 reads its prior from the label, and it has none")
        label_in = item["label"][None].to(device) if oracle else None
        try:
            pred = predict_tiled(model, x, tile, overlap) if tile else predict_full(model, x, label=label_in)
        except RuntimeError as e:  # torch.cuda.OutOfMemoryError is one
            if not is_out_of_memory(e):
                raise
            how = f"{tile}x{tile} tiles" if tile else f"the full {x.shape[-2]}x{x.shape[-1]} frame"
            raise UserError(f"scene {item['name']}: out of {device.type} memory on {how}; give --tile 512 (smaller "
                            f"tiles need less; not the paper protocol) or use --device cpu") from None  # fmt: skip
        sync_device(device)
        seconds = time.perf_counter() - start
        pred = pred[0].float().cpu().numpy()
        require_finite(pred, f"scene {item['name']}: the prediction", " (broken weights or input); nothing written")
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
        if hdrvdp_recipe and item["has_label"]:
            saved = save_dir / f"{item['name']}.hdr"
            rows[-1]["hdrvdp2"] = score(read_hdr(saved), label.transpose(1, 2, 0), hdrvdp_recipe, hdrvdp_ppd,
                                        (str(saved), f"scene {item['name']}: label"))  # fmt: skip
            bar.set_postfix(scene=item["name"], psnr_mu=f"{rows[-1]['psnr_mu']:.2f}", q=f"{rows[-1]['hdrvdp2']:.2f}")
        if on_prediction is not None:
            on_prediction(item, pred)
    keys = [*METRICS, *(["hdrvdp2"] if hdrvdp_recipe and rows else [])]
    mean = {k: float(np.mean([r[k] for r in rows])) for k in keys} if rows else {}
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
