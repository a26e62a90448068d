"""LF-Diff's attention pieces: the low-band self-attention of the FRM ("SA from [45]", Restormer, [L98])
and the prior cross-attention of the PIM (Eq. 9, [L111-L115]).

``[Lnn]`` is line nn of the paper's text; ``U#`` an open choice of ``models/lfdiff/README.md``.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class LayerNorm2d(nn.LayerNorm):
    """Per-pixel LayerNorm over the channels of (B, C, H, W), with gain and bias (Restormer's "WithBias")."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def _pointwise_depthwise(c_in: int, c_out: int) -> nn.Sequential:
    """W_d W_c: a bias-free 1x1 conv then a bias-free depth-wise 3x3 conv [L111]."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 1, bias=False), nn.Conv2d(c_out, c_out, 3, padding=1, groups=c_out, bias=False)
    )


class GDFN(nn.Module):
    """Restormer's gated-dconv feed-forward network, expansion 2.66 [L172] (U8): (B, C, H, W) -> same."""

    def __init__(self, c: int = 60, expansion: float = 2.66) -> None:
        super().__init__()
        hidden = int(c * expansion)
        self.project_in = _pointwise_depthwise(c, 2 * hidden)
        self.project_out = nn.Conv2d(hidden, c, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        x1, x2 = self.project_in(x).chunk(2, dim=1)
        return self.project_out(F.gelu(x1) * x2)


class MDTA(nn.Module):
    """Restormer's multi-dconv transposed attention, 6 heads [L172] (U8): per head a (C/h x C/h) channel
    attention map of L2-normalised q, k over the pixels, times a learnt temperature. (B, C, H, W) -> same."""

    def __init__(self, c: int = 60, heads: int = 6) -> None:
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = _pointwise_depthwise(c, 3 * c)
        self.project_out = nn.Conv2d(c, c, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q, k, v = (t.reshape(b, self.heads, c // self.heads, h * w) for t in self.qkv(x).chunk(3, dim=1))
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        attn = (q @ k.transpose(-2, -1) * self.temperature).softmax(dim=-1)
        return self.project_out((attn @ v).reshape(b, c, h, w))


class RestormerBlock(nn.Module):
    """SA of the FRM's low band [L98-L100]: x + MDTA(LN(x)), then x + GDFN(LN(x)). (B, C, h, w) -> same."""

    def __init__(self, c: int = 60, heads: int = 6) -> None:
        super().__init__()
        self.norm1, self.attn = LayerNorm2d(c), MDTA(c, heads)
        self.norm2, self.ffn = LayerNorm2d(c), GDFN(c)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class PriorCrossAttention(nn.Module):
    """The PIM's cross-attention, Eq. 9 [L111-L115] (U9): F_hat = W_c V_hat Softmax(K_hat Q_hat / gamma) + F,
    one head. Q from F (C channels), K and V from the prior z (N channels), all of one h x w; the
    N x C map is softmaxed over the prior's N channels, so each of F's channels takes a convex mix of
    V's. Then the FFN of the SA block it replaces: x + GDFN(LN(x)).

    F (B, C, h, w), z (B, N, h, w) -> (B, C, h, w); ``last_attention`` keeps the (B, N, C) map.
    """

    def __init__(self, c: int = 60, n: int = 3) -> None:
        super().__init__()
        self.norm_f, self.norm_z = LayerNorm2d(c), LayerNorm2d(n)
        self.q = _pointwise_depthwise(c, c)
        self.kv = _pointwise_depthwise(n, 2 * n)
        self.gamma = nn.Parameter(torch.ones(1))
        self.w_c = nn.Conv2d(c, c, 1, bias=False)
        self.norm_ffn, self.ffn = LayerNorm2d(c), GDFN(c)
        self.last_attention: Tensor | None = None

    def forward(self, f: Tensor, z: Tensor) -> Tensor:
        b, c, h, w = f.shape
        q = F.normalize(self.q(self.norm_f(f)).reshape(b, c, h * w), dim=-1)
        k, v = (t.reshape(b, -1, h * w) for t in self.kv(self.norm_z(z)).chunk(2, dim=1))
        attn = (F.normalize(k, dim=-1) @ q.transpose(-2, -1) / self.gamma).softmax(dim=1)  # (B, N, C)
        self.last_attention = attn.detach()
        f = f + self.w_c((attn.transpose(-2, -1) @ v).reshape(b, c, h, w))
        return f + self.ffn(self.norm_ffn(f))
