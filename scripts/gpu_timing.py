"""scripts/gpu_check.py's timing parts: AFUNet beside the official network (part "side_by_side") and every
other network alone (part "networks"), in fp32 (TF32 off), TF32 and bf16 autocast, with peak memory and
the attention kernels that run. Each part is ``fn(check)`` (gpu_check.Check)."""

import copy
from collections.abc import Callable

import torch
from bench_calls import load_ours, make_input, training_call
from gpu_parts import demo_table, official_model
from official_compare import alternate
from torch.profiler import ProfilerActivity, profile

from models import DEMO_WEIGHTS, NETWORKS, build_model
from utils.device import autocast, peak_memory_mib, set_tf32
from utils.engine.inference import predict_full

MODES = {"fp32": (False, None), "tf32": (True, None), "bf16": (False, "bf16")}  # (TF32, autocast)


def inference_call(model: torch.nn.Module, x: torch.Tensor, amp: str | None) -> Callable[[], torch.Tensor]:
    """The test protocol's forward (predict_full: reflect-padded to the network's multiple) under ``amp``."""

    def run() -> torch.Tensor:
        with autocast(x.device, amp):
            return predict_full(model, x)

    return run


def measure(check, fns: dict[str, Callable[[], object]]) -> dict:
    """Synchronised medians of the calls, alternating in one process, and each one's peak memory (CUDA)."""
    seconds = alternate(fns, check.sizes.runs, check.sizes.warmup, check.device)
    row = {}
    for name, fn in fns.items():
        peak_memory_mib(check.device, reset=True)
        fn()
        row |= {f"{name}_s": seconds[name], f"{name}_mib": peak_memory_mib(check.device)}
    if len(fns) == 2:
        row["speedup"] = row["official_s"] / row["ours_s"]
    return row


def attention_kernels(fn: Callable[[], object]) -> list[str]:
    """The scaled-dot-product-attention implementations one call runs (e.g. _efficient_attention)."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    names = {e.key.removeprefix("aten::") for e in prof.key_averages() if "scaled_dot_product" in e.key}
    return sorted(names - {"scaled_dot_product_attention"})


def time_network(check, part: str, models: dict[str, torch.nn.Module | None], label: str) -> None:
    """Rows of part ``part``: inference at each size and a training step, in each precision mode, of
    ``models`` ({"ours": model} or with "official"), then the attention kernels ours runs."""
    device, sizes = check.device, check.sizes
    models = {name: m.to(device).eval() for name, m in models.items() if m is not None}
    try:
        for h, w in sizes.inference:
            x = make_input(1, h, w, device)
            for mode, (tf32, amp) in MODES.items():
                if not check.enough(part, f"{label} inference {h}x{w} {mode}"):
                    return
                set_tf32(tf32)
                fns = {name: inference_call(m, x, amp) for name, m in models.items()}
                row = {"network": label, "case": f"inference {h}x{w}", "mode": mode, **measure(check, fns)}
                if "official" in fns:
                    row["max_abs_diff"] = (fns["ours"]() - fns["official"]()).abs().max().item()
                check.row(part, row)
        x = make_input(sizes.batch, sizes.crop, sizes.crop, device)
        target = torch.rand(sizes.batch, 3, sizes.crop, sizes.crop, device=device) * 0.5
        for mode, (tf32, amp) in MODES.items():
            if not check.enough(part, f"{label} training step {mode}"):
                return
            set_tf32(tf32)
            fns = {name: training_call(copy.deepcopy(m), x, target, amp) for name, m in models.items()}
            case = f"train step batch {sizes.batch} {sizes.crop}x{sizes.crop}"
            check.row(part, {"network": label, "case": case, "mode": mode, **measure(check, fns)})
        set_tf32(False)
        ours, x = models["ours"], make_input(1, *sizes.inference[0], device)
        check.row(part, {"network": label, "case": "attention kernels", "mode": "fp32",
                         "inference": attention_kernels(inference_call(ours, x, None)),
                         "training": attention_kernels(training_call(copy.deepcopy(ours), x, x[:, :3]))})  # fmt: skip
    finally:
        set_tf32(False)


def side_by_side(check) -> None:
    """AFUNet (ours) beside the official code on the shipped weights; ours alone without --official."""
    time_network(
        check, "side_by_side", {"ours": load_ours(), "official": official_model(check, "side_by_side")}, "afunet"
    )


def networks(check) -> None:
    """Every network build_model knows besides AFUNet: its timing rows, and its demo's test.py table."""
    for network in sorted(set(NETWORKS) - {"afunet"}):
        time_network(check, "networks", {"ours": build_model(network)}, network)
        if network in DEMO_WEIGHTS and check.enough("networks", f"{network}'s table"):
            demo_table(check, network, "networks")
