"""Training losses in the mu-law domain, the frozen VGG-19 of the perceptual term, and the one builder."""

from torch import nn

from .hdr_loss import ETA, LOSSES, HDRLoss, fft_l1
from .multiscale import MultiScaleL1
from .vgg import VGG19Features, VGGWeightsUnavailable


def build_loss(kind: str, vgg: VGG19Features | None = None, eta: float | None = None) -> nn.Module:
    """The loss named ``kind`` (one of LOSSES), its second term weighted ``eta`` (default ETA): called as
    loss(network's training output, label)."""
    return MultiScaleL1() if kind == "multiscale" else HDRLoss(kind, vgg, ETA if eta is None else eta)


__all__ = ["ETA", "LOSSES", "HDRLoss", "MultiScaleL1", "VGG19Features", "VGGWeightsUnavailable", "build_loss",
           "fft_l1"]  # fmt: skip
