"""The multi-scale loss of STHDR (Eq. 5 [L100]): L = sum_k lambda_k ||tau(H_hat^k) - tau(H^k)||_1, lambda_k = 1."""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..pyramid import down_to
from ..tonemap import mu_law


class MultiScaleL1(nn.Module):
    """Mean mu-law L1 of each output against the label brought to its size by the input's factor-2
    bilinear pyramid (label first, then tone map: U19), weight 1 each, summed (U20).

    ``outputs`` is a network's training output: one (B, 3, H, W) tensor or a list of them at H / 2^k.
    Returns (total, {"l1_s<k>": detached term}) with one term per output.
    """

    def forward(self, outputs: Tensor | list[Tensor], label: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
        terms = [F.l1_loss(mu_law(o.float()), mu_law(down_to(label, o.shape[-2:]))) for o in outputs]
        total = torch.stack(terms).sum()
        return total, {f"l1_s{k}": t.detach() for k, t in enumerate(terms)}
