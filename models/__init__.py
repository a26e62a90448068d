"""AFUNet network (official computation) and checkpoint loading."""

from .afunet import AFM, COMPONENTS, PARADIGMS, AFUNet, count_parameters
from .modules import CFM, DCM, MLP, SAM, SFEM, SFM
from .official import load_model, load_pretrained

__all__ = [
    "AFM", "AFUNet", "CFM", "COMPONENTS", "DCM", "MLP", "PARADIGMS", "SAM", "SFEM", "SFM",
    "count_parameters", "load_model", "load_pretrained",
]  # fmt: skip
