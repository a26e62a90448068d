"""What every timing script measures, in one home: the benchmark input, FLOP counting, and the timed calls
(a forward, a training step). scripts/benchmark.py, official_compare.py, contend.py and profile_compare.py
import from here; this file imports none of them.
"""

from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from models import AFUNet, TrainingOutput, load_pretrained, trains_on_label
from utils.device import autocast
from utils.losses import HDRLoss, MultiScaleL1

CHECKPOINT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "afunet-official" / "official_random_init.pth"
LOSS = HDRLoss("fft")  # the official recipe's loss, as in performance-baseline.md
MULTI_SCALE_LOSS = MultiScaleL1()  # for a network that trains on a list of outputs (STHDR)


def load_ours() -> torch.nn.Module:
    """Our AFUNet with the shipped official-format weights (the ones the official code loads), in eval mode."""
    model = AFUNet().eval()
    load_pretrained(model, CHECKPOINT)
    return model


def make_input(b: int, h: int, w: int, device: torch.device) -> torch.Tensor:
    """A realistic (b, 18, h, w) input: three exposures (t = 1, 4, 16) of one random radiance field."""
    g = torch.Generator().manual_seed(0)
    radiance = torch.rand(b, 3, h, w, generator=g) ** 3
    parts = []
    for t in (1.0, 4.0, 16.0):
        ldr = (radiance * t).clamp(0, 1) ** (1 / 2.2)
        parts += [ldr**2.2 / t, ldr]
    return torch.cat(parts, 1).to(device)


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call; attention runs on the math backend here so its matmuls are counted."""
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def train_step(model, x: torch.Tensor, target: torch.Tensor, opt: torch.optim.Optimizer, amp: str | None) -> None:
    """Forward (under ``amp`` autocast; with the label for a network that trains on it, LF-Diff) + loss (the
    multi-scale one for a list of outputs; plus the network's own terms, LF-Diff's stage 2) + backward + step."""
    with autocast(x.device, amp):
        out = model(x, target) if trains_on_label(getattr(model, "_orig_mod", model)) else model(x)
    pred, terms = (out.prediction, out.losses) if isinstance(out, TrainingOutput) else (out, {})
    loss = sum(terms.values())
    if pred is not None:
        loss = loss + (LOSS if isinstance(pred, torch.Tensor) else MULTI_SCALE_LOSS)(pred, target)[0]
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def forward_call(model: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """One inference-mode forward of ``model`` on ``x``, as a call to time or profile."""

    def run() -> None:
        with torch.inference_mode():
            model(x)

    return run


def training_call(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor) -> Callable[[], None]:
    """One fp32 training step of ``model`` (train mode, its own Adam at lr 5e-4) on ``x`` and ``target``,
    as a call to time or profile."""
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    model.train()
    return lambda: train_step(model, x, target, opt, None)
