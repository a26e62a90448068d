"""Device and checkpoint mistakes: one line naming the device or the file and the cause, exit code 1."""

import pytest
import torch
from conftest import synth_scenes

import test as test_script
import train as train_script
from utils import device as device_module
from utils.checkpoint import read_checkpoint
from utils.cli import run_cli
from utils.device import resolve_device
from utils.errors import CheckpointError, DeviceError


class NotATensor:
    """Pickled by a full torch.save; a weights-only load refuses it."""


@pytest.fixture(scope="module")
def bad_checkpoints(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("bad")
    good = folder / "good.pth"
    torch.save({"model": {"w": torch.ones(3)}}, good)
    files = {
        "pickled object": ("a weights-only load refused it: Unsupported global: GLOBAL", {"x": NotATensor()}),
        "garbage": ("a weights-only load refused it: Unsupported operand", b"garbage" * 10),
        "truncated": ("RuntimeError: PytorchStreamReader failed reading zip archive", good.read_bytes()[:300]),
        "empty": ("EOFError: the file is empty or truncated", b""),
    }
    out = {}
    for name, (cause, content) in files.items():
        path = folder / f"{name.replace(' ', '_')}.pth"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            torch.save(content, path)
        out[name] = (path, cause)
    return out


@pytest.mark.parametrize("kind", ["pickled object", "garbage", "truncated", "empty"])
def test_a_checkpoint_torch_load_rejects_is_one_line_with_the_first_line_of_the_cause(bad_checkpoints, kind):
    path, cause = bad_checkpoints[kind]
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not a readable PyTorch checkpoint ({cause}")
    assert "\n" not in message and "\x1b" not in message and len(message) < 300, message


def test_test_py_and_train_py_report_a_bad_checkpoint_in_one_line(bad_checkpoints, tmp_path, capsys):
    path, cause = bad_checkpoints["pickled object"]
    assert run_cli(test_script.main, ["--pretrained_model", str(path), "--save_dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: not a readable") and cause in err and err.count("\n") == 1


def test_resume_from_a_corrupt_latest_checkpoint_is_one_line(tmp_path, capsys):
    data = synth_scenes(tmp_path / "Kal" / "Training", scenes=1, size=(32, 32)).parent
    run = tmp_path / "run"
    run.mkdir()
    (run / "latest.pth").write_bytes(b"\x00" * 100)
    capsys.readouterr()  # the synthesizer's progress bar
    argv = ["--dataset_dir", str(data), "--logdir", str(run), "--loss", "l1", "--patch_size", "16",
            "--num_workers", "0", "--device", "cpu", "--resume", "auto"]  # fmt: skip
    assert run_cli(train_script.main, argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {run / 'latest.pth'}: not a readable PyTorch checkpoint") and err.count("\n") == 1
    weights_only = tmp_path / "weights.pth"
    torch.save({"model": {}, "config": {}}, weights_only)
    assert run_cli(train_script.main, [*argv[:-1], str(weights_only)]) == 1
    err = capsys.readouterr().err
    assert "not a train.py checkpoint to resume from" in err and "--init_weights" in err and err.count("\n") == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
@pytest.mark.parametrize("script", [test_script, train_script])
def test_cuda_without_cuda_is_one_line(script, tmp_path, capsys):
    assert run_cli(script.main, ["--device", "cuda", "--logdir" if script is train_script else "--save_dir",
                                 str(tmp_path / "out")]) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert err.startswith("error: device 'cuda': CUDA is not available") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()  # nothing was started


def test_a_cuda_index_that_does_not_exist_is_one_line(monkeypatch):
    monkeypatch.setattr(device_module.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(device_module.torch.cuda, "device_count", lambda: 2)
    with pytest.raises(DeviceError, match=r"^device 'cuda:2': no such CUDA device \(2 present: cuda:0 to cuda:1\)$"):
        resolve_device("cuda:2")


@pytest.mark.parametrize(
    "name, message",
    [("gpu", r"^device 'gpu': Expected one of cpu, cuda"), ("cuda:x", r"^device 'cuda:x': Invalid device string"),
     ("meta", r"^device 'meta': not a device to compute on")],
)  # fmt: skip
def test_unknown_device_names_are_one_line(name, message):
    with pytest.raises(DeviceError, match=message) as info:
        resolve_device(name)
    assert "\n" not in str(info.value)


def test_auto_and_cpu_resolve():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
