"""Training losses in the mu-law domain and the frozen VGG-19 of the perceptual term."""

from .hdr_loss import ETA, LOSSES, HDRLoss, fft_l1
from .vgg import VGG19Features, VGGWeightsUnavailable

__all__ = ["ETA", "LOSSES", "HDRLoss", "VGG19Features", "VGGWeightsUnavailable", "fft_l1"]
