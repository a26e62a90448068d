"""Our network beside the official implementation, in one process: same weights, same input, alternating
runs, so that a noisy machine slows both alike (scripts/benchmark.py --compare_official DIR).

The official model code is imported at run time from DIR (its own folder, e.g.
../shared/reference/official-model); nothing of it is copied here. Both load the official-format
checkpoint shipped in tests/fixtures.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from bench_calls import CHECKPOINT, count_flops, forward_call, load_ours, make_input, training_call
from contend import CONDITIONS, competing

from models.common import pad_to_multiple
from utils.checkpoint import read_checkpoint
from utils.cli import POSITIVE_INT
from utils.device import sync_device
from utils.engine.inference import TEST_PAD
from utils.errors import UserError
from utils.threads import FIXED_ENV

CPU = torch.device("cpu")
CONTEND_LABELS = {"busy": "one core busy", "self": "beside a 2nd copy of ours"}
OFFICIAL_CONFIG = dict(img_size=(40, 40), in_chans=18, window_size=8, img_range=1.0, drop_path_rate=0.1,
                       depths=[5, 5, 5, 5], embed_dim=72, num_heads=[4, 4, 4, 4], mlp_ratio=2)  # fmt: skip


def load_official(folder: Path) -> torch.nn.Module:
    """The official AFUNet class from ``folder`` with the shipped official-format weights, in eval mode."""
    sys.path.insert(0, str(folder))
    try:
        from official_afunet import AFUNet as OfficialAFUNet
    except ImportError as e:
        raise UserError(
            f"{folder}: cannot import the official model ({e}; it needs einops: pip install einops)"
        ) from None
    finally:
        sys.path.remove(str(folder))
    model = OfficialAFUNet(**OFFICIAL_CONFIG)
    state = read_checkpoint(CHECKPOINT)["state_dict"]
    model.load_state_dict({k.removeprefix("module."): v for k, v in state.items()})
    return model.eval()


def alternate(fns: dict, runs: int, warmup: int, device: torch.device = CPU) -> dict[str, float]:
    """Median seconds of each function, the functions called in turn ``runs`` times after ``warmup`` rounds
    (on CUDA each timed call ends with a synchronisation)."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for round_ in range(warmup + runs):
        for name, fn in fns.items():
            sync_device(device)
            start = time.perf_counter()
            fn()
            sync_device(device)
            if round_ >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def compare(folder: Path, sizes: list[tuple[int, int]], batches: list[int],
            runs: int, warmup: int, contend: tuple[str, ...] = ("none",)) -> list[dict]:  # fmt: skip
    """Rows: inference at each H x W of ``sizes`` (reflect-padded to a multiple of 128 first, as the test
    protocol does; one run, no warm-up, for frames over a megapixel) under each condition of ``contend``
    (scripts/contend.py), and a training step at 128 x 128 per batch, ours and official."""
    ours, official = load_ours(), load_official(folder)
    rows = []

    for condition in contend:
        with competing(condition, torch.get_num_threads()):
            rows += [inference_row(ours, official, size, runs, warmup, condition)
                     for size in sizes]  # fmt: skip
    for batch in batches:
        xb, target = make_input(batch, 128, 128, torch.device("cpu")), torch.rand(batch, 3, 128, 128) * 0.5
        steps = {}
        for name, model in (("ours", load_ours()), ("official", load_official(folder))):
            steps[name] = training_call(model, xb, target)
        flops = count_flops(steps["ours"])
        t = alternate(steps, runs, warmup)
        rows.append({"case": f"train step batch {batch} 128x128", "ours_s": t["ours"], "official_s": t["official"],
                     "speedup": t["official"] / t["ours"], "gflop": flops / 1e9})  # fmt: skip
    return rows


def inference_row(ours, official, size: tuple[int, int], runs: int, warmup: int,
                  condition: str) -> dict:  # fmt: skip
    """Ours and the official forward at ``size`` in turn (one run for frames over a megapixel)."""
    h, w = size
    x = pad_to_multiple(make_input(1, h, w, torch.device("cpu")), TEST_PAD)
    with torch.inference_mode():
        err = (ours(x) - official(x)).abs().max().item()
    flops = count_flops(forward_call(ours, x))
    big = h * w > 2**20
    t = alternate({"ours": forward_call(ours, x), "official": forward_call(official, x)},
                  1 if big else runs, 0 if big else warmup)  # fmt: skip
    case = f"inference {h}x{w}" + ("" if condition == "none" else f", {CONTEND_LABELS[condition]}")
    return {"case": case, "ours_s": t["ours"], "official_s": t["official"], "speedup": t["official"] / t["ours"],
            "gflop": flops / 1e9, "max_abs_err": err}  # fmt: skip


def add_arguments(p: argparse.ArgumentParser) -> None:
    """scripts/benchmark.py's options for the side-by-side comparison."""
    p.add_argument("--compare_official", type=Path, default=None, metavar="DIR",
                   help="only: time the official model from DIR beside ours (same weights and input, "
                        "alternating; with --full also the full frame)")  # fmt: skip
    p.add_argument("--compare_batches", type=POSITIVE_INT, nargs="*", default=[2, 4], metavar="B",
                   help="training batches to compare")  # fmt: skip
    p.add_argument("--contend", nargs="+", choices=CONDITIONS, default=["none"],
                   help="with --compare_official: inference rows on an idle machine (none), beside a process "
                        "spinning on one core (busy), beside a second copy of our inference (self); the "
                        "benchmark starts and stops the competitor (default: none)")  # fmt: skip


def report(args, rows: list[dict], matmul_flops: float) -> None:
    """Print the rows as a Markdown table (and with --json write them)."""
    policy = "a fixed thread count" if os.environ.get(FIXED_ENV) == "fixed" else "the free cores"
    print(
        f"ours vs official ({args.compare_official}), CPU, {torch.get_num_threads()} threads (ours on {policy}), "
        f"torch {torch.__version__}, dense matmul {matmul_flops / 1e9:.1f} GFLOP/s; "
        f"median of {args.runs} alternating runs"
    )
    print("| case | ours s | official s | speedup | ours eff. | official eff. | max abs err |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        eff = [r["gflop"] * 1e9 / r[k] / matmul_flops for k in ("ours_s", "official_s")]
        err = f"{r['max_abs_err']:.1e}" if "max_abs_err" in r else ""
        print(f"| {r['case']} | {r['ours_s']:.3f} | {r['official_s']:.3f} | {r['speedup']:.2f}x | {eff[0]:.3f} | "
              f"{eff[1]:.3f} | {err} |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"matmul_gflop_per_s": matmul_flops / 1e9, "rows": rows}, indent=2) + "\n")
