"""Atomic checkpoint writes and the full random state needed for an exact resume."""

import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch


def atomic_save(obj: Any, path: str | Path) -> None:
    """torch.save to a temporary file in the same folder, fsync, then rename over ``path``:
    a crash or kill during the write leaves the previous file intact."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch CPU and CUDA generator states."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    numpy_state = (name, keys.tolist(), pos, has_gauss, gauss)  # plain types: loadable with weights_only
    state = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    random.setstate(state["python"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA), as the official script does."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def check_writable(folder: Path, need_bytes: int) -> str | None:
    """None if ``folder`` can be created and written with ``need_bytes`` free, else the problem."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder) as f:
            f.write(b"0")
    except OSError as e:
        return f"{folder}: run folder is not writable ({e.strerror or e})"
    free = shutil.disk_usage(folder).free
    if free < need_bytes:
        return f"{folder}: only {free / 2**20:.0f} MiB free, checkpoints need about {need_bytes / 2**20:.0f} MiB"
    return None


def export_weights(src: str | Path, dst: str | Path, extra_meta: dict[str, Any]) -> dict[str, Any]:
    """Write the weights of a training checkpoint without its optimiser and RNG state: model, config and
    meta (the run's meta, iteration, epoch, training seconds, arguments, plus ``extra_meta``).
    An unreadable ``src`` raises models.CheckpointError naming it."""
    from models.official import read_checkpoint

    ckpt = read_checkpoint(src)
    keep = ("iteration", "epoch", "train_seconds", "args")
    meta = {**ckpt.get("meta", {}), **{k: ckpt[k] for k in keep if k in ckpt}, **extra_meta}
    atomic_save({"model": ckpt["model"], "config": ckpt["config"], "meta": meta}, dst)
    return meta
