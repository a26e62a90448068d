"""The one map from official AFUNet checkpoint keys to ours, and the strict weight loading.

Official checkpoints (``{'state_dict': {'module.<key>': ...}}``, saved from nn.DataParallel) and this
project's checkpoints (``{'model': ..., 'config': ...}``) both load through :func:`load_pretrained`.
"""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from utils.checkpoint import read_checkpoint
from utils.errors import CheckpointError

# official key (after 'module.') -> ours; stage index s is the paper's t - 1
OFFICIAL_TO_OURS: list[tuple[str, str | Callable[[re.Match], str]]] = [
    (r"^conv([123])\.0\.", lambda m: f"sfem.{int(m[1]) - 1}.conv."),
    (r"^patch_embed\.norm\.", "embed_norm."),
    (r"^patch_embed_div3\.norm\.", "embed_norm_div3."),
    (r"^A1\.(\d+)\.", r"stages.\1.d1."),
    (r"^A3\.(\d+)\.", r"stages.\1.d3."),
    (r"^a_12\.(\d+)\.residual_group\.blocks\.0\.mlp\.", r"stages.\1.sam1.dwconv."),
    (r"^a_32\.(\d+)\.residual_group\.blocks\.0\.mlp\.", r"stages.\1.sam3.dwconv."),
    (r"^a_12\.(\d+)\.residual_group\.blocks\.0\.", r"stages.\1.sam1."),
    (r"^a_32\.(\d+)\.residual_group\.blocks\.0\.", r"stages.\1.sam3."),
    (r"^SFM\.(\d+)\.residual_group\.blocks\.", r"stages.\1.sfm.blocks."),
    (r"^SFM\.(\d+)\.conv\.", r"stages.\1.sfm.conv."),
    (r"^f_12\.(\d+)\.", r"stages.\1.cfm_u."),
    (r"^f_32\.(\d+)\.", r"stages.\1.cfm_v."),
    (r"^A2_T\.(\d+)\.", r"stages.\1.dcm.d2t."),
    (r"^inv\.(\d+)\.", r"stages.\1.dcm.b_inv."),
    (r"^beta1\.(\d+)$", r"stages.\1.dcm.beta1"),
    (r"^beta2\.(\d+)$", r"stages.\1.dcm.beta3"),
    (r"^mlps_end\.(\d+)\.", r"stages.\1.mlp_end."),
    (r"^conv_skip\.", "conv_skip."),
    (r"^out\.0\.", "conv_out."),
    (r"\.attn\.relative_position_bias_table$", ".attn.rpb.table"),
]
# official buffers that this implementation recomputes (constant index, masks cached per input size)
RECOMPUTED_BUFFERS = re.compile(r"\.(attn\.relative_position_index|attn_mask)$")


def official_to_ours(key: str) -> str:
    """Map one official state-dict key (without 'module.') to this implementation's name."""
    for pattern, repl in OFFICIAL_TO_OURS:
        key = re.sub(pattern, repl, key)
    return key


def is_official(state_dict: dict[str, Any]) -> bool:
    """True for a state dict in the official naming (with or without the 'module.' prefix)."""
    return any(k.removeprefix("module.").startswith(("SFM.", "patch_embed.", "mlps_end.")) for k in state_dict)


def convert_official(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official state dict -> ours: strip 'module.', drop recomputed buffers, rename keys."""
    out = {}
    for key, value in state_dict.items():
        key = key.removeprefix("module.")
        if not RECOMPUTED_BUFFERS.search(key):
            out[official_to_ours(key)] = value
    return out


def model_state_dict(ckpt: dict[str, Any], path: str | Path = "checkpoint") -> dict[str, torch.Tensor]:
    """The network weights of a checkpoint in our naming, whatever its format."""
    for field in ("model", "state_dict", "params"):
        if isinstance(ckpt.get(field), dict):
            state = ckpt[field]
            break
    else:
        state = ckpt
    if not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: no model state dict found (keys: {sorted(ckpt)[:8]})")
    return convert_official(state) if is_official(state) else {k.removeprefix("module."): v for k, v in state.items()}


def load_pretrained(model: nn.Module, path: str | Path, fresh: tuple[str, ...] = ()) -> dict[str, Any]:
    """Load official or our checkpoint weights into ``model`` strictly; return the checkpoint dict. The
    sub-modules named in ``fresh`` may be absent from the checkpoint (then they keep their initialisation:
    LF-Diff's diffusion modules when stage 2 starts from stage 1), but not in part.

    Raises CheckpointError naming the file and listing missing and unexpected keys on a mismatch.
    """
    ckpt = read_checkpoint(path)
    state = model_state_dict(ckpt, path)
    expected = model.state_dict()
    absent = [name for name in fresh if not any(k.startswith(f"{name}.") for k in state)]
    expected = {k: v for k, v in expected.items() if not k.startswith(tuple(f"{name}." for name in absent))}
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong_shape = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or wrong_shape:
        raise CheckpointError(
            f"{path}: does not fit this architecture ({getattr(model, 'config', '')}): "
            f"{len(missing)} missing keys {_head(missing)}, {len(unexpected)} unexpected keys {_head(unexpected)}, "
            f"{len(wrong_shape)} shape mismatches {_head(wrong_shape)}"
        )
    broken = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if broken:
        raise CheckpointError(f"{path}: {len(broken)} weight tensors hold NaN or infinite values {_head(broken)}: "
                              f"the file is damaged or its run diverged")  # fmt: skip
    model.load_state_dict(state, strict=not absent)
    return ckpt


def _head(items: list[str], n: int = 5) -> str:
    return "[" + ", ".join(items[:n]) + (", ..." if len(items) > n else "") + "]"
