"""Where the time goes, ours beside the official implementation: self CPU time per operator (torch.profiler)
of one training step or one forward, same weights and input, in one process.

    python scripts/profile_compare.py ../shared/reference/official-model --threads 2              # train, batch 2
    python scripts/profile_compare.py ../shared/reference/official-model --threads 2 --inference 256

The official model code is imported from its own folder at run time (see scripts/official_compare.py).
"""

import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_calls import forward_call, load_ours, make_input, training_call  # noqa: E402
from official_compare import load_official  # noqa: E402

from utils.cli import POSITIVE_INT, Parser, run_cli  # noqa: E402


def operator_times(fn) -> dict[str, float]:
    """Seconds of self CPU time per operator of one call of ``fn`` (after one call to warm up)."""
    fn()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return {e.key: e.self_cpu_time_total / 1e6 for e in prof.key_averages()}


def main(argv: list[str] | None = None) -> int:
    p = Parser(__doc__)
    p.add_argument("official_dir", type=Path, help="folder of the official model code")
    p.add_argument("--threads", type=POSITIVE_INT, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--batch", type=POSITIVE_INT, default=2, help="training batch, 128x128 (default: %(default)s)")
    p.add_argument("--inference", type=POSITIVE_INT, default=None, metavar="SIZE", help="profile a SIZE x SIZE forward")
    p.add_argument("--top", type=POSITIVE_INT, default=20, help="operators to list (default: %(default)s)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    models = {"ours": load_ours(), "official": load_official(args.official_dir)}
    if args.inference:
        x = make_input(1, args.inference, args.inference, torch.device("cpu"))
        calls = {name: forward_call(model, x) for name, model in models.items()}
    else:
        x, target = make_input(args.batch, 128, 128, torch.device("cpu")), torch.rand(args.batch, 3, 128, 128) * 0.5
        calls = {name: training_call(model, x, target) for name, model in models.items()}
    times = {name: operator_times(call) for name, call in calls.items()}
    case = f"forward {args.inference}x{args.inference}" if args.inference else f"train step batch {args.batch} 128x128"
    print(f"{case}, {torch.get_num_threads()} threads: self CPU seconds per operator (profiled, so slower than timed)")
    print("| operator | ours s | official s |")
    print("|---|---|---|")
    ops = sorted(set(times["ours"]) | set(times["official"]), key=lambda k: -max(t.get(k, 0) for t in times.values()))
    for op in ops[: args.top]:
        print(f"| {op} | {times['ours'].get(op, 0):.3f} | {times['official'].get(op, 0):.3f} |")
    print(f"| total | {sum(times['ours'].values()):.3f} | {sum(times['official'].values()):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
