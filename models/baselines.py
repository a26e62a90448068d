"""Classic baselines on the network's 18-channel input, scored by the same evaluator as AFUNet.

Exposure i occupies channels 6i..6i+5 as [H_i = L_i**2.2 / t_i, L_i] (datasets/inputs.py); i = 1 is the
reference. Outputs are clamped to [0, 1], the range of the labels and of AFUNet's sigmoid output.
"""

import torch
from torch import nn

EXPOSURES = 3
REFERENCE = 1


def exposure(x: torch.Tensor, i: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 18, H, W) -> (H_i, L_i), each (B, 3, H, W): exposure i in the linear domain and as captured."""
    return x[:, 6 * i : 6 * i + 3], x[:, 6 * i + 3 : 6 * i + 6]


class ReferenceOnly(nn.Module):
    """The reference exposure alone mapped to linear HDR: H_2 = L_2**2.2 / t_2."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return exposure(x, REFERENCE)[0].clamp(0, 1)


class TriangleMerge(nn.Module):
    """Debevec-Malik style merge without alignment: sum_i w(L_i) H_i / sum_i w(L_i), w(z) = min(z, 1 - z) per channel.

    Where every exposure has zero weight (all clipped or all black), the shortest exposure is used if the
    reference is bright and the longest if it is dark.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pairs = [exposure(x, i) for i in range(EXPOSURES)]
        weights = [torch.minimum(ldr, 1 - ldr).clamp_min(0) for _, ldr in pairs]
        total = sum(weights)
        merged = sum(w * h for w, (h, _) in zip(weights, pairs)) / total.clamp_min(1e-8)
        fallback = torch.where(exposure(x, REFERENCE)[1] > 0.5, pairs[0][0], pairs[-1][0])
        return torch.where(total > 1e-8, merged, fallback).clamp(0, 1)
