"""Training on several processes with torchrun and DistributedDataParallel.

One process per GPU (NCCL) or per CPU share (gloo). ``--batch_size`` is the global batch: every step,
the ranks split the same slice of the same epoch permutation that one process would train on, and each
rank's loss is weighted so that DDP's gradient average equals the gradient of the global batch's mean
loss. Rank 0 alone logs, validates and writes checkpoints; the stop and divergence decisions are taken
together, so all ranks leave the loop at the same step.
"""

import inspect
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Sampler

from utils.cli import report
from utils.device import resolve_device
from utils.errors import DeviceError, UserError


@dataclass(frozen=True)
class Ranks:
    """Where this process stands: rank among world_size, and local_rank on its machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def ranks_from_environment() -> Ranks:
    """torchrun's RANK, WORLD_SIZE, LOCAL_RANK; one process when they are absent."""
    env = os.environ
    return Ranks(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))


def setup(device_name: str, batch_size: int, timeout_minutes: float) -> tuple[Ranks, torch.device]:
    """Check the global batch, pick this rank's device and join the process group (torchrun only)."""
    ranks = ranks_from_environment()
    if not ranks.enabled:
        return ranks, resolve_device(device_name)
    if batch_size % ranks.world_size:
        raise UserError(f"--batch_size {batch_size} (the global batch) does not divide evenly across "
                        f"{ranks.world_size} processes; use a multiple of {ranks.world_size}")  # fmt: skip
    device = rank_device(device_name, ranks.local_rank)
    # The depthwise convolutions run channels-last (models.modules.conv_hwc), so their gradients arrive in
    # other strides than DDP's buckets; DDP copies them, correctly. Its warning about it says nothing to act on.
    warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    backend = "nccl" if device.type == "cuda" else "gloo"
    kwargs: dict[str, Any] = {"device_id": device} if device.type == "cuda" else {}
    dist.init_process_group(backend, timeout=timedelta(minutes=timeout_minutes), **kwargs)
    return ranks, device


def rank_device(device_name: str, local_rank: int) -> torch.device:
    """Under torchrun each rank takes the GPU of its LOCAL_RANK; 'cpu' (or no GPU with 'auto') runs on CPUs."""
    if device_name == "auto":
        device_name = "cuda" if torch.cuda.is_available() else "cpu"
    if device_name.split(":")[0] != "cuda" or not torch.cuda.is_available():
        return resolve_device(device_name)  # the CPU, another device, or CUDA's one-line error
    if device_name != "cuda":
        raise DeviceError(f"device {device_name!r}: under torchrun give --device cuda (or auto); each rank "
                          f"takes the GPU of its LOCAL_RANK (set CUDA_VISIBLE_DEVICES to choose GPUs)")  # fmt: skip
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise DeviceError(f"LOCAL_RANK {local_rank}: only {count} CUDA devices on this machine; "
                          f"start at most {count} processes per node")  # fmt: skip
    return resolve_device(f"cuda:{local_rank}")  # made current before its first allocation: none on GPU 0


def fail_rank(error: BaseException) -> None:
    """After ``error`` on a torchrun rank still in its process group: report it as the entry point would
    (``utils.cli.report``) and leave with its status through ``os._exit``, for the reason in
    :func:`exit_rank`; torchrun then ends the other ranks. In one process, return (the caller re-raises)."""
    if _in_group():
        _leave(report(error))


def exit_rank(code: int, ranks: Ranks) -> None:
    """Wait until every rank is done, then end a torchrun rank that is still in its process group with
    ``code``, after flushing its output; in one process, return. Every file must be closed by then. The
    rank leaves with ``os._exit``, with nothing torn down: freeing the DDP model frees the gloo group,
    whose destructor joins its worker threads while holding the GIL, and a worker still freeing a finished
    gather's tensors waits for the GIL, so a rank hung at exit now and then (py-spy: ``~ProcessGroupGloo``
    in ``std::thread::join`` against ``~AsyncGatherWork`` in ``gil_scoped_acquire``; pytorch/pytorch#56297,
    #75097)."""
    barrier(ranks)
    if _in_group():
        _leave(code)


def _in_group() -> bool:
    return dist.is_available() and dist.is_initialized()


def _leave(code: int) -> NoReturn:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def barrier(ranks: Ranks) -> None:
    """Wait until every rank arrives (the process group's timeout bounds the wait)."""
    if ranks.enabled:
        dist.barrier()


def on_main(action: Callable[[], None], ranks: Ranks) -> None:
    """Run ``action`` (a check that may raise a :class:`UserError`) on rank 0 alone, and share its outcome:
    after a refusal rank 0 raises it and the other ranks leave quietly with status 1 (``SystemExit``), so
    that the message is shown once, not followed by the others' "connection closed by peer" tracebacks."""
    problem = None
    if ranks.is_main:
        try:
            action()
        except UserError as e:
            problem = e
    if ranks.enabled:
        refused = [problem is not None]
        dist.broadcast_object_list(refused, src=0)
        if refused[0] and not ranks.is_main:
            raise SystemExit(1)
    if problem is not None:
        raise problem


def wrap_ddp(model: torch.nn.Module, device: torch.device) -> DistributedDataParallel:
    """``model`` under DDP with a static graph (every step trains the same parameters) and without syncing
    buffers before each forward (they are constant index tables); PyTorch 2.13 names that option
    ``forward_sync_buffers``, earlier versions ``broadcast_buffers``."""
    ids = [device.index] if device.type == "cuda" else None
    params = inspect.signature(DistributedDataParallel).parameters
    no_sync = "forward_sync_buffers" if "forward_sync_buffers" in params else "broadcast_buffers"
    return DistributedDataParallel(model, device_ids=ids, static_graph=True, **{no_sync: False})


def share(indices: list[int], ranks: Ranks) -> list[int]:
    """This rank's contiguous share of one global batch; shares differ in size by one at most."""
    base, extra = divmod(len(indices), ranks.world_size)
    start = ranks.rank * base + min(ranks.rank, extra)
    return indices[start : start + base + (ranks.rank < extra)]


class RankBatches(Sampler[list[int]]):
    """Global batches of ``batch_size`` consecutive samples of ``order``; yields this rank's share of each.

    A rank whose share of a short last batch is empty gets the batch's first sample with weight 0, so that
    every rank takes part in every step. ``weight(step)`` makes DDP's gradient average exact.
    """

    def __init__(self, order: Sampler[int], batch_size: int, ranks: Ranks) -> None:
        self.order, self.batch_size, self.ranks = order, batch_size, ranks

    def __iter__(self) -> Iterator[list[int]]:
        indices = list(self.order)
        for start in range(0, len(indices), self.batch_size):
            batch = indices[start : start + self.batch_size]
            yield share(batch, self.ranks) or batch[:1]

    def __len__(self) -> int:
        return -(-len(self.order) // self.batch_size)

    def weight(self, step: int) -> float:
        """Loss weight of this rank at ``step`` (0-based within this sampler): world_size * b_rank / b_global."""
        global_size = min(self.batch_size, len(self.order) - step * self.batch_size)
        mine = len(share(list(range(global_size)), self.ranks))
        return self.ranks.world_size * mine / global_size


def reduce_terms(values: torch.Tensor, weight: float, stop: bool, ranks: Ranks) -> tuple[list[float], bool]:
    """(global-batch mean of each loss term in ``values`` (K,), whether any rank asked to stop), the same
    on every rank; ``weight`` is this rank's share of the global batch."""
    if not ranks.enabled:
        return values.detach().float().tolist(), stop
    packed = torch.cat([values.detach().float() * weight, torch.tensor([float(stop)], device=values.device)])
    dist.all_reduce(packed)
    *means, stops = (packed / ranks.world_size).tolist()  # one host sync a step
    return means, stops > 0


def gather(obj: Any, ranks: Ranks) -> list[Any]:
    """Every rank's ``obj`` on rank 0 (in rank order); [] on the other ranks; [obj] in one process."""
    if not ranks.enabled:
        return [obj]
    out = [None] * ranks.world_size if ranks.is_main else None
    dist.gather_object(obj, out, dst=0)
    return out or []
