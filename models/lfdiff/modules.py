"""LF-Diff's modules as the paper names them: the alignment module AM [L117], the prior extractor LPENet
(Eq. 6, [L86-L90]), the Feature Refinement Module FRM (Eq. 7-8, [L94-L102]) and the Prior Integration
Module PIM ([L104-L115]).

``[Lnn]`` is line nn of the paper's text; ``U#`` an open choice of ``models/lfdiff/README.md``.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from utils.tonemap import mu_law

from .attention import PriorCrossAttention, RestormerBlock


def conv3x3(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, padding=1)


class ResidualBlock(nn.Module):
    """RB (U6): x + conv3x3(LReLU_0.1(conv3x3(x))), no normalisation. (B, C, H, W) -> same."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv3x3(c, c), nn.LeakyReLU(0.1), conv3x3(c, c))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ChannelAttention(nn.Module):
    """The FRM's channel attention [L102] (U8, RCAN's): x * sigmoid(conv1(ReLU(conv1(GAP(x))))), reduction 16."""

    def __init__(self, c: int = 60, reduction: int = 16) -> None:
        super().__init__()
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c // reduction, 1), nn.ReLU(), nn.Conv2d(c // reduction, c, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.gate(x))


def residual_blocks(c: int, depth: int) -> nn.Sequential:
    """RB^d: ``depth`` residual blocks in sequence (U27: 2 by default, 1 as the text reads)."""
    return nn.Sequential(*(ResidualBlock(c) for _ in range(depth)))


class FRM(nn.Module):
    """Feature Refinement Module, Eq. 7-8 [L94-L102]: F_{n-1} = RB(F_in); F_low = Avgpool(F_{n-1}, k),
    F_high = F_{n-1} - Upsample(F_low); F' = Concat[RB(F_high), Upsample(SA(F_low))]; out =
    CA(Conv1x1(F')) + F_{n-1} (U8). k = 2 [L172]. (B, C, H, W), H and W multiples of k -> same.

    The PIM subclass swaps SA for the prior cross-attention and k for 4; ``low_band`` is the only
    difference.
    """

    k = 2

    def __init__(self, c: int = 60, depth: int = 2, heads: int = 6) -> None:
        super().__init__()
        self.rb_in = residual_blocks(c, depth)
        self.rb_high = residual_blocks(c, depth)
        self.low = self.build_low_band(c, depth, heads)
        self.fuse = nn.Conv2d(2 * c, c, 1)
        self.ca = ChannelAttention(c)

    def build_low_band(self, c: int, depth: int, heads: int) -> nn.Module:
        return nn.Sequential(*(RestormerBlock(c, heads) for _ in range(depth)))

    def low_band(self, f_low: Tensor, z: Tensor | None) -> Tensor:
        return self.low(f_low)

    def split(self, f: Tensor) -> tuple[Tensor, Tensor]:
        """Eq. 7: (F_low (B, C, H/k, W/k), F_high (B, C, H, W)), F_high + Upsample(F_low) = F."""
        f_low = F.avg_pool2d(f, self.k)
        return f_low, f - self.upsample(f_low)

    def upsample(self, x: Tensor) -> Tensor:
        return F.interpolate(x, scale_factor=self.k, mode="nearest")

    def forward(self, f_in: Tensor, z: Tensor | None = None) -> Tensor:
        f = self.rb_in(f_in)
        f_low, f_high = self.split(f)
        f_cat = torch.cat([self.rb_high(f_high), self.upsample(self.low_band(f_low, z))], dim=1)
        return self.ca(self.fuse(f_cat)) + f


class PIM(FRM):
    """Prior Integration Module [L104-L115]: the FRM with its low-band SA replaced by the cross-attention
    with the prior z (Eq. 9), avgpool kernel 4 [L172] so that F_low has z's size. One cross-attention
    whatever the depth (U27). F (B, C, H, W), z (B, N, H/4, W/4) -> (B, C, H, W)."""

    k = 4

    def build_low_band(self, c: int, depth: int, heads: int) -> nn.Module:
        return PriorCrossAttention(c)

    def low_band(self, f_low: Tensor, z: Tensor | None) -> Tensor:
        if z is None:
            raise ValueError("a PIM needs the prior z")
        return self.low(f_low, z)


class SpatialAttention(nn.Module):
    """AM's attention for one non-reference exposure (U3): sigmoid(conv3(LReLU_0.01(conv3(cat(f_i, f_2)))))."""

    def __init__(self, c: int = 60) -> None:
        super().__init__()
        self.body = nn.Sequential(conv3x3(2 * c, 2 * c), nn.LeakyReLU(0.01), conv3x3(2 * c, c), nn.Sigmoid())

    def forward(self, f_i: Tensor, f_2: Tensor) -> Tensor:
        return self.body(torch.cat([f_i, f_2], dim=1))


class AM(nn.Module):
    """Alignment module [L117] (AHDRNet's spatial attention [41], U3): per-exposure features f_i, f_1 and
    f_3 weighted by their attention against the reference f_2, fused by a 3x3 conv into F_0.
    X (B, 3 * c_in, H, W), exposures in order -> (F_0 (B, C, H, W), f_2 (B, C, H, W))."""

    def __init__(self, c_in: int = 6, c: int = 60) -> None:
        super().__init__()
        self.c_in = c_in
        self.extract = nn.ModuleList(conv3x3(c_in, c) for _ in range(3))
        self.att1, self.att3 = SpatialAttention(c), SpatialAttention(c)
        self.fuse = conv3x3(3 * c, c)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        f_1, f_2, f_3 = (conv(x_i) for conv, x_i in zip(self.extract, x.split(self.c_in, dim=1)))
        f_0 = self.fuse(torch.cat([f_1 * self.att1(f_1, f_2), f_2, f_3 * self.att3(f_3, f_2)], dim=1))
        return f_0, f_2


class PriorEncoder(nn.Module):
    """LPENet's layout (U5): conv3(c_in->64) + LReLU(0.1), 4 RBs of 64, conv3(64->3), linear output (U7).
    (B, c_in, h, w) -> (B, 3, h, w)."""

    def __init__(self, c_in: int, c: int = 64, n: int = 3, blocks: int = 4) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv3x3(c_in, c), nn.LeakyReLU(0.1), *(ResidualBlock(c) for _ in range(blocks)), conv3x3(c, n)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class LPENet(PriorEncoder):
    """Low-frequency Prior Extraction Network, Eq. 6 [L86-L90]: z = LPENet(PixelUnshuffle_4(Concat(I_gt,
    T(I_gt)))), the prior encoder on 96 channels. I_gt (B, 3, H, W), H and W multiples of 4 -> z (B, 3, H/4,
    W/4)."""

    def __init__(self, factor: int = 4) -> None:
        super().__init__(6 * factor**2)
        self.unshuffle = nn.PixelUnshuffle(factor)

    def forward(self, i_gt: Tensor) -> Tensor:
        return self.body(self.unshuffle(torch.cat([i_gt, mu_law(i_gt)], dim=1)))


class LPENet_DM(PriorEncoder):  # the paper's name
    """LPENet_DM, Eq. 13 [L141-L143]: "a similar architecture to LPENet but with a modified input
    dimensionality for its first convolution layer", on AM_DM's features (U4): D = LPENet_DM(AM_DM(
    PixelUnshuffle(X_i))). (B, C, H/4, W/4) -> D (B, 3, H/4, W/4), computed once per image, not per step."""

    def __init__(self, c: int = 60) -> None:
        super().__init__(c)
