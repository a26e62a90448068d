"""STHDR (AAAI 2022): the network, its parts and the modulated deformable convolution; the open choices
are in ``models/sthdr/README.md``."""

from .deform import ModulatedDeformConv, deform_conv2d
from .network import PAPER_GMACS, PAPER_GMACS_SIZE, PAPER_PARAMETERS, STHDR, VARIANTS, MergeNet
from .parts import SAM, SCM, AlignNet, GCBGate, HIBlock, UNetStage

__all__ = ["SAM", "SCM", "AlignNet", "GCBGate", "HIBlock", "MergeNet", "ModulatedDeformConv", "PAPER_GMACS",
           "PAPER_GMACS_SIZE", "PAPER_PARAMETERS", "STHDR", "UNetStage", "VARIANTS", "deform_conv2d"]  # fmt: skip
