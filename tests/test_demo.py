"""The out-of-the-box path: bundled sample scenes, the demo checkpoint, and `python test.py` with no arguments."""

import csv
import json
import os

import pytest
import torch
from conftest import ROOT, shared_path

import test as test_script
from datasets import LAYOUTS, TestDataset
from datasets.samples import RADIANCE_DIR, SCENES, ensure_samples
from datasets.scene import read_scene
from datasets.sources import DEFAULT_SOURCES, HELD_OUT, find_sources, is_held_out
from models import DEMO_WEIGHTS, STHDR, AFUNet, LFDiff, load_model
from models.baselines import ReferenceOnly, TriangleMerge
from utils.cli import run_cli
from utils.engine.evaluation import evaluate

DEMO = DEMO_WEIGHTS["afunet"]
REFERENCE = ROOT / "tests" / "fixtures" / "demo_tables_cpu.json"


def test_held_out_maps_ship_with_their_licences_and_stay_out_of_training_sets():
    shipped = sorted(RADIANCE_DIR.glob("*.hdr"))
    assert len(shipped) == len(HELD_OUT)
    sources = (RADIANCE_DIR / "SOURCES.md").read_text()
    assert all(f"| {p.name} |" in sources for p in shipped) and "CC BY 3.0" in sources
    assert "Industrial Light & Magic" in (RADIANCE_DIR / "LICENSE-openexr-images").read_text()
    shared = find_sources([shared_path("data", "hdr-radiance")])
    assert sum(is_held_out(p) for p in shared) == len(HELD_OUT)
    assert DEFAULT_SOURCES.resolve() == shared_path("data", "hdr-radiance").resolve()


def test_sample_scenes_are_synthesized_once(tmp_path):
    test_dir = ensure_samples(tmp_path)
    scenes = sorted(p for p in test_dir.iterdir() if p.is_dir())
    assert len(scenes) == SCENES and not list(tmp_path.glob(".synth-*"))
    scene = read_scene(scenes[0], LAYOUTS["kalantari"])
    assert scene.ldrs.shape == (3, 256, 384, 3) and scene.label.shape == (256, 384, 3)
    stamp = os.stat(scenes[0] / "HDRImg.hdr").st_mtime_ns
    assert ensure_samples(tmp_path) == test_dir and os.stat(scenes[0] / "HDRImg.hdr").st_mtime_ns == stamp


def test_demo_checkpoint_loads_like_an_official_one_and_records_its_run():
    model, ckpt = load_model(DEMO)
    assert model.config == AFUNet().config
    meta = ckpt["meta"]
    for key in ("command", "data", "iteration", "train_seconds", "args"):
        assert key in meta, key
    assert meta["iteration"] > 0 and meta["args"]["seed"] == 443


@pytest.mark.slow
def test_plain_test_py_scores_the_demo_and_beats_both_baselines(tmp_path):
    assert run_cli(test_script.main, ["--save_dir", str(tmp_path)]) == 0
    with open(tmp_path / "results.csv") as f:
        rows = {r["scene"]: r for r in csv.DictReader(f)}
    assert len(rows) == SCENES + 1 and (tmp_path / "001.hdr").is_file()
    demo = float(rows["mean"]["psnr_mu"])
    assert_matches_the_gpu_checks_reference(tmp_path, "afunet")
    dataset = TestDataset(ensure_samples(), LAYOUTS["kalantari"])
    merge, reference = (
        evaluate(method, dataset, torch.device("cpu"), progress=False)["mean"]["psnr_mu"]
        for method in (TriangleMerge(), ReferenceOnly())
    )
    assert demo > merge + 1.0 and demo > reference + 0.5, (demo, merge, reference)


def test_sthdr_demo_is_the_full_model_and_records_its_run():
    model, ckpt = load_model(DEMO_WEIGHTS["sthdr"])
    assert type(model) is STHDR and model.config == STHDR().config
    meta = ckpt["meta"]
    assert meta["args"]["model"] == "sthdr" and meta["args"]["loss"] == "multiscale" and meta["iteration"] > 0
    assert all(key in meta for key in ("command", "data", "train_seconds", "machine"))


def assert_matches_the_gpu_checks_reference(save_dir, network: str) -> None:
    """test.py's table in ``save_dir`` is the committed CPU reference that scripts/gpu_check.py compares a
    GPU's table to (tests/fixtures/demo_tables_cpu.json; rewrite it with gpu_check.py --write_reference)."""
    result = json.loads((save_dir / "results.json").read_text())
    reference = json.loads(REFERENCE.read_text())["networks"][network]["table"]
    for row in [*result["scenes"], {**result["mean"], "scene": "mean"}]:
        for column, value in reference[row["scene"]].items():
            assert abs(row[column] - value) <= 1e-3, (network, row["scene"], column, row[column], value)


def demo_and_merge_psnr_mu(argv: list[str], tmp_path) -> tuple[float, float]:
    """Mean PSNR-mu of ``test.py argv`` on the sample scenes (checked against the GPU check's reference),
    and of the unaligned merge on them."""
    assert run_cli(test_script.main, [*argv, "--save_dir", str(tmp_path)]) == 0
    assert_matches_the_gpu_checks_reference(tmp_path, argv[argv.index("--model") + 1])
    with open(tmp_path / "results.csv") as f:
        demo = float(next(r for r in csv.DictReader(f) if r["scene"] == "mean")["psnr_mu"])
    dataset = TestDataset(ensure_samples(), LAYOUTS["kalantari"])
    return demo, evaluate(TriangleMerge(), dataset, torch.device("cpu"), progress=False)["mean"]["psnr_mu"]


@pytest.mark.slow
def test_test_py_model_sthdr_scores_its_demo_and_beats_the_unaligned_merge(tmp_path):
    """Measured on the sample scenes: PSNR-mu 27.72 against the unaligned merge's 24.62; asserted: +2.5 dB."""
    demo, merge = demo_and_merge_psnr_mu(["--model", "sthdr"], tmp_path)
    assert demo > merge + 2.5, (demo, merge)


def test_lfdiff_demo_is_the_full_model_and_records_both_stages():
    model, ckpt = load_model(DEMO_WEIGHTS["lfdiff"])
    assert type(model) is LFDiff and model.config["variant"] == "full" and model.samples
    meta = ckpt["meta"]
    assert meta["args"]["model"] == "lfdiff" and meta["args"]["stage"] == 2 and meta["args"]["loss"] == "l1"
    for key in ("command", "stage_1_command", "stage_1_seconds", "data", "train_seconds", "machine"):
        assert key in meta, key


@pytest.mark.slow
def test_test_py_model_lfdiff_scores_its_demo_and_beats_the_unaligned_merge(tmp_path):
    """Measured on the sample scenes (seed 0): PSNR-mu 36.81 against the unaligned merge's 24.62; asserted:
    +10 dB."""
    demo, merge = demo_and_merge_psnr_mu(["--model", "lfdiff", "--seed", "0"], tmp_path)
    assert demo > merge + 10.0, (demo, merge)


def test_test_py_model_names_the_network_a_checkpoint_must_hold(tmp_path, capsys):
    argv = ["--model", "sthdr", "--pretrained_model", str(DEMO_WEIGHTS["afunet"]), "--save_dir", str(tmp_path)]
    assert run_cli(test_script.main, argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds afunet weights, not sthdr (--model)" in err


@pytest.mark.parametrize("argv", [["--dataset", "hu"], ["--dataset_dir", "elsewhere"]])
def test_naming_a_dataset_leaves_the_samples_alone(argv, tmp_path, capsys):
    assert run_cli(test_script.main, [*argv, "--save_dir", str(tmp_path)]) == 1
    assert "dataset folder not found" in capsys.readouterr().err
