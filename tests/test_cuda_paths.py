"""The CUDA paths, simulated on the CPU: a run's GPU is made current before its first allocation (one
process and torchrun) and probed with a real kernel; bf16 needs native support; the random state a
checkpoint keeps is its own GPU's, restorable with fewer or other GPUs; out-of-memory handling in merge.py
and test.py; the cached window bias after a fused optimiser step; the float32 mode."""

import pytest
import torch

from utils import rng
from utils.device import resolve_device
from utils.engine.distributed import rank_device


class FakeCuda:
    """Two visible GPUs: records which device is made current and where each allocation lands."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, count: int = 2) -> None:
        self.events: list[tuple[str, object]] = []
        self.current, self.count, self.states = 0, count, {}
        real_ones = torch.ones

        def ones(*size, device=None, **kwargs):
            if device is not None and torch.device(device).type == "cuda":
                self.events.append(("allocate", torch.device(device).index))
                return real_ones(*size, **kwargs)
            return real_ones(*size, device=device, **kwargs)

        def set_device(device):
            self.current = torch.device(device).index if not isinstance(device, int) else device
            self.events.append(("set_device", self.current))

        cuda = torch.cuda
        monkeypatch.setattr(cuda, "is_available", lambda: True)
        monkeypatch.setattr(cuda, "device_count", lambda: self.count)
        monkeypatch.setattr(cuda, "set_device", set_device)
        monkeypatch.setattr(cuda, "current_device", lambda: self.current)
        monkeypatch.setattr(cuda, "get_rng_state", lambda device: torch.tensor([device, 7], dtype=torch.uint8))
        monkeypatch.setattr(cuda, "set_rng_state", lambda state, device: self.states.__setitem__(device, state))
        monkeypatch.setattr(torch, "ones", ones)


def test_an_explicit_gpu_is_made_current_before_its_first_allocation(monkeypatch):
    cuda = FakeCuda(monkeypatch)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert cuda.events == [("set_device", 1), ("allocate", 1)]


def test_each_torchrun_rank_allocates_on_its_own_gpu_only(monkeypatch):
    cuda = FakeCuda(monkeypatch)
    assert rank_device("auto", 1) == torch.device("cuda", 1)
    assert cuda.events == [("set_device", 1), ("allocate", 1)]  # nothing on GPU 0


def test_the_random_state_is_the_runs_gpus_and_restores_with_fewer_gpus(monkeypatch):
    cuda = FakeCuda(monkeypatch)
    cuda.current = 1
    state = rng.rng_state()
    assert state["cuda"].tolist() == [1, 7]  # one state, the current GPU's, not every visible GPU's
    cuda.count, cuda.current = 1, 0  # resumed where one GPU is visible
    rng.set_rng_state(state)
    assert cuda.states[0].tolist() == [1, 7]
    old = {**state, "cuda": [torch.tensor([0, 1], dtype=torch.uint8), torch.tensor([1, 1], dtype=torch.uint8)]}
    rng.set_rng_state(old)  # an older checkpoint with every GPU's state: the current index's, else the first
    assert cuda.states[0].tolist() == [0, 1]


class RunsOutOfMemory(torch.nn.Module):
    """Raises an out-of-memory error (``kind``) for inputs wider than ``limit``; else the first 3 channels."""

    def __init__(self, kind: type[Exception], message: str, limit: int = 200) -> None:
        super().__init__()
        self.kind, self.message, self.limit, self.widths = kind, message, limit, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.widths.append(x.shape[-1])
        if x.shape[-1] > self.limit:
            raise self.kind(self.message)
        return x[:, :3]


@pytest.mark.parametrize(
    "kind, message",
    [
        (torch.cuda.OutOfMemoryError, "CUDA out of memory. Tried to allocate"),
        (RuntimeError, "cuDNN error: CUDNN_STATUS_ALLOC_FAILED out of memory"),
    ],
)
def test_merge_retries_out_of_memory_with_tiles_and_says_so(kind, message, capsys):
    from utils.engine.merge import predict

    model, x = RunsOutOfMemory(kind, message), torch.rand(1, 18, 256, 300)
    out, tile = predict(model, x, None)
    assert tile == 150 and model.widths[0] == 384 and set(model.widths[1:]) == {150}  # the padded frame, then tiles
    torch.testing.assert_close(out, x[:, :3])
    assert "retrying with 150x150 tiles" in capsys.readouterr().out
    with pytest.raises(RuntimeError, match="shape mismatch"):  # any other error is not retried
        predict(RunsOutOfMemory(RuntimeError, "shape mismatch"), x, None)


def test_merges_automatic_tiles_depend_on_the_device():
    from utils.engine.merge import AUTO_TILE, auto_tile

    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)  # a device object needs no GPU
    assert auto_tile(1000, 1500, cpu) is None and auto_tile(3000, 4000, cpu) == AUTO_TILE
    assert auto_tile(3000, 4000, cuda) is None and auto_tile(6000, 8000, cuda) is None  # one pass, then halves


def test_a_full_frame_is_warmed_up_on_a_gpu_only():
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_calls import frame_steps

    assert frame_steps(torch.device("cpu"), 3, 5) == (1, 1)
    assert frame_steps(torch.device("cuda"), 0, 5) == (1, 5) and frame_steps(torch.device("cuda"), 3, 5) == (3, 5)


def test_testing_out_of_memory_is_one_line_that_suggests_tiles(tmp_path):
    from conftest import synth_scenes

    from datasets import LAYOUTS, TestDataset
    from utils.engine.evaluation import evaluate
    from utils.errors import UserError

    dataset = TestDataset(synth_scenes(tmp_path / "Test", scenes=1, size=(40, 48)), LAYOUTS["kalantari"])
    model = RunsOutOfMemory(torch.cuda.OutOfMemoryError, "CUDA out of memory. Tried to allocate 2.00 GiB", 100)
    with pytest.raises(UserError, match=r"^scene 001: out of cpu memory on the full 40x48 frame; give --tile 512"):
        evaluate(model, dataset, torch.device("cpu"), progress=False)


@pytest.mark.device
def test_the_cached_window_bias_follows_a_fused_optimiser_step(device):
    from models.windows import RelativePositionBias

    bias = RelativePositionBias(heads=2, ws=4).to(device).eval()
    with torch.no_grad():
        before = bias().clone()
    bias.train()
    bias.table.sum().backward()
    torch.optim.Adam(bias.parameters(), lr=0.1, fused=True).step()  # in place, without a version bump
    bias.eval()
    with torch.no_grad():
        after = bias()
        torch.testing.assert_close(after, bias.gather())
    assert not torch.equal(before, after)


def test_the_float32_mode_is_chosen_explicitly_for_testing_and_training():
    import test as test_script
    import train as train_script
    from utils.device import set_tf32

    assert train_script.parse_args(["--dataset_dir", "x"]).tf32 is True
    assert train_script.parse_args(["--dataset_dir", "x", "--no_tf32"]).tf32 is False
    assert test_script.parse_args([]).tf32 is False and test_script.parse_args(["--tf32"]).tf32 is True
    matmul, conv = torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision
    try:
        assert set_tf32(True) == "tf32" and torch.backends.cuda.matmul.fp32_precision == "tf32"
        assert set_tf32(False) == "ieee" and torch.backends.cudnn.conv.fp32_precision == "ieee"
    finally:
        torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision = matmul, conv


def test_bf16_on_a_gpu_without_it_is_refused_in_one_line(monkeypatch):
    from utils.device import check_amp
    from utils.errors import DeviceError

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla V100")
    with pytest.raises(DeviceError, match=r"^--amp bf16: Tesla V100 has no native bfloat16"):
        check_amp(torch.device("cuda", 0), "bf16")
    check_amp(torch.device("cuda", 0), None)
    check_amp(torch.device("cpu"), "bf16")


def test_a_gpu_the_build_cannot_run_is_one_line_at_start(monkeypatch):
    from utils.errors import DeviceError

    FakeCuda(monkeypatch)

    def no_kernel(*size, device=None, **kwargs):
        raise RuntimeError("CUDA error: no kernel image is available for execution on the device\nCUDA kernel ...")

    monkeypatch.setattr(torch, "ones", no_kernel)
    with pytest.raises(DeviceError, match=r"^device 'cuda:1': cannot be used \(CUDA error: no kernel image"):
        resolve_device("cuda:1")
