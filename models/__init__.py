"""The networks (AFUNet in its official computation, STHDR, LF-Diff), built by name, and checkpoint loading."""

from .afunet import AFM, COMPONENTS, PARADIGMS, AFUNet
from .common import TrainingOutput, count_parameters
from .lfdiff import LFDiff
from .modules import CFM, DCM, MLP, SAM, SFEM, SFM
from .official import load_pretrained
from .registry import (
    CLI_OPTIONS,
    DEMO_WEIGHTS,
    NETWORK_VARIANTS,
    NETWORKS,
    build_model,
    checkpoint_config,
    load_model,
    needs_label,
    network_name,
    set_sampling,
    trains_on_label,
)  # fmt: skip
from .sthdr import STHDR, VARIANTS

__all__ = [
    "AFM", "AFUNet", "CFM", "CLI_OPTIONS", "COMPONENTS", "DCM", "DEMO_WEIGHTS", "LFDiff", "MLP", "NETWORK_VARIANTS",
    "NETWORKS", "PARADIGMS",
    "SAM", "SFEM", "SFM", "STHDR", "TrainingOutput", "VARIANTS", "build_model", "checkpoint_config",
    "count_parameters", "load_model", "load_pretrained", "needs_label", "network_name", "set_sampling",
    "trains_on_label",
]  # fmt: skip
