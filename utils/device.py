"""Device selection, synchronisation and autocast, with one-line errors for devices that cannot be used."""

import os
import platform

import torch

from .errors import DeviceError, first_line

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu")


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; any other name is checked: it must parse, exist and work.

    Raises DeviceError ('device cuda: CUDA is not available ...') instead of torch's long messages.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as e:
        raise DeviceError(f"device {name!r}: {first_line(e)}") from None
    if device.type not in DEVICE_TYPES:
        raise DeviceError(f"device {name!r}: not a device to compute on (use one of {', '.join(DEVICE_TYPES)})")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = "this PyTorch is a CPU-only build" if torch.version.cuda is None else "no CUDA GPU was found"
            raise DeviceError(f"device {name!r}: CUDA is not available ({why}); use --device cpu")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise DeviceError(f"device {name!r}: no such CUDA device ({count} present: cuda:0 to cuda:{count - 1})")
        if device.index is not None:  # before any allocation: no context on GPU 0 for a run on another GPU
            torch.cuda.set_device(device)
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"device {name!r}: Apple MPS is not available on this machine; use --device cpu")
    if device.type != "cpu":
        try:  # a real kernel, waited for: a wheel built without this GPU's architecture fails here, in one line
            torch.ones(1, device=device).add_(1).cpu()
        except (RuntimeError, AssertionError) as e:  # a CPU-only build asserts
            raise DeviceError(f"device {name!r}: cannot be used ({first_line(e)})") from None
    return device


def is_out_of_memory(error: BaseException) -> bool:
    """True for a device running out of memory: the CUDA allocator's error or a library's (cuDNN, cuBLAS)."""
    return isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in str(error).lower()


def check_amp(device: torch.device, amp: str | None) -> None:
    """--amp bf16 on a GPU without native bfloat16 (compute capability below 8.0) would be emulated, slower
    than float32: refused in one line."""
    if amp == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported(including_emulation=False):
        name = torch.cuda.get_device_name(device)
        raise DeviceError(f"--amp bf16: {name} has no native bfloat16 (compute capability below 8.0); train "
                          f"without --amp")  # fmt: skip


def set_tf32(enabled: bool) -> str:
    """float32 matmuls and convolutions on CUDA in TF32 (Ampere and newer: faster, outputs move by about
    1e-3) or in full float32 ("ieee"); set explicitly rather than left to the defaults (TF32 convolutions,
    full-precision matmuls). Nothing changes on the CPU. -> the mode set."""
    mode = "tf32" if enabled else "ieee"
    torch.backends.cuda.matmul.fp32_precision = mode
    torch.backends.cudnn.conv.fp32_precision = mode
    return mode


def describe_device(device: torch.device) -> dict[str, str | None]:
    """What a result records of where it ran: the device and its name, torch, CUDA and cuDNN versions and
    the float32 mode of CUDA matmuls and convolutions."""
    cuda = device.type == "cuda"
    return {
        "device": str(device), "name": torch.cuda.get_device_name(device) if cuda else platform.processor() or None,
        "torch": torch.__version__, "cuda": torch.version.cuda if cuda else None,
        "cudnn": str(torch.backends.cudnn.version()) if cuda else None,
        "float32": torch.backends.cuda.matmul.fp32_precision if cuda else "ieee (CPU)",
    }  # fmt: skip


def sync_device(device: torch.device) -> None:
    """Wait for queued CUDA work so that timings are real; a no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def set_deterministic(enabled: bool) -> None:
    """train.py --deterministic: PyTorch's deterministic algorithms (an op without one warns, naming itself),
    cuDNN's deterministic convolutions without autotuning, and cuBLAS's fixed workspace (the variable must be
    set before the first cuBLAS call: call this before the device is first used). The networks then also
    take their deterministic paths (models.common.reflect_pad, the explicit window attention in training)."""
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    torch.backends.cudnn.deterministic = enabled
    torch.backends.cudnn.benchmark = False


def peak_memory_mib(device: torch.device, reset: bool = False) -> float | None:
    """The most CUDA memory (MiB) tensors have held on ``device`` since the last reset (then reset it with
    ``reset``); None on other devices."""
    if device.type != "cuda":
        return None
    peak = torch.cuda.max_memory_allocated(device) / 2**20
    if reset:
        torch.cuda.reset_peak_memory_stats(device)
    return peak


def autocast(device: torch.device, amp: str | None) -> torch.autocast:
    """Autocast to the ``amp`` dtype ("bf16", "fp16"); a disabled one for None (train.py --amp)."""
    return torch.autocast(device.type, AMP_DTYPES.get(amp), enabled=amp is not None)
