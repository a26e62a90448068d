"""Modulated deformable convolution (DCNv2, Zhu et al. 2019) in plain PyTorch, on ``grid_sample``.

Same definition and tensor layout as ``torchvision.ops.deform_conv2d`` with a mask (one deformable group,
stride 1, dilation 1): for output pixel p and kernel point k,

    y(p) = b + sum_k W_k * m_k(p) * x(p + p_k + dp_k),

where p_k runs over the kernel grid row by row, ``offset[:, 2k]`` is dp_k's row (y) part and
``offset[:, 2k + 1]`` its column (x) part, and ``mask[:, k]`` is m_k. x between pixels is bilinear; pixels
outside the image are zero. No compiled extension, so it runs wherever PyTorch does (CPU, CUDA, MPS).
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def deform_conv2d(x: Tensor, offset: Tensor, mask: Tensor, weight: Tensor, bias: Tensor | None, padding: int) -> Tensor:
    """x (B, C, H, W), offset (B, 2K, H', W'), mask (B, K, H', W'), weight (O, C, kh, kw) -> (B, O, H', W').

    H' = H + 2 padding - kh + 1 (stride 1). The sampling runs in float32 even under autocast: bfloat16
    cannot hold a pixel coordinate of a large image to a fraction of a pixel.
    """
    out_c, in_c, kh, kw = weight.shape
    b, _, h, w = x.shape
    h_out, w_out = h + 2 * padding - kh + 1, w + 2 * padding - kw + 1
    if offset.shape[1] != 2 * kh * kw or mask.shape[1] != kh * kw:
        raise ValueError(f"offset/mask need {2 * kh * kw}/{kh * kw} channels, got {offset.shape[1]}/{mask.shape[1]}")
    with torch.autocast(x.device.type, enabled=False):
        x, offset, mask = x.float(), offset.float(), mask.float()
        rows = torch.arange(h_out, device=x.device, dtype=x.dtype).view(1, h_out, 1) - padding
        cols = torch.arange(w_out, device=x.device, dtype=x.dtype).view(1, 1, w_out) - padding
        scale_y, scale_x = 2.0 / max(h - 1, 1), 2.0 / max(w - 1, 1)  # pixel -> [-1, 1], align_corners=True
        w_k = weight.float().reshape(out_c, in_c, kh * kw)
        y = None
        for k in range(kh * kw):
            i, j = divmod(k, kw)
            py = rows + i + offset[:, 2 * k]
            px = cols + j + offset[:, 2 * k + 1]
            grid = torch.stack((px * scale_x - 1, py * scale_y - 1), dim=-1)  # (B, H', W', 2) as (x, y)
            sampled = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
            term = torch.einsum("oc,bchw->bohw", w_k[:, :, k], sampled * mask[:, k : k + 1])
            y = term if y is None else y + term
        if bias is not None:
            y = y + bias.float().view(1, -1, 1, 1)
    return y


class ModulatedDeformConv(nn.Module):
    """DCNv2 layer [Zhu et al. 2019]: a regular conv predicts, from ``feat``, the offsets (2K channels) and
    the modulation mask (K channels, sigmoid) of a K = k x k deformable conv applied to ``x``.

    The offset/mask conv starts at zero (offsets 0, mask 0.5): at initialisation the layer is a regular
    conv scaled by one half, as in DCNv2.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, offset_channels: int | None = None):
        super().__init__()
        self.padding = kernel_size // 2
        points = kernel_size * kernel_size
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels))
        ref = nn.Conv2d(in_channels, out_channels, kernel_size)  # PyTorch's default initialisation
        with torch.no_grad():
            self.weight.copy_(ref.weight)
            self.bias.copy_(ref.bias)
        self.offset_mask = nn.Conv2d(offset_channels or in_channels, 3 * points, kernel_size, padding=self.padding)
        nn.init.zeros_(self.offset_mask.weight)
        nn.init.zeros_(self.offset_mask.bias)

    def offsets_and_mask(self, feat: Tensor) -> tuple[Tensor, Tensor]:
        """(B, C, H, W) -> offset (B, 2K, H, W), mask (B, K, H, W) in (0, 1) (mmcv's packed layout)."""
        om = self.offset_mask(feat)
        points = om.shape[1] // 3
        return om[:, : 2 * points], torch.sigmoid(om[:, 2 * points :])

    def forward(self, x: Tensor, feat: Tensor | None = None) -> Tensor:
        """Deformable conv of x (B, C, H, W) steered by ``feat`` (default: x itself) -> (B, O, H, W)."""
        offset, mask = self.offsets_and_mask(x if feat is None else feat)
        return deform_conv2d(x, offset, mask, self.weight, self.bias, self.padding)
