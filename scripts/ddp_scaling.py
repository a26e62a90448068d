"""Training throughput on 1 and on N processes (torchrun, DDP) at the same global batch, side by side.

    python scripts/ddp_scaling.py                                  # CPU: 1 process vs 2, batch 4, 64x64
    python scripts/ddp_scaling.py --device cuda --processes 1 2 4 8 --batch 6 --patch 128

Synthesizes a small training set in a temporary folder, runs train.py (one process) and
``torchrun --nproc_per_node N train.py`` for each N with the same arguments, and reads the speed from
each run's log.jsonl: samples per second over the iterations after the warm-up.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datasets.layouts import LAYOUTS  # noqa: E402
from datasets.synthesize import synthesize  # noqa: E402
from utils.cli import COUNT, POSITIVE_INT, Parser, run_cli  # noqa: E402
from utils.errors import UserError  # noqa: E402


def run(processes: int, data: Path, logdir: Path, args: argparse.Namespace) -> dict:
    """One training run; -> its processes, seconds per iteration and samples per second after the warm-up."""
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
    cmd = [sys.executable, *(launcher if processes > 1 else []), "train.py", "--dataset_dir", str(data),
           "--logdir", str(logdir), "--recipe", "official", "--batch_size", str(args.batch), "--patch_size",
           str(args.patch), "--repeat", "50", "--epochs", "1", "--max_iters", str(args.warmup + args.iters),
           "--num_workers", "1", "--log_every", "1", "--device", args.device, "--no_tensorboard"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, args.threads // processes))}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise UserError(f"{processes} process(es): train.py failed: {done.stdout[-500:]} {done.stderr[-1500:]}")
    times = [r["time"] for r in map(json.loads, open(logdir / "log.jsonl")) if r.get("kind") == "train"]
    seconds = (times[-1] - times[args.warmup - 1]) / args.iters
    return {"processes": processes, "threads_per_process": env["OMP_NUM_THREADS"], "s_per_iter": seconds,
            "samples_per_s": args.batch / seconds}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = Parser(__doc__)
    p.add_argument("--processes", type=POSITIVE_INT, nargs="+", default=[1, 2], help="process counts (default: 1 2)")
    p.add_argument("--batch", type=POSITIVE_INT, default=4, help="global batch (default: %(default)s)")
    p.add_argument("--patch", type=POSITIVE_INT, default=64, help="crop size (default: %(default)s)")
    p.add_argument("--iters", type=POSITIVE_INT, default=10, help="timed iterations (default: %(default)s)")
    p.add_argument("--warmup", type=COUNT, default=2, help="iterations before timing (default: %(default)s)")
    p.add_argument("--threads", type=POSITIVE_INT, default=os.cpu_count(), help="CPU threads shared by the processes")
    p.add_argument("--device", default="cpu", help="cpu or cuda (one GPU per process)")
    p.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = p.parse_args(argv)
    if args.warmup < 1:
        raise UserError("--warmup must be at least 1 (the first logged iteration starts the clock)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        synthesize(data / "Training", LAYOUTS["kalantari"], 4, 0, (max(96, args.patch + 32),) * 2, [], 1.0)
        for n in args.processes:
            rows.append(run(n, data, Path(tmp) / f"run{n}", args))
            print(f"{n} process(es): {rows[-1]['samples_per_s']:.2f} samples/s", flush=True)
    base = rows[0]["samples_per_s"]
    print(f"\nglobal batch {args.batch}, {args.patch}x{args.patch} crops, {args.device}, {args.threads} threads in all")
    print("| processes | threads each | s / iteration | samples / s | vs first row |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['processes']} | {r['threads_per_process']} | {r['s_per_iter']:.3f} | {r['samples_per_s']:.2f} "
              f"| {r['samples_per_s'] / base:.2f}x |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
