"""scripts/benchmark.py's rows that belong to one network: STHDR's multiply-accumulates beside its paper's
Table 4, LF-Diff's diffusion alone and its stage-1 training step."""

import argparse

import torch
from bench_calls import bench_train_step, count_flops, frame_steps, make_input, timed

from models import LFDiff, build_model
from models.sthdr import PAPER_GMACS, PAPER_GMACS_SIZE, STHDR

FULL_FRAME = (1000, 1500)  # a Kalantari test frame


def lfdiff_rows(args: argparse.Namespace, model: LFDiff, device: torch.device) -> list[dict]:
    """LF-Diff (its training-step row above is stage 2's): its diffusion alone (D and the S DDIM steps, which
    the paper times apart, Table 4) at 256x256 and with --full on the full frame, and stage 1's training step."""
    rows = []
    full = [(FULL_FRAME, frame_steps(device, args.warmup, args.runs))] if args.full else []
    for size, steps in [((256, 256), (args.warmup, args.runs)), *full]:
        x = make_input(1, *size, device)

        def run():
            with torch.inference_mode():
                model.predict_prior(x, None)  # noqa: B023 (timed at once)

        rows.append({"case": f"inference {size[0]}x{size[1]}, diffusion only", "seconds": timed(run, device, *steps),
                     "gflop": count_flops(run) / 1e9})  # fmt: skip
    stage_1 = build_model("lfdiff", variant="s1").to(device)
    rows.append(bench_train_step(stage_1, args.batch, 128, device, args.warmup, args.runs, label=", stage 1"))
    return rows


def paper_macs(model, device: torch.device) -> dict | None:
    """STHDR: multiply-accumulates at 256x256 (where the paper's Table 4 fits, U27) and 512x512 (where [L220]
    says it measured), beside Table 4's figure; None for a network whose paper gives none."""
    if not isinstance(model, STHDR):
        return None
    macs = {}
    for size in (PAPER_GMACS_SIZE, 2 * PAPER_GMACS_SIZE):
        x = make_input(1, size, size, device)
        with torch.inference_mode():
            macs[size] = count_flops(lambda: model(x)) / 2 / 1e9  # noqa: B023 (called at once)
    return {"gmac": macs, "paper_gmac": PAPER_GMACS[model.config["variant"]], "paper_size": PAPER_GMACS_SIZE}
