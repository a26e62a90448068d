"""Scene readers, presets, training/test datasets and the synthetic generator."""

import shutil

import cv2
import numpy as np
import pytest
import torch
from conftest import shared_path, synth_scenes

from datasets import LAYOUTS, TestDataset, TrainingDataset, make_input, read_scene
from datasets.synthesize import main as synthesize_main
from datasets.training import augment
from utils.cli import run_cli
from utils.errors import DatasetError
from utils.hdr_io import write_hdr, write_ldr16


@pytest.mark.parametrize("layout", ["kalantari", "hu", "tel"])
def test_generator_round_trips_through_reader(tmp_path, layout):
    lay = LAYOUTS[layout]
    root = synth_scenes(tmp_path, layout, scenes=2, size=(40, 56))
    folder = root / lay.scene_name(1)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        lay.ldr_file_names(1) + [lay.exposure_file_name, lay.label_file_name]
    )
    scene = read_scene(folder, lay)
    ev = [float(v) for v in (folder / lay.exposure_file_name).read_text().split()]
    np.testing.assert_array_equal(scene.exposure_times, 2.0 ** np.array(ev))
    x = make_input(scene.ldrs, scene.exposure_times)
    assert x.shape == (18, 40, 56) and x.dtype == np.float32
    for i, name in enumerate(lay.ldr_file_names(1)):  # raw 16-bit codes, BGR on disk
        codes = cv2.imread(str(folder / name), cv2.IMREAD_UNCHANGED)[:, :, ::-1].transpose(2, 0, 1)
        ldr = codes.astype(np.float64) / 65536
        np.testing.assert_allclose(x[6 * i + 3 : 6 * i + 6], ldr, rtol=0, atol=1e-7)
        np.testing.assert_allclose(x[6 * i : 6 * i + 3], ldr**2.2 / 2.0 ** ev[i], rtol=1e-5, atol=1e-8)
    assert scene.label.shape == (40, 56, 3) and np.isfinite(scene.label).all() and scene.label.max() > 0
    # exposures brighten from short to long
    assert scene.ldrs[0].mean() < scene.ldrs[1].mean() < scene.ldrs[2].mean()


def test_generator_is_deterministic_and_has_motion(tmp_path):
    a = read_scene(synth_scenes(tmp_path / "a", seed=3, scenes=1) / "001", LAYOUTS["kalantari"])
    b = read_scene(synth_scenes(tmp_path / "b", seed=3, scenes=1) / "001", LAYOUTS["kalantari"])
    c = read_scene(synth_scenes(tmp_path / "c", seed=4, scenes=1) / "001", LAYOUTS["kalantari"])
    np.testing.assert_array_equal(a.ldrs, b.ldrs)
    assert not np.array_equal(a.ldrs, c.ldrs)
    # the reference agrees with the label; a non-reference frame does not (motion), even once exposure-matched
    lin = [np.clip(ldr, 1e-4, 0.9) ** 2.2 / t for ldr, t in zip(a.ldrs, a.exposure_times)]
    ok = (a.ldrs[0] < 0.9) & (a.ldrs[1] < 0.9) & (a.ldrs[0] > 0.05)
    err_ref = np.abs(lin[1] - a.label)[ok].mean()
    err_short = np.abs(lin[0] - a.label)[ok].mean()
    assert err_short > 2 * err_ref


def test_synthesize_cli_writes_layout_and_reports_bad_source(tmp_path, capsys):
    assert run_cli(synthesize_main, ["--out", str(tmp_path / "hu"), "--layout", "hu", "--scenes", "1",
                                     "--size", "32x48", "--source", str(tmp_path / "nothing.txt")]) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert "nothing.txt" in err and err.startswith("error: ") and err.count("\n") == 1
    assert synthesize_main(["--out", str(tmp_path / "hu"), "--layout", "hu", "--scenes", "1", "--size", "32x48",
                            "--source"]) == 0  # fmt: skip
    assert (tmp_path / "hu" / "001" / "input_exp.txt").read_text() in ("0.000000\n2.000000\n4.000000\n",
                                                                       "0.000000\n3.000000\n6.000000\n")  # fmt: skip


@pytest.mark.parametrize(
    ("path", "times"),
    [(("fusion_data", "001"), [1.0, 4.0, 16.0]), (("test_data", "ManStanding"), [1.0, 8.0, 64.0])],
)
def test_real_kalantari_exposure_files(tmp_path, path, times):
    src = shared_path("data", "kalantari-format-examples", "data_samples", *path, "exposure.txt")
    assert b"\r\n" in src.read_bytes()
    folder = synth_scenes(tmp_path, scenes=1) / "001"
    shutil.copy(src, folder / "exposure.txt")
    np.testing.assert_array_equal(read_scene(folder, LAYOUTS["kalantari"]).exposure_times, times)


def exact_scene(folder, size=(160, 200)):
    """A scene whose LDRs are exact functions of the label: L_i = (label * t_i)^(1/2.2), quantised."""
    rng = np.random.default_rng(0)
    label = rng.uniform(0.0, 1.0, size + (3,)).astype(np.float32) ** 3
    folder.mkdir(parents=True)
    for i, t in enumerate((1.0, 4.0, 16.0)):
        ldr = np.clip(label * t, 0, 1) ** (1 / 2.2)
        write_ldr16(folder / f"{i}.tif", np.round(ldr * 65535).astype(np.uint16))
    (folder / "exposure.txt").write_text("0\n2\n4\n")
    write_hdr(folder / "HDRImg.hdr", label)
    return folder


@pytest.mark.parametrize("mode", ["paper", "official"])
def test_augmentation_keeps_inputs_and_label_aligned(mode):
    rng = np.random.default_rng(1)
    label = rng.random((8, 8, 3)).astype(np.float32)
    ldrs = np.stack([label * (i + 1) for i in range(3)])
    seen = set()
    for _ in range(64):
        a_ldrs, a_label = augment(ldrs, label, mode, rng)
        for i in range(3):
            np.testing.assert_array_equal(a_ldrs[i], a_label * (i + 1))
        seen.add(a_label.tobytes())
    assert len(seen) == (8 if mode == "paper" else 3)


def test_training_dataset_crops_align_and_are_reproducible(tmp_path):
    root = tmp_path / "train"
    exact_scene(root / "001")
    ds = TrainingDataset(root, LAYOUTS["kalantari"], patch_size=64, repeat=3, augmentation="paper", seed=7)
    assert len(ds) == 3
    for i in range(len(ds)):
        item = ds[i]
        assert item["input"].shape == (18, 64, 64) and item["label"].shape == (3, 64, 64)
        label = item["label"].numpy()
        # H_1 = L_1^2.2 / t_1 equals the label up to RGBE precision (8-bit mantissa shared by the
        # channels), but only if crop and transform are shared
        tol = 0.01 * label.max(axis=0, keepdims=True) + 1e-4
        assert (np.abs(item["input"][0:3].numpy() - label) <= tol).all()
    torch.testing.assert_close(ds[1]["input"], ds[1]["input"])
    first = ds[0]["input"]
    ds.set_epoch(1)
    assert not torch.equal(first, ds[0]["input"])


def test_training_dataset_with_workers_matches_single_process(tmp_path):
    root = synth_scenes(tmp_path, scenes=2, size=(48, 64))
    ds = TrainingDataset(root, LAYOUTS["kalantari"], patch_size=32, repeat=4, augmentation="official")
    batches = []
    for workers in (0, 2):
        loader = torch.utils.data.DataLoader(ds, batch_size=4, shuffle=False, num_workers=workers)
        batches.append(torch.cat([b["input"] for b in loader]))
    torch.testing.assert_close(batches[0], batches[1], rtol=0, atol=0)


def test_test_dataset_allows_scenes_without_label(tmp_path):
    root = synth_scenes(tmp_path, scenes=2)
    (root / "002" / "HDRImg.hdr").unlink()
    (root / ".DS_Store").write_text("")
    ds = TestDataset(root, LAYOUTS["kalantari"])
    assert len(ds) == 2
    assert ds[0]["has_label"] and ds[0]["label"].shape == (3, 48, 64)
    assert not ds[1]["has_label"] and ds[1]["label"] is None and ds[1]["input"].shape == (18, 48, 64)


def _break(folder, how):
    files = sorted(folder.glob("*.tif"))
    if how == "missing":
        files[0].unlink()
    elif how == "four":
        shutil.copy(files[0], folder / "262A9999.tif")
    elif how == "unreadable":
        files[1].write_bytes(b"garbage")
    elif how == "sizes":
        write_ldr16(files[2], np.zeros((40, 64, 3), np.uint16))
    elif how == "exposure_count":
        (folder / "exposure.txt").write_text("0\n2\n")
    elif how == "exposure_text":
        (folder / "exposure.txt").write_text("0\ntwo\n4\n")
    elif how == "label_size":
        write_hdr(folder / "HDRImg.hdr", np.ones((48, 60, 3), np.float32))
    elif how == "label_nan":
        lab = np.ones((48, 64, 3), np.float32)
        lab[3, 4, 1] = np.nan
        cv2.imwrite(str(folder / "HDRImg.exr"), lab)
        shutil.move(folder / "HDRImg.exr", folder / "HDRImg.hdr")
    elif how == "no_label":
        (folder / "HDRImg.hdr").unlink()


@pytest.mark.parametrize(
    ("how", "pattern"),
    [
        ("missing", r"expected 3 LDR images, found 2"),
        ("four", r"expected 3 LDR images, found 4"),
        ("unreadable", r"262A0899\.tif: unreadable"),
        ("sizes", r"262A0900\.tif: size 64x40 differs"),
        ("exposure_count", r"exposure\.txt: expected 3 exposure values .* found 2"),
        ("exposure_text", r"exposure\.txt: malformed exposure file"),
        ("label_size", r"HDRImg\.hdr: label size 60x48 differs from the LDR size 64x48"),
        ("label_nan", r"HDRImg\.hdr: label contains NaN or Inf"),
        ("no_label", r"HDRImg\.hdr: label file not found"),
    ],
)
def test_bad_input_names_scene_file_and_problem(tmp_path, how, pattern):
    folder = synth_scenes(tmp_path, scenes=1) / "001"
    _break(folder, how)
    with pytest.raises(DatasetError, match=rf"^scene .*001: .*{pattern}") as info:
        read_scene(folder, LAYOUTS["kalantari"])
    assert "\n" not in str(info.value)


def test_missing_dataset_folder(tmp_path):
    with pytest.raises(DatasetError, match=r"nowhere: dataset folder not found"):
        TestDataset(tmp_path / "nowhere", LAYOUTS["kalantari"])
