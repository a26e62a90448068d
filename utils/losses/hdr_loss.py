"""Training losses in the mu-law domain: L1 (both recipes), VGG-19 perceptual (paper), FFT (official)."""

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError
from ..tonemap import mu_law
from .vgg import VGG19Features

ETA = 0.005  # weight of the perceptual (paper, Eq. 17) or FFT (official code) term
LOSSES = ("vgg", "fft", "l1", "multiscale")  # multiscale: utils/losses/multiscale.py (STHDR)


def fft_l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean |diff| of the real and imaginary parts of rfft2 over (H, W) (official 'local-enhanced' term)."""
    fa, fb = torch.fft.rfft2(a), torch.fft.rfft2(b)
    return F.l1_loss(torch.view_as_real(fa), torch.view_as_real(fb))


class HDRLoss(nn.Module):
    """L = ||tau(x) - tau(x_hat)||_1 + eta * term, term = sum_k ||phi_k(tau x) - phi_k(tau x_hat)||_1 (vgg),
    the FFT L1 (fft) or nothing (l1). Returns (total, {part: detached value}): no host sync per step."""

    def __init__(self, kind: str, vgg: VGG19Features | None = None, eta: float = ETA) -> None:
        super().__init__()
        if kind not in LOSSES[:3]:
            raise ValueError(f"loss must be one of {LOSSES[:3]}, got {kind!r}")
        if kind == "vgg" and vgg is None:
            raise ValueError("the vgg loss needs a VGG19Features module")
        self.kind, self.eta, self.vgg = kind, eta, vgg

    def forward(self, pred: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if not isinstance(pred, torch.Tensor):
            raise UserError(f"the {self.kind} loss takes one output, the network returns {len(pred)} "
                            f"(one per scale: train it with --loss multiscale)")  # fmt: skip
        tp, tl = mu_law(pred.float()), mu_law(label)
        l1 = F.l1_loss(tp, tl)
        if self.kind == "l1":
            return l1, {"l1": l1.detach()}
        if self.kind == "fft":
            term = fft_l1(tp, tl)
        else:
            term = sum(F.l1_loss(a, b) for a, b in zip(self.vgg(tp), self.vgg(tl)))
        return l1 + self.eta * term, {"l1": l1.detach(), self.kind: term.detach()}
