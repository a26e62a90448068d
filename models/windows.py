"""Attention machinery shared by the modules: 8x8 windows, relative position bias, shifted-window
masks (cached per size), window attention (SFM, SAM) and transposed channel attention (CFM).

Features are kept channels-last, ``(B, H, W, C)``: a token is a pixel, as in the official code.
"""

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

WINDOW = 8  # window size of every window attention (afunet-architecture.md, Sec. 2)
MASK_VALUE = -100.0  # logit added between tokens of different regions in shifted windows
CACHED_WINDOWS = 32  # windows whose attention scores stay in the CPU caches (32 x 4 heads x 64 x 64 floats: 2 MiB)


def window_partition(x: torch.Tensor, ws: int = WINDOW) -> torch.Tensor:
    """(B, H, W, C) -> (B, nW, ws*ws, C), windows in row-major order, tokens row-major inside."""
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c).transpose(2, 3)
    return x.reshape(b, (h // ws) * (w // ws), ws * ws, c)


def window_reverse(windows: torch.Tensor, h: int, w: int, ws: int = WINDOW) -> torch.Tensor:
    """(B, nW, ws*ws, C) -> (B, H, W, C); the inverse of :func:`window_partition`."""
    b, c = windows.shape[0], windows.shape[-1]
    x = windows.view(b, h // ws, w // ws, ws, ws, c).transpose(2, 3)
    return x.reshape(b, h, w, c)


def relative_position_index(ws: int = WINDOW) -> torch.Tensor:
    """(ws*ws, ws*ws) int64: row of the bias table for query i and key j (Swin)."""
    coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]) + (ws - 1)
    return rel[0] * (2 * ws - 1) + rel[1]


@lru_cache(maxsize=16)
@torch.inference_mode(False)  # cached tensors must also serve training
def shifted_window_mask(
    h: int, w: int, shift: int, device: torch.device, ws: int = WINDOW
) -> tuple[torch.Tensor, torch.Tensor]:
    """The Swin mask of a window shift on an H x W map, cached per size: 0 between tokens of one
    region, -100 across regions. Only windows on the bottom and right border have a non-zero mask, so
    it is returned for those alone: (indices of the windows (M,), mask (M, 1, ws*ws, ws*ws))."""
    labels = torch.zeros(1, h, w, 1)
    bands = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
    for n, (rows, cols) in enumerate((r, c) for r in bands for c in bands):
        labels[:, rows, cols, :] = n
    n_rows, n_cols = h // ws, w // ws  # windows; the right column, then the bottom row, in ascending order
    right = [r * n_cols + n_cols - 1 for r in range(n_rows - 1)]
    idx = torch.tensor(right + [(n_rows - 1) * n_cols + c for c in range(n_cols)])
    lw = window_partition(labels, ws).squeeze(-1)[0, idx]  # (M, ws*ws)
    mask = (lw[:, :, None] != lw[:, None, :]).float() * MASK_VALUE
    return idx.to(device), mask.unsqueeze(1).to(device)


@lru_cache(maxsize=16)
@torch.inference_mode(False)
def window_layout(h: int, w: int, shift: int | None, device: torch.device, source: int | None = None) -> torch.Tensor:
    """Index that rearranges the pixels of an H x W map, (B, H*W, C), from one layout to another in one
    gather: ``x[:, index]``. A layout is None for row-major pixels, or a shift for the window partition
    (:func:`window_partition`) of the map cyclically shifted by -shift (``torch.roll``); ``shift`` is
    the layout wanted, ``source`` the one given. Cached per size: (H*W,) int64."""

    def pixels_of(layout: int | None) -> torch.Tensor:  # the row-major pixel at each position of a layout
        pixels = torch.arange(h * w).view(1, h, w, 1)
        if layout is None:
            return pixels.flatten()
        return window_partition(torch.roll(pixels, (-layout, -layout), dims=(1, 2)) if layout else pixels).flatten()

    position = torch.empty(h * w, dtype=torch.long)
    position[pixels_of(source)] = torch.arange(h * w)
    return position[pixels_of(shift)].to(device)


Chunk = tuple[int, int, tuple[torch.Tensor, torch.Tensor] | None]


@lru_cache(maxsize=64)
@torch.inference_mode(False)
def window_chunks(batch: int, h: int, w: int, shift: int, device: torch.device, size: int) -> tuple[Chunk, ...]:
    """The B*nW windows of a (B, H, W, C) map in consecutive runs of ``size`` windows, for per-window work
    done a cache-sized piece at a time: (start, end, mask) with the shifted-window mask of the run's
    windows in the form :func:`windowed_attention` takes (indices within the run), or None."""
    n = (h // WINDOW) * (w // WINDOW)
    idx, m = shifted_window_mask(h, w, shift, device) if shift else (torch.zeros(0, dtype=torch.long), None)
    masked = (torch.arange(batch)[:, None] * n + idx.cpu()[None]).flatten()
    chunks = []
    for start in range(0, batch * n, size):
        end = min(start + size, batch * n)
        inside = ((masked >= start) & (masked < end)).nonzero().flatten()
        mask = None
        if len(inside):
            mask = ((masked[inside] - start).to(device), m[(inside % len(idx)).to(device)])
        chunks.append((start, end, mask))
    return tuple(chunks)


class RelativePositionBias(nn.Module):
    """Learned bias per head for every (query, key) offset in a window: a (2ws-1)^2 x heads table."""

    def __init__(self, heads: int, ws: int = WINDOW) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.zeros((2 * ws - 1) ** 2, heads))
        self.register_buffer("relative_position_index", relative_position_index(ws), persistent=False)
        nn.init.trunc_normal_(self.table, std=0.02)
        self._cached: tuple[tuple[int, int], torch.Tensor] | None = None

    def train(self, mode: bool = True) -> "RelativePositionBias":
        """Also forgets the cached bias: a fused optimiser step (``Adam(fused=True)``) changes the table in
        place without bumping its version, and evaluation always starts with ``eval()``."""
        self._cached = None
        return super().train(mode)

    def forward(self) -> torch.Tensor:
        """-> (heads, ws*ws, ws*ws). Without autograd, computed once per state of the table and reused."""
        if torch.is_grad_enabled() or torch.compiler.is_compiling():
            return self.gather()
        key = (self.table.data_ptr(), self.table._version)
        if self._cached is None or self._cached[0] != key:
            self._cached = (key, self.gather().contiguous())
        return self._cached[1]

    def gather(self) -> torch.Tensor:
        """The table's rows for every (query, key) pair: (heads, ws*ws, ws*ws)."""
        n = self.relative_position_index.shape[0]
        return self.table[self.relative_position_index.view(-1)].view(n, n, -1).permute(2, 0, 1)


def windowed_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    heads: int,
    bias: torch.Tensor,
    mask: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Multi-head attention inside windows: softmax(q k^T / sqrt(d) + bias [+ mask]) v.

    q, k, v: (B, nW, N, C), heads laid out head-major over C; bias: (heads, N, N); mask: the
    (window indices, (M, 1, N, N) masks) of :func:`shifted_window_mask`. Returns (B, nW, N, C).
    Training on the CPU, where PyTorch has no fused kernel that takes a learned bias, and in deterministic
    training (train.py --deterministic: the fused kernels' backward adds with atomics), this is the
    plain formula in the official op order, the mask added to every window. In CPU inference on at
    most CACHED_WINDOWS windows (the pieces of the inference path), the same formula in place, which
    beats the fused kernel while the scores stay in cache. Otherwise all windows share the bias, which
    keeps scaled_dot_product_attention on its fused path, and the few masked windows are then
    recomputed with their mask.
    """
    b, nw, n, c = q.shape
    d = c // heads

    def split(t: torch.Tensor) -> torch.Tensor:  # (B, m, N, C) -> (B*m, heads, N, d)
        return t.reshape(-1, n, heads, d).transpose(1, 2)

    def merge(t: torch.Tensor, m: int) -> torch.Tensor:
        return t.transpose(1, 2).reshape(b, m, n, c)

    bias = bias.to(q.dtype)
    if torch.is_grad_enabled() and (q.device.type == "cpu" or torch.are_deterministic_algorithms_enabled()):
        if mask is not None:
            idx, m = mask
            bias = bias + q.new_zeros(nw, 1, n, n).index_copy(0, idx, m.to(q.dtype))
        attn = (split(q) * d**-0.5) @ split(k).transpose(-2, -1)
        attn = (attn.view(b, nw, heads, n, n) + bias).view(b * nw, heads, n, n).softmax(dim=-1)
        return merge(attn @ split(v), nw)

    if q.device.type == "cpu" and b * nw <= CACHED_WINDOWS:
        attn = split(q) @ split(k).transpose(-2, -1)
        attn.mul_(d**-0.5).add_(bias)
        if mask is not None:
            idx, m = mask
            attn.view(b, nw, heads, n, n)[:, idx] += m.to(q.dtype)
        return merge(attn.softmax(dim=-1) @ split(v), nw)

    out = merge(F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=bias[None]), nw)
    if mask is not None:
        idx, m = mask
        sub = [split(t[:, idx]) for t in (q, k, v)]
        masked = F.scaled_dot_product_attention(*sub, attn_mask=(bias + m.to(q.dtype)).repeat(b, 1, 1, 1))
        out = out.index_copy(1, idx, merge(masked, len(idx)))
    return out


class WindowSelfAttention(nn.Module):
    """Swin window self-attention with relative position bias (used by the SFM blocks)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.rpb = RelativePositionBias(heads)

    def forward(self, x: torch.Tensor, mask: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """x: (B, nW, N, C) windows; mask: shifted-window mask (see windowed_attention) -> (B, nW, N, C)."""
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        return self.proj(windowed_attention(q, k, v, self.heads, self.rpb(), mask))


class WindowCrossAttention(nn.Module):
    """Window cross-attention: queries from one feature, keys and values from another (SAM, Eq. 12)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.rpb = RelativePositionBias(heads)

    def forward(self, x_q: torch.Tensor, x_kv: torch.Tensor) -> torch.Tensor:
        """x_q, x_kv: (B, nW, N, C) windows -> (B, nW, N, C)."""
        k, v = self.kv(x_kv).chunk(2, dim=-1)
        return self.proj(windowed_attention(self.q(x_q), k, v, self.heads, self.rpb()))


class ChannelAttention(nn.Module):
    """Transposed (channel) attention of Restormer, with the query and the keys from different
    features: softmax(q^ k^T * temperature) v over C/heads x C/heads matrices, global over H x W."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.q = nn.Conv2d(dim, dim, 1, bias=False)
        self.k = nn.Conv2d(dim, dim, 1, bias=False)
        self.v = nn.Conv2d(dim, dim, 1, bias=False)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=False)

    def forward(self, x_q: torch.Tensor, x_kv: torch.Tensor) -> torch.Tensor:
        """x_q, x_kv: (B, H, W, C) -> (B, H, W, C). The 1x1 convolutions act per token."""
        b, h, w, c = x_q.shape

        def heads(t: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:  # -> (B, heads, C/heads, H*W)
            return F.linear(t, conv.weight.flatten(1)).view(b, h * w, self.heads, -1).permute(0, 2, 3, 1)

        q = F.normalize(heads(x_q, self.q), dim=-1)
        k = F.normalize(heads(x_kv, self.k), dim=-1)
        attn = (q @ k.transpose(-2, -1) * self.temperature).softmax(dim=-1)
        out = (attn @ heads(x_kv, self.v)).permute(0, 3, 1, 2).reshape(b, h, w, c)
        return F.linear(out, self.project_out.weight.flatten(1))
