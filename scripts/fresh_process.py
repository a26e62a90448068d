"""Run a function in a fresh process and report its result and that process's own peak resident memory.

Used by scripts/benchmark.py for every CPU memory figure: a fresh process starts from nothing, so its
peak is the case's alone, not the benchmark's accumulated heap.
"""

import contextlib
import ctypes
import multiprocessing as mp
import os
import resource
import sys
from pathlib import Path

import torch


def _child(queue, threads: int | None, fn, kwargs: dict) -> None:
    if threads:
        torch.set_num_threads(threads)
    queue.put((fn(**kwargs), own_peak_rss_mib()))


def own_peak_rss_mib() -> float:
    """This process's peak RSS in MiB. Linux's VmHWM starts afresh at exec, whereas ru_maxrss carries the
    forking parent's RSS over into a spawned child."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10


def release_freed_memory() -> None:
    """Return this process's freed heap memory to the OS (glibc ``malloc_trim``; nothing elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def in_fresh_process(fn, kwargs: dict, threads: int | None = None, env: dict | None = None) -> tuple | None:
    """(``fn(**kwargs)``, peak resident memory in MiB) of a fresh process with ``threads`` torch threads and
    ``env`` added to its environment; None (with a message) when that process dies, e.g. killed for lack
    of memory."""
    release_freed_memory()  # room for the child: this process may hold gigabytes freed by earlier cases
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, threads, fn, kwargs))
    saved = dict(os.environ)
    os.environ.update(env or {})
    try:
        proc.start()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    proc.join()
    if proc.exitcode != 0:
        case = {k: getattr(v, "__name__", v) for k, v in kwargs.items()}
        print(f"{case}: the measuring process died (exit code {proc.exitcode}; "
              f"-9 is usually the out-of-memory killer)", file=sys.stderr)  # fmt: skip
        return None
    return queue.get()
