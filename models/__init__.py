"""The networks (AFUNet in its official computation, STHDR), built by name, and checkpoint loading."""

from .afunet import AFM, COMPONENTS, PARADIGMS, AFUNet
from .common import count_parameters
from .modules import CFM, DCM, MLP, SAM, SFEM, SFM
from .official import load_pretrained
from .registry import CLI_OPTIONS, DEMO_WEIGHTS, NETWORKS, build_model, checkpoint_config, load_model, network_name
from .sthdr import STHDR, VARIANTS

__all__ = [
    "AFM", "AFUNet", "CFM", "CLI_OPTIONS", "COMPONENTS", "DCM", "DEMO_WEIGHTS", "MLP", "NETWORKS", "PARADIGMS",
    "SAM", "SFEM", "SFM", "STHDR", "VARIANTS", "build_model", "checkpoint_config", "count_parameters",
    "load_model", "load_pretrained", "network_name",
]  # fmt: skip
