"""Factor-2 image pyramids: the coarser scales of a multi-scale network's input and of its labels."""

import torch.nn.functional as F
from torch import Tensor


def down2(x: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, C, H // 2, W // 2), bilinear with align_corners=False (the 2x2 mean on even sizes)."""
    return F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)


def up2(x: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, C, 2H, 2W), bilinear with align_corners=False."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def down_to(x: Tensor, size: tuple[int, int]) -> Tensor:
    """``x`` halved with :func:`down2` until its (H, W) is ``size``; ValueError if no halving gives it."""
    while tuple(x.shape[-2:]) != tuple(size):
        if x.shape[-2] < 2 * size[0] or x.shape[-1] < 2 * size[1]:
            raise ValueError(f"no factor-2 pyramid level of a {tuple(x.shape[-2:])} image is {tuple(size)}")
        x = down2(x)
    return x
