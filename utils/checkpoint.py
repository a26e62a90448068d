"""The one checkpoint reader and the one writer: every ``.pth`` this project reads or writes goes through
:func:`read_checkpoint` (a one-line CheckpointError for any bad file) and :func:`atomic_save`."""

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError, UserError, first_line

WEIGHTS_ONLY_CAUSE = "WeightsUnpickler error:"


def load_failure(error: BaseException) -> str:
    """The cause of a failed ``torch.load`` in one line: the unpickler's reason for a weights-only refusal
    (torch's advice around it dropped), else the first sentence of the first line."""
    text = str(error)
    if WEIGHTS_ONLY_CAUSE in text:
        cause = first_line(text.split(WEIGHTS_ONLY_CAUSE, 1)[1]).split(". ")[0].rstrip(".")
        return f"a weights-only load refused it: {cause or 'unsupported content'}"
    line = first_line(text).split(". ")[0].rstrip(".")
    if isinstance(error, EOFError) and not line:
        line = "the file is empty or truncated"
    return f"{type(error).__name__}: {line}" if line else type(error).__name__


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint file onto the CPU (weights only: tensors and plain containers).

    Raises CheckpointError naming the file and, in one line, why it cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling/zip failure is a bad file for the user
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({load_failure(e)})") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path}: expected a dict, found {type(ckpt).__name__}")
    return ckpt


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_save(obj: Any, path: str | Path) -> None:
    """torch.save to a temporary file in the same folder, fsync, then rename over ``path``:
    a crash or kill during the write leaves the previous file intact. The file gets the permissions
    a plain ``open`` would give it (mkstemp's are owner-only)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable(folder: Path, need_bytes: int, what: str = "run folder") -> str | None:
    """None if ``folder`` (the ``what``) can be created and written with ``need_bytes`` free, else the problem."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder) as f:
            f.write(b"0")
    except OSError as e:
        return f"{folder}: {what} is not writable ({e.strerror or e})"
    free = shutil.disk_usage(folder).free
    if free < need_bytes:
        return f"{folder}: only {free / 2**20:.0f} MiB free, checkpoints need about {need_bytes / 2**20:.0f} MiB"
    return None


def claim_run_folder(run_dir: Path, need_bytes: int, resume: str | None, overwrite: bool) -> None:
    """Make ``run_dir`` ready for a run, or raise a one-line UserError: it must be writable with
    ``need_bytes`` free, and a fresh run (no ``resume``) must not land where another run left checkpoints
    (continue that one with --resume auto, or start over with --overwrite, which first removes its
    checkpoints, log and TensorBoard events, so that no best.pth or log line of the old run passes for the
    new one's). Under torchrun only rank 0, which writes, looks (``distributed.on_main``): another rank
    could see the new run's first checkpoint."""
    problem = check_writable(run_dir, need_bytes)
    if problem:
        raise UserError(problem)
    old = [] if resume else sorted(p.name for p in run_dir.glob("*.pth"))
    if not old:
        return
    if not overwrite:
        shown = ", ".join(old[:3]) + (f" and {len(old) - 3} more" if len(old) > 3 else "")
        raise UserError(f"{run_dir} holds another run's {shown}: continue that run with --resume auto, or start "
                        f"over with --overwrite (removes its checkpoints and log)")  # fmt: skip
    for name in [*old, "log.jsonl"]:
        (run_dir / name).unlink(missing_ok=True)
    shutil.rmtree(run_dir / "tensorboard", ignore_errors=True)


def export_weights(src: str | Path, dst: str | Path, extra_meta: dict[str, Any]) -> dict[str, Any]:
    """Write the weights of a training checkpoint without its optimiser and RNG state: model, config and
    meta (the run's meta, iteration, epoch, training seconds, arguments, plus ``extra_meta``)."""
    ckpt = read_checkpoint(src)
    if "model" not in ckpt:
        raise CheckpointError(f"{src}: not a training checkpoint of this project (no 'model' entry)")
    keep = ("iteration", "epoch", "train_seconds", "args")
    meta = {**ckpt.get("meta", {}), **{k: ckpt[k] for k in keep if k in ckpt}, **extra_meta}
    atomic_save({"model": ckpt["model"], "config": ckpt.get("config"), "meta": meta}, dst)
    return meta
