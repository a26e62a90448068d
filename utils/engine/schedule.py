"""What is trained when: the two recipes, the cosine learning-rate schedule and the epoch's sample order."""

import math

import torch
from torch.utils.data import Sampler

RECIPES = {  # training-recipe.md: the paper's and the official code's
    "paper": {"batch_size": 6, "augmentation": "paper", "loss": "vgg"},
    "official": {"batch_size": 4, "augmentation": "official", "loss": "fft"},
}


def cosine_lr(epoch: int, epochs: int, lr: float, lr_min: float) -> float:
    """Official closed form, epoch 1-based: lr_min + (lr - lr_min) (1 + cos(pi (epoch - 1) / epochs)) / 2."""
    return lr_min + (lr - lr_min) * (1 + math.cos(math.pi * (epoch - 1) / epochs)) / 2


class EpochSampler(Sampler[int]):
    """A permutation of the dataset drawn from (seed, epoch) alone, optionally from position ``start``."""

    def __init__(self, n: int, seed: int, epoch: int, start: int = 0) -> None:
        self.n, self.seed, self.epoch, self.start = n, seed, epoch, start

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g)[self.start :].tolist())

    def __len__(self) -> int:
        return self.n - self.start
