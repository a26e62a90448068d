"""test.py end to end on synthetic scenes with the official-format checkpoint."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, synth_scenes

import test as test_script
from datasets import LAYOUTS, TestDataset
from models import AFUNet, load_pretrained
from utils.cli import run_cli
from utils.engine.inference import predict_full, predict_tiled
from utils.hdr_io import read_hdr
from utils.metrics import all_metrics


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("Kal")
    synth_scenes(root / "Test" / "Test-set", scenes=2, size=(40, 56), seed=11)
    return root


@pytest.mark.slow
@pytest.mark.device
def test_test_py_end_to_end(scenes, official_checkpoint, tmp_path, capsys, device):
    """On $TEST_DEVICE (float32, TF32 off), the tables against the metrics of the CPU's predictions."""
    out = tmp_path / "out"
    (scenes / "Test" / "Test-set" / "003").mkdir(exist_ok=True)  # a scene without label
    src = scenes / "Test" / "Test-set" / "001"
    for f in src.iterdir():
        if f.suffix == ".tif" or f.name == "exposure.txt":
            (scenes / "Test" / "Test-set" / "003" / f.name).write_bytes(f.read_bytes())
    rc = run_cli(test_script.main, ["--dataset", "kalantari", "--dataset_dir", str(scenes),
                                    "--pretrained_model", str(official_checkpoint), "--save_dir", str(out),
                                    "--save_inputs", "--device", str(device)])  # fmt: skip
    assert rc == 0
    printed = capsys.readouterr().out
    assert "AFUNet (paper, kalantari) | 44.91 | 42.59 | 0.9923 | 0.9906" in printed
    assert "without a label were predicted but not scored: 003" in printed
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [r["scene"] for r in rows] == ["001", "002", "mean"]
    report = json.loads((out / "results.json").read_text())
    assert report["software"]["torch"] == torch.__version__ and report["unlabeled"] == ["003"]
    assert report["hardware"]["device"] == str(device)
    assert report["hardware"]["float32"] == ("ieee (CPU)" if device.type == "cpu" else "ieee")
    assert torch.backends.cuda.matmul.fp32_precision == torch.backends.cudnn.conv.fp32_precision == "ieee"
    for name in ("001", "002", "003"):
        assert (out / f"{name}.hdr").is_file() and (out / f"{name}_tonemapped.png").is_file()
    # the tables agree with the metric functions applied to the model's predictions
    model = AFUNet().eval()
    load_pretrained(model, official_checkpoint)
    ds = TestDataset(scenes / "Test" / "Test-set", LAYOUTS["kalantari"])
    for i, row in enumerate(rows[:2]):
        item = ds[i]
        pred = predict_full(model, item["input"][None])[0].numpy()
        expected = all_metrics(pred, item["label"].numpy())
        for k, v in expected.items():  # the CPU's predictions: a GPU's differ by float32 rounding
            assert float(row[k]) == pytest.approx(v, abs=2e-6 if device.type == "cpu" else 1e-4)
        assert float(row["psnr_mu"]) == pytest.approx(report["scenes"][i]["psnr_mu"], abs=1e-6)
        # saved .hdr is the prediction up to RGBE precision
        saved = read_hdr(out / f"{row['scene']}.hdr").transpose(2, 0, 1)
        assert np.abs(saved - pred).max() <= 0.01 * pred.max()
    mean = np.mean([float(r["psnr_l"]) for r in rows[:2]])
    assert float(rows[2]["psnr_l"]) == pytest.approx(mean, abs=1e-5)


def test_test_py_user_errors_are_one_line(scenes, official_checkpoint, tmp_path, capsys):
    assert run_cli(test_script.main, ["--dataset_dir", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "dataset folder not found" in err and err.count("\n") == 1
    bad = tmp_path / "bad.pth"
    torch.save({"model": AFUNet(stages=2).state_dict(), "config": {"stages": 3}}, bad)
    assert run_cli(test_script.main, ["--dataset_dir", str(scenes), "--pretrained_model", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.pth: does not fit this architecture" in err and err.count("\n") == 1


def test_tiled_inference_is_close_to_full_frame(official_checkpoint):
    model = AFUNet().eval()
    load_pretrained(model, official_checkpoint)
    x = torch.rand(1, 18, 48, 72)
    full = predict_full(model, x)
    tiled = predict_tiled(model, x, tile=48, overlap=16)
    assert tiled.shape == full.shape
    assert (tiled - full).abs().mean() < 0.1  # differs (global CFM statistics) but stays close
    with torch.inference_mode():
        assert torch.allclose(predict_tiled(model, x, tile=128), model(x), atol=1e-6)  # one tile = whole frame


THP_PROBE = """
import resource, runpy, sys
sys.argv = ["test.py", "--help"]
try:
    runpy.run_path("test.py", run_name="__main__")
except SystemExit:
    pass
import torch
torch.ones(2**24)  # 64 MiB, freed: the next one is mapped afresh
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
torch.ones(2**24)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def huge_pages_available() -> bool:
    setting = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    return setting.is_file() and "[never]" not in setting.read_text()


@pytest.mark.slow
@pytest.mark.skipif(not huge_pages_available(), reason="no transparent huge pages on this machine")
def test_test_py_puts_large_tensors_on_huge_pages():
    """64 MiB in 4 KiB pages is 16384 page faults; in 2 MiB huge pages a few hundred. A user's setting wins."""

    def faults(**env: str) -> int:
        run = subprocess.run([sys.executable, "-c", THP_PROBE], cwd=ROOT, env={**os.environ, **env},
                             capture_output=True, text=True, check=True)  # fmt: skip
        return int(run.stdout.split()[-1])

    assert faults() < 4_000
    assert faults(THP_MEM_ALLOC_ENABLE="0") > 10_000
