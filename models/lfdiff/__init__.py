"""LF-Diff (CVPR 2024): the alignment module, the prior extractors, DHRNet, and the latent diffusion model
of stage 2; the open choices are in ``models/lfdiff/README.md``."""

from .attention import GDFN, MDTA, LayerNorm2d, PriorCrossAttention, RestormerBlock
from .denoiser import DenoisingUNet, NAFBlock
from .diffusion import BETAS, LatentDiffusion, S, T, ddim_timesteps
from .modules import AM, FRM, PIM, ChannelAttention, LPENet, LPENet_DM, ResidualBlock, SpatialAttention
from .network import PAPER_PARAMETERS, STAGE, VARIANTS, DHRNet, LFDiff

__all__ = ["AM", "BETAS", "DHRNet", "FRM", "GDFN", "LFDiff", "LPENet", "LPENet_DM", "MDTA", "PAPER_PARAMETERS",
           "PIM", "S", "STAGE", "T", "VARIANTS", "ChannelAttention", "DenoisingUNet", "LatentDiffusion",
           "LayerNorm2d", "NAFBlock", "PriorCrossAttention", "ResidualBlock", "RestormerBlock", "SpatialAttention",
           "ddim_timesteps"]  # fmt: skip
