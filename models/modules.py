"""The paper's modules, one class each, as the official implementation computes them.

All features are channels-last, ``(B, H, W, C)``. Where the official code differs from the paper's
text, the docstring says what the code does (afunet-architecture.md, Sec. 10).
"""

import torch
from torch import nn

from .common import ReflectConv2d
from .windows import (
    WINDOW,
    ChannelAttention,
    WindowCrossAttention,
    WindowSelfAttention,
    shifted_window_mask,
    window_chunks,
    window_layout,
    window_partition,
    window_reverse,
)

WINDOW_RUN = 2048  # tokens per piece of the window-layout inference path


def in_windows_inference(module: nn.Module, x: torch.Tensor) -> bool:
    """Whether ``module`` runs its CPU inference path on ``x``: a CPU tensor, no autograd, eval mode, not
    being compiled (the path's loops over pieces of windows would unroll into the graph). On a GPU the
    whole-tensor path is the fast one."""
    return x.device.type == "cpu" and not (torch.is_grad_enabled() or module.training or torch.compiler.is_compiling())


def drop_path(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Stochastic depth per sample, rescaled by 1/keep (timm); the identity in eval or at rate 0."""
    if rate == 0.0 or not training:
        return x
    keep = 1.0 - rate
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


def conv_hwc(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """Apply a 2-D convolution to channels-last features: (B, H, W, C) -> (B, H, W, C')."""
    return conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


def conv3x3(c_in: int, c_out: int, groups: int = 1) -> nn.Conv2d:
    """3x3 convolution with reflect padding and bias, as every 3x3 conv of the official network."""
    return ReflectConv2d(c_in, c_out, 3, padding=1, padding_mode="reflect", groups=groups)


class MLP(nn.Module):
    """Token MLP Linear-GELU-Linear: the learned degradation operators D1, D3, D2^T, B^-1
    (Fig. 3d) and the dimension-reducing MLP of Eq. 15."""

    def __init__(self, c_in: int, hidden: int, c_out: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(c_in, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., C_in) -> (..., C_out); in inference, a few thousand tokens at a time (see SFM)."""
        if not in_windows_inference(self, x) or x.numel() <= WINDOW_RUN * x.shape[-1]:
            return self.fc2(self.act(self.fc1(x)))
        tokens = x.reshape(-1, x.shape[-1]).split(WINDOW_RUN)
        return torch.cat([self.fc2(self.act(self.fc1(t))) for t in tokens]).view(*x.shape[:-1], -1)


class SFEM(nn.Module):
    """Shallow Feature Extraction Module, Eq. 9: f_yi = SFEM_i(y_i), one 3x3 convolution."""

    def __init__(self, c_in: int = 6, dim: int = 24) -> None:
        super().__init__()
        self.conv = conv3x3(c_in, dim)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """y_i: (B, 6, H, W) = [H_i, L_i] -> f_yi: (B, H, W, dim)."""
        return self.conv(y).permute(0, 2, 3, 1)


class SAM(nn.Module):
    """Spatial Alignment Module, Eqs. 11-12: window cross-attention of f_alpha^{t-1} with D_i(f_x^{t-1}).

    As in the official code: Q from f_alpha, K and V from f_alpha + D_i(f_x), 2 heads, relative
    position bias, no shift; the FFN is a depthwise 3x3 conv, and the residual base D_i(f_x) is
    added twice: f_alpha^t = 2a + o + DWConv(a + o) with a = D_i(f_x), o the attention output.
    """

    def __init__(self, dim: int = 24, heads: int = 2, drop_path: float = 0.0) -> None:
        super().__init__()
        self.attn = WindowCrossAttention(dim, heads)
        self.dwconv = conv3x3(dim, dim, groups=dim)
        self.drop_path = drop_path

    def forward(self, d_x: torch.Tensor, f_alpha: torch.Tensor) -> torch.Tensor:
        """d_x = D_i(f_x^{t-1}), f_alpha = f_alpha_i^{t-1}: (B, H, W, C) -> f_alpha_i^t (B, H, W, C)."""
        h, w = f_alpha.shape[1:3]
        if in_windows_inference(self, f_alpha):
            z = self.attention_in_windows(d_x, f_alpha)
        else:
            o = self.attn(window_partition(f_alpha), window_partition(f_alpha + d_x))
            z = d_x + drop_path(window_reverse(o, h, w), self.drop_path, self.training)
        z = z + conv_hwc(self.dwconv, z)
        return z + d_x

    def attention_in_windows(self, d_x: torch.Tensor, f_alpha: torch.Tensor) -> torch.Tensor:
        """d_x + the window cross-attention, in inference: a few windows at a time (see SFM)."""
        b, h, w, c = f_alpha.shape
        to_windows = window_layout(h, w, 0, d_x.device)
        a, o = (t.reshape(b, h * w, c).index_select(1, to_windows).view(-1, WINDOW**2, c) for t in (d_x, f_alpha))
        z = torch.empty_like(a)
        for start, end, _ in window_chunks(b, h, w, 0, d_x.device, WINDOW_RUN // WINDOW**2):
            f, g = o[start:end], a[start:end]
            z[start:end] = g + self.attn(f[None], (f + g)[None])[0]
        return z.view(b, h * w, c).index_select(1, window_layout(h, w, None, d_x.device, 0)).view(b, h, w, c)


class SwinBlock(nn.Module):
    """One Swin Transformer block of the SFM: (shifted) window self-attention and an MLP, pre-norm."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, shift: int, drop_path: float) -> None:
        super().__init__()
        self.shift = shift
        self.drop_path = drop_path
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowSelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, int(dim * mlp_ratio), dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B, H, W, C); H and W multiples of the window."""
        h, w = x.shape[1:3]
        n = self.norm1(x)
        mask = None
        if self.shift:
            n = torch.roll(n, (-self.shift, -self.shift), dims=(1, 2))
            mask = shifted_window_mask(h, w, self.shift, x.device)
        a = window_reverse(self.attn(window_partition(n), mask), h, w)
        if self.shift:
            a = torch.roll(a, (self.shift, self.shift), dims=(1, 2))
        x = x + drop_path(a, self.drop_path, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.drop_path, self.training)

    def forward_in_windows(self, xw: torch.Tensor, b: int, h: int, w: int) -> None:
        """The same block in inference, in place on the residual stream already in this block's window
        layout (``window_layout(h, w, shift)``), xw: (B*nW, ws*ws, C). Everything per token (LayerNorm,
        attention, MLP, residual adds) runs a few windows at a time, so that the intermediates stay in
        the CPU caches."""
        for start, end, mask in window_chunks(b, h, w, self.shift, xw.device, WINDOW_RUN // WINDOW**2):
            t = xw[start:end]
            t = t + self.attn(self.norm1(t)[None], mask)[0]
            xw[start:end] = t + self.mlp(self.norm2(t))


class SFM(nn.Module):
    """Spatial Fusion Module, Eq. 13a: [f_us, f_r, f_vs] = SFM([f_alpha1, f_x, f_alpha3]).

    A SwinIR residual group: Swin blocks (every second one shifted by half a window), a 3x3 conv
    and a residual connection to the module input. In CPU inference the blocks keep the features in
    window layout and work through them a cache-sized piece at a time (:meth:`blocks_in_windows`).
    """

    def __init__(
        self,
        dim: int = 72,
        depth: int = 5,
        heads: int = 4,
        mlp_ratio: float = 2.0,
        drop_path: list[float] | None = None,
    ) -> None:
        super().__init__()
        rates = drop_path or [0.0] * depth
        self.blocks = nn.ModuleList(
            SwinBlock(dim, heads, mlp_ratio, shift=(WINDOW // 2) * (j % 2), drop_path=rates[j]) for j in range(depth)
        )
        self.conv = conv3x3(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3C) -> (B, H, W, 3C)."""
        if in_windows_inference(self, x):
            h = self.blocks_in_windows(x)
        else:
            h = x
            for block in self.blocks:
                h = block(h)
        return conv_hwc(self.conv, h) + x

    def blocks_in_windows(self, x: torch.Tensor) -> torch.Tensor:
        """The blocks in inference, the features kept in window layout from block to block: each
        change of shift is one gather into the other of two buffers, which the blocks update in place."""
        b, h, w, c = x.shape
        xw, layout = x.reshape(b, h * w, c), None
        buffers = [torch.empty_like(xw), torch.empty_like(xw)]
        for j, block in enumerate(self.blocks):
            xw = torch.index_select(xw, 1, window_layout(h, w, block.shift, x.device, layout), out=buffers[j % 2])
            block.forward_in_windows(xw.view(-1, WINDOW**2, c), b, h, w)
            layout = block.shift
        out = buffers[len(self.blocks) % 2]
        return torch.index_select(xw, 1, window_layout(h, w, None, x.device, layout), out=out).view(b, h, w, c)


class CFM(nn.Module):
    """Channel Fusion Module, Eqs. 13b-13c: f_u = U-CFM(f_us, f_x^{t-1}) (and V-CFM likewise).

    As in the official code: channel attention with Q from f_us and K, V from f_x + f_us, a
    depthwise 3x3 conv in place of the FFN, no LayerNorm, residual base f_x, and the caller's extra
    ``+ f_x`` included here: f_u = 2 f_x + o + DWConv(f_x + o).
    """

    def __init__(self, dim: int = 24, heads: int = 2) -> None:
        super().__init__()
        self.attn = ChannelAttention(dim, heads)
        self.conv = conv3x3(dim, dim, groups=dim)

    def forward(self, f_s: torch.Tensor, f_x: torch.Tensor) -> torch.Tensor:
        """f_s = f_us (or f_vs), f_x = f_x^{t-1}: (B, H, W, C) -> f_u (or f_v) (B, H, W, C)."""
        z = f_x + self.attn(f_s, f_x + f_s)
        z = z + conv_hwc(self.conv, z)
        return z + f_x


class DCM(nn.Module):
    """Data Consistency Module, Eqs. 8 and 14: f_xp = B^-1 (D2^T f_y2 + beta1 f_u + beta3 f_v).

    D2^T and B^-1 are learned token MLPs; beta1 and beta3 are learned scalars (init 0.5). As in the
    official code, f_y2 is the LayerNorm-ed reference embedding f_x^0.
    """

    def __init__(self, dim: int = 24, hidden: int = 48) -> None:
        super().__init__()
        self.d2t = MLP(dim, hidden, dim)
        self.b_inv = MLP(dim, hidden, dim)
        self.beta1 = nn.Parameter(torch.tensor(0.5))
        self.beta3 = nn.Parameter(torch.tensor(0.5))

    def forward(self, f_u: torch.Tensor, f_y2: torch.Tensor, f_v: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) each -> f_xp (B, H, W, C)."""
        return self.b_inv(self.d2t(f_y2) + self.beta1 * f_u + self.beta3 * f_v)
