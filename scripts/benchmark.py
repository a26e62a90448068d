"""Speed, FLOPs and memory of one or more networks (AFUNet by default, --model sthdr afunet): inference and one training
step, with a machine-independent efficiency = achieved model FLOP/s / FLOP/s of a dense float32 matmul
measured in the same process.

    python scripts/benchmark.py                 # CPU: inference 128x128 and 256x256, training step
    python scripts/benchmark.py --model sthdr afunet --full   # STHDR beside AFUNet, same process
    python scripts/benchmark.py --model afunet sthdr lfdiff   # LF-Diff: also its diffusion alone, both stages' steps
    python scripts/benchmark.py --full --json bench.json
    python scripts/benchmark.py --tile 512 --tile_frame 2000x3000   # bounded-memory tiled inference
    python scripts/benchmark.py --threads 2 --compare_official ../shared/reference/official-model \
        --contend none busy self --compare_batches     # beside the official code, idle and on a busy machine
"""

import argparse
import json
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_calls import (  # noqa: E402
    bench_inference,
    bench_train_step,
    count_flops,
    frame_steps,
    make_input,
    timed,
    train_step,
)
from bench_extras import FULL_FRAME, lfdiff_rows, paper_macs  # noqa: E402
from bench_report import print_network, side_by_side  # noqa: E402
from fresh_process import in_fresh_process  # noqa: E402
from official_compare import add_arguments  # noqa: E402

from models import NETWORKS, LFDiff, build_model, count_parameters  # noqa: E402
from utils.cli import COUNT, POSITIVE_INT, Parser, run_cli  # noqa: E402
from utils.device import autocast, resolve_device  # noqa: E402
from utils.engine.inference import TILE_OVERLAP, predict_tiled, tile_starts  # noqa: E402
from utils.errors import UserError  # noqa: E402


def matmul_flops_per_s(device: torch.device, n: int = 2048) -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    return 2 * n**3 / timed(lambda: a @ b, device, 3, 10)


def bench_tiled(model, size: tuple, tile: int, device: torch.device) -> dict:
    """Time one tiled pass (test.py --tile) over a size[0] x size[1] frame; FLOPs are those of its tiles."""
    x = make_input(1, *size, device)
    flops = count_flops(lambda: predict_tiled(model, x[..., :tile, :tile], tile)) * n_tiles(size, tile)
    seconds = timed(lambda: predict_tiled(model, x, tile), device, 0, 1)
    return {"case": f"inference {size[0]}x{size[1]}, tiles {tile}", "seconds": seconds, "gflop": flops / 1e9}


def n_tiles(size: tuple, tile: int, overlap: int = TILE_OVERLAP) -> int:
    """Number of tiles predict_tiled runs over a frame."""
    return math.prod(len(tile_starts(n, min(tile, n), tile - overlap)) for n in size)


def run_once(model, case: str, size: tuple, batch: int = 1, tile: int | None = None, amp: str | None = None,
             device: torch.device | str = "cpu") -> None:  # fmt: skip
    """One forward (``case`` "inference", tiled with ``tile``) or one training step ("train", "train
    checkpointed"), optionally under ``amp`` autocast: what the peak-memory figures measure."""
    device = torch.device(device)
    x = make_input(batch, *size, device)
    if case == "inference":
        with torch.inference_mode(), autocast(device, amp):
            predict_tiled(model.eval(), x, tile) if tile else model.eval()(x)
        return
    model.train()
    model.grad_checkpoint = case == "train checkpointed"
    train_step(model, x, torch.zeros(batch, 3, *size, device=device), torch.optim.Adam(model.parameters()), amp)
    model.grad_checkpoint = False


def _with_new_model(fn, network: str = "afunet", **kwargs):
    """``fn(build_model(network).eval(), **kwargs)``: a benchmark case on a model built where it runs (a
    fresh process)."""
    return fn(build_model(network).eval(), **kwargs)


def peak_rss_mib(spec: dict, threads: int | None = None, network: str = "afunet") -> float | None:
    """Peak resident memory (MiB) of a fresh process doing ``run_once(build_model(network), **spec)``, with
    the environment ``spec["env"]`` if given."""
    spec = dict(spec)
    env = spec.pop("env", None)
    out = in_fresh_process(_with_new_model, dict(fn=run_once, network=network, **spec), threads, env)
    return out and out[1]


HUGE_PAGES = {"THP_MEM_ALLOC_ENABLE": "1"}  # how test.py runs: large CPU tensors on transparent huge pages


def huge_page_cases(args, network: str, device: torch.device) -> list[tuple[dict, dict]]:
    """The 256x256 forward, the training step and, with --full, the full frame, each timed in a fresh
    process with HUGE_PAGES: (row, what its peak memory is measured on) as in main()."""
    steps = dict(device=device, warmup=args.warmup, runs=args.runs, label=", huge pages")
    runs = [(bench_inference, dict(size=(256, 256), **steps), dict(case="inference", size=(256, 256))),
            (bench_train_step, dict(batch=args.batch, size=128, **steps),
             dict(case="train", size=(128, 128), batch=args.batch))]  # fmt: skip
    if args.full:
        frame = dict(case="inference", size=FULL_FRAME)
        warmup, n = frame_steps(device, args.warmup, args.runs)
        runs.append((bench_inference, dict(size=FULL_FRAME, **{**steps, "warmup": warmup, "runs": n}), frame))
    cases = []
    for fn, kwargs, spec in runs:
        out = in_fresh_process(_with_new_model, dict(fn=fn, network=network, **kwargs), args.threads, HUGE_PAGES)
        if out:
            cases.append((out[0], {**spec, "env": HUGE_PAGES}))
    return cases


def compare_official(args: argparse.Namespace) -> int:
    """Our speed beside the official implementation's (scripts/official_compare.py), with the efficiency."""
    from official_compare import compare, report

    mm_before = matmul_flops_per_s(torch.device("cpu"))
    sizes = [(256, 256)] + ([FULL_FRAME] if args.full else [])
    rows = compare(args.compare_official, sizes, args.compare_batches,
                   args.runs, args.warmup, tuple(args.contend))  # fmt: skip
    report(args, rows, (mm_before + matmul_flops_per_s(torch.device("cpu"))) / 2)
    return 0


def bench_network(args: argparse.Namespace, network: str, model: torch.nn.Module, device: torch.device) -> dict:
    """Every case the options ask for, timed on ``model``, the network named ``network``: {"model",
    "parameters", "results", "paper"}."""
    model = model.to(device).eval()
    train = dict(case="train", size=(128, 128), batch=args.batch)
    cases = [  # (timed row, what its peak memory is measured on)
        (bench_inference(model, (128, 128), device, args.warmup, args.runs), None),
        (bench_inference(model, (256, 256), device, args.warmup, args.runs), dict(case="inference", size=(256, 256))),
        (bench_train_step(model, args.batch, 128, device, args.warmup, args.runs), train),
    ]  # fmt: skip
    if args.grad_checkpoint:
        row = bench_train_step(model, args.batch, 128, device, args.warmup, args.runs, grad_checkpoint=True)
        cases.append((row, {**train, "case": "train checkpointed"}))
    if args.amp:
        steps, label = (args.warmup, args.runs), f", {args.amp}"
        cases.append((bench_inference(model, (256, 256), device, *steps, args.amp, label), None))
        row = bench_train_step(model, args.batch, 128, device, *steps, label=label, amp=args.amp)
        cases.append((row, {**train, "amp": args.amp}))
    if args.compile:
        compiled = torch.compile(model)
        cases.append((bench_inference(compiled, (256, 256), device, args.warmup, args.runs, label=", compiled"), None))
        row = bench_train_step(compiled, args.batch, 128, device, args.warmup, args.runs, label=", compiled")
        cases.append((row, None))
    if args.full:
        row = bench_inference(model, FULL_FRAME, device, *frame_steps(device, args.warmup, args.runs))
        cases.append((row, dict(case="inference", size=FULL_FRAME)))
    if isinstance(model, LFDiff):
        cases += [(row, None) for row in lfdiff_rows(args, model, device)]
    if args.tile:
        frame = tuple(int(n) for n in args.tile_frame.lower().split("x"))
        cases.append((bench_tiled(model, frame, args.tile, device), dict(case="inference", size=frame, tile=args.tile)))
    if args.huge_pages and device.type == "cpu":
        cases += huge_page_cases(args, network, device)
    for row, spec in cases:
        if spec is None or args.no_memory:
            continue
        if device.type == "cpu":
            row["peak_rss_mib"] = peak_rss_mib(spec, args.threads, network)
        elif device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            run_once(model, **spec, device=device)
            row["peak_cuda_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    rows = [row for row, _ in cases]
    return {
        "model": network,
        "parameters": count_parameters(model),
        "results": rows,
        "paper": paper_macs(model, device),
    }


def main(argv: list[str] | None = None) -> int:
    p = Parser(__doc__)
    p.add_argument("--model", nargs="+", choices=sorted(NETWORKS), default=["afunet"],
                   help="network(s) to time, one after another in this process, side by side when several "
                        "(default: %(default)s)")  # fmt: skip
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=POSITIVE_INT, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--full", action="store_true", help="also time a full 1000x1500 frame (minutes on a CPU)")
    p.add_argument("--batch", type=POSITIVE_INT, default=6, help="training-step batch (default: %(default)s)")
    p.add_argument("--warmup", type=COUNT, default=3)
    p.add_argument("--runs", type=POSITIVE_INT, default=5)
    p.add_argument("--no_memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--tile", type=POSITIVE_INT, default=None, help="also time tiled inference (test.py --tile N)")
    p.add_argument("--tile_frame", default="1000x1500", help="frame for --tile, HxW (default: %(default)s)")
    p.add_argument("--amp", choices=["bf16", "fp16"], default=None,
                   help="also time 256x256 inference and the training step under autocast")  # fmt: skip
    p.add_argument("--compile", action="store_true", help="also time torch.compile(model): 256x256 and training")
    p.add_argument("--grad_checkpoint", action="store_true", help="also time the checkpointed training step")
    p.add_argument("--huge_pages", action="store_true",
                   help="CPU: also time 256x256 inference, the training step and, with --full, the full frame "
                        "in fresh processes with transparent huge pages (THP_MEM_ALLOC_ENABLE=1, as test.py "
                        "runs)")  # fmt: skip
    p.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    add_arguments(p)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if args.compare_official:
        if args.model != ["afunet"]:
            raise UserError(f"--compare_official times the official AFUNet code, not {' '.join(args.model)}")
        return compare_official(args)
    models = {network: build_model(network) for network in args.model}  # LF-Diff: the full model, stage 2
    mm_before = matmul_flops_per_s(device)
    infos = [bench_network(args, network, model, device) for network, model in models.items()]
    mm = (mm_before + matmul_flops_per_s(device)) / 2
    for r in (r for info in infos for r in info["results"]):
        r["gflop_per_s"] = r["gflop"] / r["seconds"]
        r["efficiency"] = r["gflop_per_s"] * 1e9 / mm
    info = {"device": str(device), "threads": torch.get_num_threads(), "torch": torch.__version__,
            "matmul_gflop_per_s": mm / 1e9, "networks": infos}  # fmt: skip
    print(f"{device}, {info['threads']} threads, torch {info['torch']}; "
          f"dense 2048x2048 float32 matmul: {mm / 1e9:.1f} GFLOP/s")  # fmt: skip
    for one in infos:
        print_network(one)
    if len(infos) > 1:
        print("\nside by side (same process):", *side_by_side(infos), sep="\n")
    if args.json:
        args.json.write_text(json.dumps(info, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
