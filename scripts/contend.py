"""A competing process for ``scripts/benchmark.py --compare_official DIR --contend ...``: the benchmark
starts it before a condition's rows and stops it after them.

    none   nothing competes (an idle machine)
    busy   an unrelated process spins on one core
    self   a second copy of our 256x256 inference runs in a loop with the benchmark's thread count, as a
           user evaluating two checkpoints at once (or test.py beside merge.py) would have it

``python scripts/contend.py busy|self THREADS`` runs one by itself; it prints ``ready`` once it competes.
"""

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CONDITIONS = ("none", "busy", "self")
START_S = 600  # how long a competitor may take to start (its first forward included)


@contextmanager
def competing(condition: str, threads: int) -> Iterator[None]:
    """Run the block while the condition's competitor runs (nothing for 'none')."""
    if condition == "none":
        yield
        return
    proc = subprocess.Popen([sys.executable, __file__, condition, str(threads)], stdout=subprocess.PIPE, text=True)
    try:
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the competing process ({condition}) did not start (exit {proc.poll()})")
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def spin() -> None:
    print("ready", flush=True)
    while True:
        pass


def infer_forever(threads: int) -> None:
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench_calls import forward_call, load_ours, make_input

    torch.set_num_threads(threads)
    run = forward_call(load_ours(), make_input(1, 256, 256, torch.device("cpu")))
    run()
    print("ready", flush=True)
    while True:
        run()


if __name__ == "__main__":
    kind, n = sys.argv[1], int(sys.argv[2])
    spin() if kind == "busy" else infer_forever(n)
