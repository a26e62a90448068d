"""LF-Diff (CVPR 2024): the stage-1 networks (alignment module, prior extractor, DHRNet); the open choices
are in ``models/lfdiff/README.md``."""

from .attention import GDFN, MDTA, LayerNorm2d, PriorCrossAttention, RestormerBlock
from .modules import AM, FRM, PIM, ChannelAttention, LPENet, ResidualBlock, SpatialAttention
from .network import PAPER_PARAMETERS, VARIANTS, DHRNet, LFDiff

__all__ = ["AM", "DHRNet", "FRM", "GDFN", "LFDiff", "LPENet", "MDTA", "PAPER_PARAMETERS", "PIM", "VARIANTS",
           "ChannelAttention", "LayerNorm2d", "PriorCrossAttention", "ResidualBlock", "RestormerBlock",
           "SpatialAttention"]  # fmt: skip
