"""Inference protocols: the official full frame (reflect-pad to x128, one pass, crop) and tiling."""

import torch
from torch import nn
from tqdm import tqdm

from models.common import pad_to_multiple

TEST_PAD = 128  # the official test pads the frame's bottom/right to a multiple of 128
TILE_OVERLAP = 32  # default overlap of neighbouring tiles, in pixels


def frame_multiple(model: nn.Module) -> int:
    """The multiple a network's test frame is reflect-padded to: its own ``TEST_PAD``, else the official 128."""
    return getattr(model, "TEST_PAD", TEST_PAD)


@torch.inference_mode()
def predict_full(
    model: nn.Module, x: torch.Tensor, multiple: int | None = None, label: torch.Tensor | None = None
) -> torch.Tensor:
    """Official protocol: (B, 18, H, W) -> (B, 3, H, W), one pass over the frame reflect-padded to a multiple
    of ``multiple`` (default: the network's ``TEST_PAD``, else the official 128). ``label`` (B, 3, H, W),
    padded alike, goes to a network that reads it (LF-Diff's first stage)."""
    h, w = x.shape[-2:]
    multiple = multiple or frame_multiple(model)
    if label is None:
        return model(pad_to_multiple(x, multiple))[:, :, :h, :w]
    return model(pad_to_multiple(x, multiple), pad_to_multiple(label, multiple))[:, :, :h, :w]


def tile_starts(size: int, tile: int, stride: int) -> list[int]:
    """Start offsets of the tiles along one axis: every ``stride``, the last one flush with the end."""
    starts = list(range(0, max(size - tile, 0) + 1, stride))
    if starts[-1] + tile < size:
        starts.append(size - tile)
    return starts


def _ramp(n: int, overlap: int, device: torch.device) -> torch.Tensor:
    """Blending weights along one axis: linear ramps over ``overlap`` pixels at both ends."""
    i = torch.arange(n, device=device, dtype=torch.float32)
    return torch.minimum(torch.minimum(i + 1, n - i) / max(overlap, 1), torch.ones(())).clamp_min(1e-3)


@torch.inference_mode()
def predict_tiled(
    model: nn.Module, x: torch.Tensor, tile: int, overlap: int = TILE_OVERLAP, progress: bool = False
) -> torch.Tensor:
    """Bounded-memory inference: overlapping tile x tile windows blended with linear ramps (a progress bar
    over the tiles with ``progress``).

    Not the paper protocol: the CFM channel attention is global over the input, so each tile sees
    other statistics than the whole frame and results differ slightly.
    """
    if overlap >= tile:
        raise ValueError(f"tile overlap ({overlap}) must be smaller than the tile ({tile})")
    b, _, h, w = x.shape
    th, tw = min(tile, h), min(tile, w)
    out = x.new_zeros(b, 3, h, w)
    weight = x.new_zeros(1, 1, h, w)
    wy, wx = _ramp(th, overlap, x.device), _ramp(tw, overlap, x.device)
    ramp = (wy[:, None] * wx[None, :])[None, None]
    corners = [(y, x0) for y in tile_starts(h, th, tile - overlap) for x0 in tile_starts(w, tw, tile - overlap)]
    for y, x0 in tqdm(corners, desc="tiles", unit="tile", disable=not progress):
        out[:, :, y : y + th, x0 : x0 + tw] += model(x[:, :, y : y + th, x0 : x0 + tw]) * ramp
        weight[:, :, y : y + th, x0 : x0 + tw] += ramp
    return out / weight
