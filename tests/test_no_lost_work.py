"""No lost work and no silent wrong result: a second train.py into a run folder, merge.py over its own
photos, exposures that are not finite or not increasing, weights or predictions with NaN, a scene that
breaks after others were predicted, and results.json that is strict JSON."""

import json
import re

import numpy as np
import pytest
import torch
from conftest import ROOT, synth_scenes

import merge as merge_script
import test as test_script
import train as train_script
from datasets import LAYOUTS
from datasets.scene import read_scene
from utils.checkpoint import claim_run_folder
from utils.cli import run_cli
from utils.engine.evaluation import evaluate
from utils.engine.reports import write_reports
from utils.errors import UserError


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


@pytest.fixture
def scenes(tmp_path):
    return synth_scenes(tmp_path / "Kal" / "Test" / "Test-set", scenes=2, size=(24, 32), seed=3).parents[1]


def test_a_second_run_into_a_run_folder_is_refused_and_keeps_the_first(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "latest.pth").write_bytes(b"first run")
    (run / "log.jsonl").write_text('{"message": "first run"}\n')
    argv = ["--dataset_dir", str(tmp_path / "absent"), "--logdir", str(run), "--loss", "l1", "--device", "cpu"]
    assert run_cli(train_script.main, argv) == 1
    err = one_line_error(capsys)
    assert "holds another run's latest.pth" in err and "--resume auto" in err and "--overwrite" in err
    assert (run / "latest.pth").read_bytes() == b"first run" and "first run" in (run / "log.jsonl").read_text()


def test_overwrite_removes_the_old_runs_checkpoints_log_and_events(tmp_path):
    run = tmp_path / "run"
    (run / "tensorboard").mkdir(parents=True)
    for name in ("latest.pth", "best.pth", "epoch_0050.pth", "log.jsonl", "notes.txt"):
        (run / name).write_text("old")
    with pytest.raises(UserError, match="best.pth, epoch_0050.pth, latest.pth"):
        claim_run_folder(run, 0, resume=None, overwrite=False)
    claim_run_folder(run, 0, resume="auto", overwrite=False)  # continuing is always allowed
    assert (run / "latest.pth").is_file()
    claim_run_folder(run, 0, resume=None, overwrite=True)
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]  # what a run writes goes, the rest stays


def test_merge_never_replaces_one_of_its_photos(tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for p in sorted((ROOT / "samples" / "brackets").glob("*.jpg")):
        (photos / p.name).write_bytes(p.read_bytes())
    before = (photos / "IMG_2041.jpg").read_bytes()
    (tmp_path / "folder.jpg").mkdir()
    cases = [
        (["--preview", str(photos / "IMG_2041.jpg"), "--overwrite"], "is one of the photos"),
        (["--preview", str(tmp_path / "folder.jpg")], "is a folder"),
        (["--preview", "p.txt"], ".jpg or .png"),
    ]
    for extra, message in cases:
        assert run_cli(merge_script.main, [str(photos), "--out", str(tmp_path / "m.exr"), *extra]) == 1
        assert message in one_line_error(capsys)
    assert (photos / "IMG_2041.jpg").read_bytes() == before and not (tmp_path / "m.exr").exists()


@pytest.mark.parametrize("values, message", [
    ("0 nan 4", "must be finite EV stops within ±64, got 0 nan 4"), ("0 2 1e300", "got 0 2 1e+300"),
    ("0 0 0", "must increase with the image order (short, reference, long), got 0 0 0"),
    ("4 2 0", "must increase"),
])  # fmt: skip
def test_exposures_must_be_finite_and_increase(scenes, values, message, tmp_path, capsys):
    folder = scenes / "Test" / "Test-set" / "002"
    (folder / "exposure.txt").write_text(values.replace(" ", "\n"))
    with pytest.raises(UserError, match=f"scene .*002: exposure.txt: .*{re.escape(message)}"):
        read_scene(folder, LAYOUTS["kalantari"])
    argv = ["--dataset_dir", str(scenes), "--save_dir", str(tmp_path / "out"), "--device", "cpu"]
    assert run_cli(test_script.main, argv) == 1
    assert message in one_line_error(capsys)
    assert not (tmp_path / "out" / "001.hdr").exists()  # every scene checked before the first is predicted


def test_weights_with_nan_are_refused_naming_the_checkpoint(official_checkpoint, scenes, tmp_path, capsys):
    ckpt = torch.load(official_checkpoint)
    key = next(iter(ckpt["state_dict"]))
    ckpt["state_dict"][key] = ckpt["state_dict"][key].clone().fill_(float("nan"))
    broken = tmp_path / "broken.pth"
    torch.save(ckpt, broken)
    argv = ["--dataset_dir", str(scenes), "--pretrained_model", str(broken), "--save_dir", str(tmp_path / "out")]
    assert run_cli(test_script.main, argv) == 1
    err = one_line_error(capsys)
    assert f"{broken}: 1 weight tensors hold NaN or infinite values" in err and not (tmp_path / "out").exists()


class Broken(torch.nn.Module):
    """A network whose prediction has one NaN."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x[:, :3].clone()
        out[0, 0, 0, 0] = float("nan")
        return out


def test_a_prediction_with_nan_is_an_error_not_a_file(scenes, tmp_path, monkeypatch, capsys):
    from datasets import TestDataset

    dataset = TestDataset(scenes / "Test" / "Test-set", LAYOUTS["kalantari"])
    with pytest.raises(UserError, match=r"scene 001: the prediction: 1 of \d+ values are NaN or infinite"):
        evaluate(Broken(), dataset, torch.device("cpu"), tmp_path / "out", progress=False)
    assert not list((tmp_path / "out").glob("*.hdr"))
    from utils.engine import merge as merge_engine

    monkeypatch.setattr(merge_engine, "predict", lambda model, x, tile: (Broken()(x), None))
    bracket = ROOT / "samples" / "brackets"
    assert run_cli(merge_script.main, [str(bracket), "--out", str(tmp_path / "m.exr"), "--device", "cpu"]) == 1
    assert "the merged image: 1 of" in one_line_error(capsys) and not (tmp_path / "m.exr").exists()


def test_results_json_is_strict_json(tmp_path):
    perfect = {"psnr_mu": float("inf"), "psnr_l": float("inf"), "ssim_mu": 1.0, "ssim_l": 1.0}
    result = {"scenes": [{"scene": "001", **perfect, "seconds": 0.1}], "mean": perfect, "unlabeled": []}
    write_reports(result, tmp_path, {}, None)

    def refuse(name):
        raise ValueError(f"not strict JSON: {name}")

    report = json.loads((tmp_path / "results.json").read_text(), parse_constant=refuse)
    assert report["mean"]["psnr_mu"] is None and report["scenes"][0]["ssim_mu"] == 1.0
    assert np.isinf(float(open(tmp_path / "results.csv").read().splitlines()[1].split(",")[1]))


def test_damaged_photos_and_scenes_are_errors_not_grey_rows(scenes, tmp_path, capsys):
    import tifffile

    from utils.hdr_io import check_complete

    photos = tmp_path / "photos"
    photos.mkdir()
    for p in sorted((ROOT / "samples" / "brackets").glob("*.jpg")):
        data = p.read_bytes()
        (photos / p.name).write_bytes(data[: int(0.6 * len(data))] if p.name == "IMG_2042.jpg" else data)
    assert run_cli(merge_script.main, [str(photos), "--out", str(tmp_path / "m.exr"), "--device", "cpu"]) == 1
    assert "IMG_2042.jpg: damaged or truncated JPEG" in one_line_error(capsys) and not (tmp_path / "m.exr").exists()
    (photos / "IMG_2042.jpg").write_text("not a photo at all")  # reported as what it is, not as missing EXIF
    assert run_cli(merge_script.main, [str(photos), "--out", str(tmp_path / "m.exr"), "--device", "cpu"]) == 1
    assert "IMG_2042.jpg: unreadable or not an image" in one_line_error(capsys)
    tiff = tmp_path / "cut.tif"  # image data after the directory: a cut leaves a readable header
    tifffile.imwrite(tiff, np.zeros((64, 96, 3), np.uint16), photometric="rgb", rowsperstrip=8)
    tiff.write_bytes(tiff.read_bytes()[: int(0.6 * tiff.stat().st_size)])
    with pytest.raises(UserError, match="cut.tif: truncated TIFF"):
        check_complete(tiff)
    scene = scenes / "Test" / "Test-set" / "001"
    ldr = sorted(scene.glob("*.tif"))[1]
    ldr.write_bytes(ldr.read_bytes()[:-500])
    with pytest.raises(UserError, match=f"scene .*001: {ldr.name}: "):
        read_scene(scene, LAYOUTS["kalantari"])
