"""CPU threads on a shared machine: the inference path runs on as many threads as other processes leave
cores free.

The CPU inference path is thousands of small parallel regions per forward; each waits for all its threads,
so one thread that another process keeps off its core stalls every region (a second copy of the inference
made ours 10x slower than idle, the official code under 3x). Before a forward, ``FreeCores`` measures how busy the
cores this process may use were since its last look (Linux ``/proc/stat``), less this process's own CPU
time, and the forward runs on the cores that others left at least ``FREE_SHARE`` free, never more threads
than torch was given. Elsewhere (no ``/proc/stat``), or with ``AFUNET_CPU_THREADS=fixed``, the count stays
as torch has it.
"""

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch

FIXED_ENV = "AFUNET_CPU_THREADS"  # "fixed": always torch's thread count
SAMPLE_S = 0.05  # the shortest window a measurement spans (a first look sleeps this long)
FREE_SHARE = 0.7  # a core counts as free when others used at most 30% of it
BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user nice system irq softirq steal (idle and iowait are not busy)


def busy_seconds(cpus: set[int], stat: str = "/proc/stat") -> float | None:
    """CPU-seconds the given cores spent busy since boot, all processes together; None if unknown."""
    try:
        with open(stat) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    ticks = 0
    for line in lines:
        name, *values = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            ticks += sum(int(values[i]) for i in BUSY_FIELDS if i < len(values))
    return ticks / os.sysconf("SC_CLK_TCK")


class FreeCores:
    """How many of this process's cores other processes left free, measured between calls."""

    def __init__(self) -> None:
        self.cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
        self.last: tuple[float, float, float] | None = None
        self.free = float(len(self.cpus))
        self.lock = threading.Lock()

    def snapshot(self) -> tuple[float, float, float] | None:
        busy = busy_seconds(self.cpus)
        return None if busy is None else (time.monotonic(), busy, time.process_time())

    def measure(self) -> float | None:
        """Free cores (float) over the time since the last call (at least SAMPLE_S); None if unknown."""
        with self.lock:
            if self.last is None:
                self.last = self.snapshot()
                time.sleep(SAMPLE_S)
            now = self.snapshot()
            if now is None or self.last is None:
                return None
            elapsed = now[0] - self.last[0]
            if elapsed >= SAMPLE_S:
                others = max(0.0, (now[1] - self.last[1]) - (now[2] - self.last[2])) / elapsed
                self.free, self.last = max(0.0, len(self.cpus) - others), now
            return self.free

    def threads(self, requested: int) -> int:
        """Threads for the next piece of work: the free cores, at least 1, at most ``requested``."""
        free = None if os.environ.get(FIXED_ENV) == "fixed" else self.measure()
        if free is None:
            return requested
        return max(1, min(requested, int(free + 1 - FREE_SHARE)))


FREE_CORES = FreeCores()


@contextmanager
def threads_on_free_cores() -> Iterator[int]:
    """Run the block on ``FREE_CORES.threads(torch.get_num_threads())`` threads; restore the count after."""
    requested = torch.get_num_threads()
    n = FREE_CORES.threads(requested)
    if n != requested:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        if n != requested:
            torch.set_num_threads(requested)
