"""LF-Diff's denoising network eps_theta(Concat(z_t, D), t) [L143]: "a variant of the commonly used U-Net
architecture from [19] ... with 3 levels of blocks {2, 2, 2}" [L172]; taken as Refusion's conditional
NAFNet U-Net at width 32 (U12), on the 3 x H/4 x W/4 latent.

``[Lnn]`` is line nn of the paper's text; ``U#`` an open choice of ``models/lfdiff/README.md``.
"""

import math

import torch
from torch import Tensor, nn

from ..common import pad_to_multiple
from .attention import LayerNorm2d


class SimpleGate(nn.Module):
    """NAFNet's gate: the two halves of the channels (or features) multiplied. (..., 2C, ...) -> (..., C, ...)."""

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        a, b = x.chunk(2, dim=self.dim)
        return a * b


class SinusoidalEmbedding(nn.Module):
    """The integer time step t (U26) as ``dim`` sines and cosines of geometric frequencies. (B,) -> (B, dim)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        half = dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half) / (half - 1))
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, t: Tensor) -> Tensor:
        angles = t.float()[:, None] * self.freqs[None]
        return torch.cat([angles.sin(), angles.cos()], dim=1)


class NAFBlock(nn.Module):
    """A NAFNet block modulated by the time embedding (U12): two residual sub-blocks, each LayerNorm (gain
    only) -> x (1 + scale) + shift; the first conv1 -> dwconv3 -> gate -> simplified channel attention ->
    conv1, the second conv1 -> gate -> conv1; residuals scaled by beta and gamma (initialised 0).
    x (B, C, h, w), time embedding (B, E) -> (B, C, h, w)."""

    def __init__(self, c: int, time_dim: int) -> None:
        super().__init__()
        self.modulation = nn.Sequential(SimpleGate(dim=-1), nn.Linear(time_dim // 2, 4 * c))
        self.norm1, self.norm2 = LayerNorm2d(c, bias=False), LayerNorm2d(c, bias=False)
        self.conv1 = nn.Conv2d(c, 2 * c, 1)
        self.conv2 = nn.Conv2d(2 * c, 2 * c, 3, padding=1, groups=2 * c)
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c, 1))
        self.conv3 = nn.Conv2d(c, c, 1)
        self.conv4 = nn.Conv2d(c, 2 * c, 1)
        self.conv5 = nn.Conv2d(c, c, 1)
        self.gate = SimpleGate()
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        shift1, scale1, shift2, scale2 = self.modulation(emb)[..., None, None].chunk(4, dim=1)
        y = self.gate(self.conv2(self.conv1(self.norm1(x) * (1 + scale1) + shift1)))
        x = x + self.conv3(y * self.sca(y)) * self.beta
        y = self.conv5(self.gate(self.conv4(self.norm2(x) * (1 + scale2) + shift2)))
        return x + y * self.gamma


class DenoisingUNet(nn.Module):
    """eps_theta [L143, L172] (U12): intro conv3 -> 3 encoder levels of {2, 2, 2} NAFBlocks at 32, 64, 128
    channels, each followed by a stride-2 conv -> 1 middle NAFBlock at 256 -> 3 decoder levels (conv1 +
    PixelShuffle up, plus the encoder's skip, 2 NAFBlocks) -> conv3 to the noise. The latent is
    reflect-padded to a multiple of 8 inside and cropped back.

    ``forward(Concat(z_t, D) (B, 6, h, w), t (B,) integer steps) -> eps_hat (B, 3, h, w)``.
    """

    def __init__(self, c_in: int = 6, c_out: int = 3, width: int = 32, blocks: tuple[int, ...] = (2, 2, 2),
                 middle: int = 1) -> None:  # fmt: skip
        super().__init__()
        time_dim = 4 * width
        self.time = nn.Sequential(
            SinusoidalEmbedding(width), nn.Linear(width, 2 * time_dim), SimpleGate(dim=-1),
            nn.Linear(time_dim, time_dim),
        )  # fmt: skip
        self.intro = nn.Conv2d(c_in, width, 3, padding=1)
        self.encoders, self.downs, self.ups, self.decoders = (nn.ModuleList() for _ in range(4))
        c = width
        for n in blocks:
            self.encoders.append(nn.ModuleList(NAFBlock(c, time_dim) for _ in range(n)))
            self.downs.append(nn.Conv2d(c, 2 * c, 2, stride=2))
            c *= 2
        self.middle = nn.ModuleList(NAFBlock(c, time_dim) for _ in range(middle))
        for n in reversed(blocks):
            self.ups.append(nn.Sequential(nn.Conv2d(c, 2 * c, 1, bias=False), nn.PixelShuffle(2)))
            c //= 2
            self.decoders.append(nn.ModuleList(NAFBlock(c, time_dim) for _ in range(n)))
        self.ending = nn.Conv2d(width, c_out, 3, padding=1)
        self.multiple = 2 ** len(blocks)

    @staticmethod
    def _run(blocks: nn.ModuleList, x: Tensor, emb: Tensor) -> Tensor:
        for block in blocks:
            x = block(x, emb)
        return x

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        emb = self.time(t)
        x = self.intro(pad_to_multiple(x, self.multiple))
        skips = []
        for blocks, down in zip(self.encoders, self.downs):
            x = self._run(blocks, x, emb)
            skips.append(x)
            x = down(x)
        x = self._run(self.middle, x, emb)
        for blocks, up, skip in zip(self.decoders, self.ups, reversed(skips)):
            x = self._run(blocks, up(x) + skip, emb)
        return self.ending(x)[..., :h, :w]
