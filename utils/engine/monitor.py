"""What a training run reports: the JSONL log (the source of truth), the console and TensorBoard.

TensorBoard (``<run>/tensorboard``) gets the training loss (and each term of a network's own, e.g.
LF-Diff's stage 2), learning rate and speed, validation and test
metrics per epoch, and tone-mapped validation predictions beside their labels.
"""

import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from utils.tonemap import mu_law_8bit

TRAIN_SCALARS = ("loss", "lr", "it_per_s", "samples_per_s")


def tensorboard_available() -> bool:
    """True when the tensorboard package is installed (torch.utils.tensorboard needs it)."""
    return importlib.util.find_spec("tensorboard") is not None


class RunLog:
    """Appends records to ``log.jsonl``, prints their message, and mirrors the numbers to TensorBoard.

    ``enabled=False`` (ranks other than 0) makes every call a no-op.
    """

    def __init__(self, run_dir: Path, tensorboard: bool, enabled: bool = True) -> None:
        self.run_dir, self.tensorboard, self.enabled, self.writer = run_dir, tensorboard, enabled, None
        self.path = run_dir / "log.jsonl"

    def open_tensorboard(self, first_step: int) -> None:
        """Start writing events (rank 0, when asked for); a resumed run drops those from ``first_step`` on."""
        if self.enabled and self.tensorboard and self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=first_step or None)

    def __call__(self, message: str, **record: Any) -> None:
        if not self.enabled:
            return
        tqdm.write(message)
        with open(self.path, "a") as f:
            f.write(json.dumps({"time": time.time(), "message": message, **record}) + "\n")
        if self.writer is not None and record.get("kind") in ("train", "val", "test"):
            self.scalars(record)

    def scalars(self, record: dict[str, Any]) -> None:
        kind, step = record["kind"], record["iteration"]
        prefixes = ("loss_",) if kind == "train" else ("psnr", "ssim")  # a network's own loss terms, the metrics
        names = [*(TRAIN_SCALARS if kind == "train" else ()), *(k for k in record if k.startswith(prefixes))]
        for name in names:
            if name in record:
                self.writer.add_scalar(f"{kind}/{name}", record[name], step)
        self.writer.flush()

    def images(self, tag: str, pairs: list[tuple[str, np.ndarray, np.ndarray]], step: int) -> None:
        """Each (scene, prediction, label), linear (H, W, 3), as one mu-law image: prediction | label."""
        if self.writer is None:
            return
        for scene, pred, label in pairs:
            side_by_side = np.concatenate([mu_law_8bit(pred), mu_law_8bit(label)], axis=1)
            self.writer.add_image(f"{tag}/{scene}", side_by_side, step, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
