"""Helpers every network shares: inside padding to a size the network needs, parameter counting, the
training output of a network that carries its own loss terms."""

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def pad_to_multiple(x: Tensor, multiple: int, minimum: int = 1) -> Tensor:
    """Reflect-pad (B, C, H, W) at the bottom and right so that H and W are multiples of ``multiple``, and
    at least ``minimum``.

    A pad smaller than the image is one reflect pad, as in the official code; a larger one (tiny
    inputs) is done as repeated reflections.
    """
    h, w = x.shape[-2:]
    pad_h, pad_w = (max(n + (-n) % multiple, minimum) - n for n in (h, w))
    while pad_h or pad_w:
        step_h, step_w = min(pad_h, x.shape[-2] - 1), min(pad_w, x.shape[-1] - 1)
        if (pad_h and step_h < 1) or (pad_w and step_w < 1):
            raise ValueError(f"input {h}x{w} is too small to reflect-pad")
        x = reflect_pad(x, (0, step_w, 0, step_h))
        pad_h, pad_w = pad_h - step_h, pad_w - step_w
    return x


def reflect_pad(x: Tensor, pad: tuple[int, int, int, int]) -> Tensor:
    """F.pad(x, pad, mode="reflect") for (B, C, H, W), pad = (left, right, top, bottom), each smaller than
    its side. Under deterministic algorithms (train.py --deterministic) it is built from flipped slices,
    whose backward is a fixed-order sum, since the reflection pad's CUDA backward adds with atomics."""
    if not torch.are_deterministic_algorithms_enabled():
        return F.pad(x, pad, mode="reflect")
    left, right, top, bottom = pad
    x = torch.cat([x[..., 1 : left + 1].flip(-1), x, x[..., x.shape[-1] - right - 1 : -1].flip(-1)], dim=-1)
    return torch.cat([x[..., 1 : top + 1, :].flip(-2), x, x[..., x.shape[-2] - bottom - 1 : -1, :].flip(-2)], dim=-2)


class ReflectConv2d(nn.Conv2d):
    """nn.Conv2d with reflect padding whose pad is :func:`reflect_pad` (deterministic when asked); same
    parameters and state-dict keys."""

    def _conv_forward(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        x = reflect_pad(x, self._reversed_padding_repeated_twice)
        return F.conv2d(x, weight, bias, self.stride, 0, self.dilation, self.groups)


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (elements) of the network a model deploys: without the sub-modules named in its
    ``training_only`` (a frozen target provider such as LF-Diff's stage-2 LPENet), as papers count them."""
    skip = tuple(f"{name}." for name in getattr(model, "training_only", ()))
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith(skip))


class TrainingOutput(NamedTuple):
    """What a network with loss terms of its own returns in training: the prediction (B, 3, H, W) (None
    when the reconstruction loss does not train it) and the scalar terms to add, by name."""

    prediction: Tensor | None
    losses: dict[str, Tensor]
