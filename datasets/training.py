"""Training dataset: random 128x128 crops with the paper's or the official augmentation.

Each sample's randomness comes from its own generator seeded by (seed, epoch, index), so a sample does
not depend on which worker draws it, and a resumed run sees exactly the samples it would have seen.
"""

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from utils.errors import DatasetError

from .inputs import make_input
from .layouts import Layout
from .scene import list_scenes, read_scene

AUGMENTATIONS = ("paper", "official", "none")


def augment(ldrs: np.ndarray, label: np.ndarray, mode: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Apply one random geometric transform to (3, P, P, 3) LDRs and the (P, P, 3) label alike.

    paper: a 90-degree rotation (k = 0..3) and a horizontal flip with p = 0.5 (all 8 symmetries);
    official: with p = 0.5 a flip, vertical or horizontal with equal chance; none: identity.
    """
    if mode == "paper":
        k, flip = int(rng.integers(4)), bool(rng.integers(2))
        ldrs, label = np.rot90(ldrs, k, axes=(1, 2)), np.rot90(label, k, axes=(0, 1))
        if flip:
            ldrs, label = ldrs[:, :, ::-1], label[:, ::-1]
    elif mode == "official" and rng.random() < 0.5:
        axis = int(rng.integers(2))  # 0: vertical flip, 1: horizontal flip
        ldrs, label = np.flip(ldrs, axis=axis + 1), np.flip(label, axis=axis)
    return np.ascontiguousarray(ldrs), np.ascontiguousarray(label)


class TrainingDataset(Dataset):
    """Scenes decoded once into memory; length = scenes x repeat; item i uses scene i mod #scenes.

    Item: dict(input (18, P, P), label (3, P, P), name).
    """

    def __init__(
        self,
        root: str | Path,
        layout: Layout,
        patch_size: int = 128,
        repeat: int = 100,
        augmentation: str = "paper",
        seed: int = 443,
        folders: list[Path] | None = None,
    ) -> None:
        if augmentation not in AUGMENTATIONS:
            raise ValueError(f"augmentation must be one of {AUGMENTATIONS}, got {augmentation!r}")
        self.patch_size, self.repeat, self.augmentation, self.seed = patch_size, repeat, augmentation, seed
        self.epoch = 0
        self.scenes = [read_scene(f, layout) for f in (folders if folders is not None else list_scenes(root))]
        for s in self.scenes:
            h, w = s.label.shape[:2]
            if h < patch_size or w < patch_size:
                raise DatasetError(f"scene {s.name}: {w}x{h} is smaller than the {patch_size}x{patch_size} patch")

    def set_epoch(self, epoch: int) -> None:
        """Select the random stream of an epoch (call before iterating a DataLoader over it)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.scenes) * self.repeat

    def __getitem__(self, index: int) -> dict:
        scene = self.scenes[index % len(self.scenes)]
        rng = np.random.default_rng((self.seed, self.epoch, index))
        p = self.patch_size
        h, w = scene.label.shape[:2]
        y, x = int(rng.integers(h - p + 1)), int(rng.integers(w - p + 1))
        ldrs, label = augment(
            scene.ldrs[:, y : y + p, x : x + p], scene.label[y : y + p, x : x + p], self.augmentation, rng
        )
        return {
            "input": torch.from_numpy(make_input(ldrs, scene.exposure_times)),
            "label": torch.from_numpy(label.transpose(2, 0, 1).copy()),
            "name": scene.name,
        }
