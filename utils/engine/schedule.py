"""What is trained when: the recipes of each network, the learning-rate schedules (cosine, or stepped) and
the epoch's sample order."""

import math

import torch
from torch.utils.data import Sampler

AFUNET = {"model": "afunet", "epochs": 400, "repeat": 100, "patch_size": 128, "lr": 5e-4, "lr_min": 5e-6}
# STHDR [L107, L113]: Adam 1e-4 cosine to 1e-6, batch 16, 256^2 crops, flips and rotations, mu-law L1 at
# each scale; "80000 epochs" of one crop per scene = 800 epochs of 100 crops per scene (U21); fine-tuning
# batch 8 at 384^2 for "2000 epochs" = 20 of 100 (U22).
STHDR = {"model": "sthdr", "lr": 1e-4, "lr_min": 1e-6, "augmentation": "paper", "loss": "multiscale", "repeat": 100}
# LF-Diff [L172]: Adam 1e-4 x0.1 every 50 epochs, batch 64, 128^2 crops (308 grid crops of a 1000x1500
# scene: --repeat 308), 300 epochs a stage, mu-law L1 + 0.01 VGG-19 perceptual [L125-L127] (U18-U21)
LFDIFF = {"model": "lfdiff", "lr": 1e-4, "lr_step": 50, "batch_size": 64, "patch_size": 128, "repeat": 308,
          "epochs": 300, "augmentation": "paper", "loss": "vgg", "perceptual_weight": 0.01}  # fmt: skip
RECIPES = {  # training-recipe.md (AFUNet: the paper's and the official code's), sthdr-paper.txt [L107]
    "paper": {**AFUNET, "batch_size": 6, "augmentation": "paper", "loss": "vgg"},
    "official": {**AFUNET, "batch_size": 4, "augmentation": "official", "loss": "fft"},
    "sthdr": {**STHDR, "batch_size": 16, "patch_size": 256, "epochs": 800},
    "sthdr_finetune": {**STHDR, "batch_size": 8, "patch_size": 384, "epochs": 20},
    "lfdiff": LFDIFF,
}
DEFAULT_RECIPE = {"afunet": "paper", "sthdr": "sthdr", "lfdiff": "lfdiff"}  # when --recipe is not given


def cosine_lr(epoch: int, epochs: int, lr: float, lr_min: float) -> float:
    """Official closed form, epoch 1-based: lr_min + (lr - lr_min) (1 + cos(pi (epoch - 1) / epochs)) / 2."""
    return lr_min + (lr - lr_min) * (1 + math.cos(math.pi * (epoch - 1) / epochs)) / 2


def learning_rate(epoch: int, epochs: int, lr: float, lr_min: float, lr_step: int = 0) -> float:
    """The rate of 1-based ``epoch``: ``lr`` times 0.1 every ``lr_step`` epochs, or with ``lr_step`` 0 the
    cosine from ``lr`` to ``lr_min`` over ``epochs``."""
    return lr * 0.1 ** ((epoch - 1) // lr_step) if lr_step else cosine_lr(epoch, epochs, lr, lr_min)


class EpochSampler(Sampler[int]):
    """A permutation of the dataset drawn from (seed, epoch) alone, optionally from position ``start`` (past
    the end: empty, as a run saved at the end of an epoch resumes)."""

    def __init__(self, n: int, seed: int, epoch: int, start: int = 0) -> None:
        self.n, self.seed, self.epoch, self.start = n, seed, epoch, min(start, n)

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g)[self.start :].tolist())

    def __len__(self) -> int:
        return self.n - self.start
