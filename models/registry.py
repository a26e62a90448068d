"""Every network by name: build one from its config, build and load whichever one a checkpoint holds.

A checkpoint's ``config`` is ``{"model": NAME, **constructor arguments}``; checkpoints without
``"model"`` (this project's older ones, official ones) are AFUNet.
"""

from pathlib import Path
from typing import Any

from torch import nn

from utils.checkpoint import read_checkpoint
from utils.errors import CheckpointError

from .afunet import AFUNet
from .lfdiff import VARIANTS as LFDIFF_VARIANTS
from .lfdiff import LFDiff
from .official import load_pretrained
from .sthdr import STHDR
from .sthdr import VARIANTS as STHDR_VARIANTS

NETWORKS: dict[str, type[nn.Module]] = {"afunet": AFUNet, "sthdr": STHDR, "lfdiff": LFDiff}
# each network's --variant values, its default first (AFUNet's ablations have their own switches)
NETWORK_VARIANTS = {"sthdr": list(STHDR_VARIANTS), "lfdiff": list(LFDIFF_VARIANTS)}
DEFAULT = "afunet"
# the bundled demo weights of each network (pretrain_model/README.md)
DEMO_WEIGHTS = {name: Path(__file__).resolve().parents[1] / "pretrain_model" / f"{file}_synthetic.pth"
                for name, file in (("afunet", "AFUNet"), ("sthdr", "STHDR"), ("lfdiff", "LFDiff"))}  # fmt: skip
# train.py options that are constructor arguments of each network (the rest of a config keeps its default)
CLI_OPTIONS = {"afunet": ("stages", "components", "paradigm", "drop_path_rate"), "sthdr": ("variant",),
               "lfdiff": ("variant", "frm_depth", "ddim_steps")}  # fmt: skip


def build_model(name: str = DEFAULT, **config: Any) -> nn.Module:
    """``build_model("sthdr", variant="HSS")``: the network ``name`` built from its constructor arguments."""
    if name not in NETWORKS:
        raise ValueError(f"model must be one of {sorted(NETWORKS)}, got {name!r}")
    return NETWORKS[name](**config)


def network_name(model: nn.Module) -> str:
    """The registry name of a built network."""
    return getattr(type(model), "NAME", DEFAULT)


def needs_label(model: nn.Module) -> bool:
    """True for a network whose forward reads the label too (LF-Diff's first stage: an oracle)."""
    return bool(getattr(model, "needs_label", False))


def trains_on_label(model: nn.Module) -> bool:
    """True for a network whose training forward reads the label (LF-Diff: stage 1's prior, stage 2's target)."""
    return bool(getattr(model, "trains_on_label", needs_label(model)))


def set_sampling(model: nn.Module, seed: int | None = None, ddim_steps: int | None = None) -> dict[str, int] | None:
    """The seed and DDIM steps of a network that samples (LF-Diff's diffusion variants), set where given;
    None for a deterministic network, which takes a seed but no ``ddim_steps`` (ValueError)."""
    if getattr(model, "samples", False):
        return model.set_sampling(seed, ddim_steps)
    if ddim_steps is not None:
        raise ValueError(f"{network_name(model)} {model.config.get('variant', '')} does not sample: no DDIM steps")
    return None


def checkpoint_config(model: nn.Module) -> dict[str, Any]:
    """What a checkpoint records to rebuild ``model``: its name and constructor arguments."""
    return {"model": network_name(model), **model.config}


def load_model(path: str | Path, **overrides: Any) -> tuple[nn.Module, dict[str, Any]]:
    """Build the network a checkpoint was trained with (its stored config, else the official AFUNet),
    load its weights strictly, and return (model, checkpoint)."""
    ckpt = read_checkpoint(path)
    config = {**(ckpt.get("config") or {}), **overrides}
    name = config.pop("model", DEFAULT)
    try:
        model = build_model(name, **config)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: cannot build the model from its config {config} ({e})") from None
    load_pretrained(model, path)
    return model, ckpt
