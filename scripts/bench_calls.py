"""What every timing script measures, in one home: the benchmark input, FLOP counting, the timed calls (a
forward, a training step) and their timing. scripts/benchmark.py, bench_extras.py, official_compare.py,
contend.py and profile_compare.py import from here; this file imports none of them.
"""

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from models import AFUNet, TrainingOutput, load_pretrained, trains_on_label
from utils.device import autocast, sync_device
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


def training_call(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor,
                  amp: str | None = None) -> Callable[[], None]:  # fmt: skip
    """One training step of ``model`` (train mode, its own Adam at lr 5e-4; fp32, or under ``amp``
    autocast) on ``x`` and ``target``, as a call to time or profile."""
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    model.train()
    return lambda: train_step(model, x, target, opt, amp)


def frame_steps(device: torch.device, warmup: int, runs: int) -> tuple[int, int]:
    """(warm-up calls, timed calls) for a full frame: one of each on the CPU, where a call takes a minute or
    more (README's CPU figures); on a GPU, where it takes a fraction of a second, the runs asked for after
    at least one warm-up (kernel loading, cuDNN's choice of algorithms, the allocator's first growth)."""
    return (1, 1) if device.type == "cpu" else (max(1, warmup), runs)


def timed(fn, device: torch.device, warmup: int, runs: int) -> float:
    """Median seconds of ``runs`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    sync_device(device)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        sync_device(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_inference(model, size, device, warmup, runs, amp: str | None = None, label: str = "") -> dict:
    """Time one forward; with ``amp`` (bf16/fp16 autocast) or a compiled ``model``, also its error vs fp32."""
    x = make_input(1, *size, device)

    def run():
        with torch.inference_mode(), autocast(device, amp):
            return model(x)

    flops = count_flops(run)
    seconds = timed(run, device, warmup, runs)
    row = {"case": f"inference {size[0]}x{size[1]}{label}", "seconds": seconds, "gflop": flops / 1e9}
    if amp or label:
        reference = getattr(model, "_orig_mod", model)
        with torch.inference_mode():
            exact = reference(x)
        row["max_abs_err"] = (run().float() - exact).abs().max().item()
    return row


def bench_train_step(model, batch, size, device, warmup, runs, grad_checkpoint: bool = False, label: str = "",
                     amp: str | None = None) -> dict:  # fmt: skip
    """Time forward + backward + Adam; ``model`` may be compiled (then ``label`` says so), its forward may run
    under ``amp`` autocast (train.py --amp)."""
    x, target = make_input(batch, size, size, device), torch.rand(batch, 3, size, size, device=device) * 0.5
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    eager = getattr(model, "_orig_mod", model)
    model.train()
    eager.grad_checkpoint = grad_checkpoint

    def run():
        train_step(model, x, target, opt, amp)

    flops = count_flops(run)
    seconds = timed(run, device, warmup, runs)
    model.eval()
    eager.grad_checkpoint = False
    name = f"train step batch {batch} {size}x{size}" + (", checkpointed" if grad_checkpoint else "") + label
    return {"case": name, "seconds": seconds, "gflop": flops / 1e9}
