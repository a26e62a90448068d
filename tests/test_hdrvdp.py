"""HDR-VDP-2 against the reference implementation's values and internals, its recipes, its command line,
test.py --hdrvdp and every bad input."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, shared_path, synth_scenes

import test as test_script
from utils.cli import run_cli
from utils.hdr_io import read_hdr, write_hdr
from utils.metrics.hdrvdp import hdrvdp, pix_per_deg
from utils.metrics.hdrvdp import metric as vdp_metric
from utils.metrics.hdrvdp.__main__ import main as vdp_main
from utils.metrics.hdrvdp.matlab import imresize
from utils.metrics.hdrvdp.optics import display_emission
from utils.metrics.hdrvdp.parameters import Parameters
from utils.metrics.hdrvdp.pathway import visual_pathway
from utils.metrics.hdrvdp.recipes import RECIPES, score_files

SHIPPED = ROOT / "tests" / "fixtures" / "hdrvdp2"


RESULTS = {"all": "reference_results_allbands.csv", "lowpass": "reference_results.csv"}  # per map_bands


def load_cases(folder: Path, map_bands: str = "all") -> list[tuple[dict, dict]]:
    cases = json.loads((folder / "cases.json").read_text())
    expected = {r["name"]: {k: float(v) for k, v in r.items() if k != "name"}
                for r in csv.DictReader(open(folder / RESULTS[map_bands]))}  # fmt: skip
    return [(case, expected[case["name"]]) for case in cases]


def run_case(folder: Path, case: dict, map_bands: str = "all") -> dict:
    test, reference = (
        read_hdr(folder / f"{case['name']}_{kind}.hdr").astype(np.float64) for kind in ("test", "reference")
    )
    if case["color_encoding"] == "luminance":
        test, reference = test[:, :, 0], reference[:, :, 0]
    options = {} if map_bands == "all" else {"map_bands": map_bands}  # the default is all bands
    return hdrvdp(test, reference, case["color_encoding"], case["pixels_per_degree"], **options)


def assert_reference(out: dict, expected: dict, name: str) -> None:
    """Q within 1e-8 (the reference's own rounding), P_det and C_max within 1e-4 relative."""
    assert abs(out["Q"] - expected["Q"]) <= 1e-8 * max(1.0, abs(expected["Q"])), (name, out["Q"], expected["Q"])
    assert out["P_det"] == pytest.approx(expected["P_det"], rel=1e-4, abs=1e-12), (name, out["P_det"])
    assert out["C_max"] == pytest.approx(expected["C_max"], rel=1e-4, abs=1e-12), (name, out["C_max"])


@pytest.mark.parametrize("map_bands", ["all", "lowpass"])
@pytest.mark.parametrize("index", [0, 1], ids=["case00-noise", "case12-ghost"])
def test_shipped_pairs_give_the_reference_values(index, map_bands):
    case, expected = load_cases(SHIPPED, map_bands)[index]
    out = run_case(SHIPPED, case, map_bands)
    assert_reference(out, expected, case["name"])
    assert out["P_map"].shape == out["C_map"].shape == tuple(case["size"])


def test_all_bands_is_the_default_and_q_does_not_depend_on_the_maps():
    case, _ = load_cases(SHIPPED)[1]
    default, every, lowpass = (run_case(SHIPPED, case, m) for m in ("all", "all", "lowpass"))
    assert Parameters().map_bands == "all" and default["C_max"] == every["C_max"]
    assert lowpass["Q"] == default["Q"] and lowpass["C_max"] < 1e-3 * default["C_max"]
    with pytest.raises(ValueError, match="map_bands must be one of all, lowpass"):
        hdrvdp(np.ones((16, 16)), np.ones((16, 16)), "luminance", 30, map_bands="reference")


@pytest.mark.slow
@pytest.mark.parametrize("map_bands", ["all", "lowpass"])
def test_every_reference_pair_gives_the_reference_values(map_bands):
    folder = shared_path("fixtures", "hdrvdp2")
    cases = load_cases(folder, map_bands)
    assert len(cases) == 16 and {c["color_encoding"] for c, _ in cases} == {"sRGB-display", "rgb-bt.709", "luminance"}
    for case, expected in cases:
        assert_reference(run_case(folder, case, map_bands), expected, case["name"])


@pytest.mark.parametrize("name", ["case00", "case12"])
def test_the_visual_pathway_and_the_q_terms_equal_the_reference_internals(name):
    folder = shared_path("fixtures", "hdrvdp2")
    z = np.load(folder / f"{name}_internals.npz")
    case = next(c for c, _ in load_cases(folder) if c["name"] == name)
    par = Parameters.with_options(case["pixels_per_degree"])
    test, reference = (
        vdp_metric.encode(read_hdr(folder / f"{name}_{k}.hdr"), "sRGB-display") for k in ("test", "reference")
    )
    emission, surround = display_emission(3, par.rgb_display), np.full(3, par.surround_l)
    bands_r, adapt_r, pad = visual_pathway(reference, par, surround, emission)
    bands_t, adapt_t, _ = visual_pathway(test, par, surround, emission, pad)
    np.testing.assert_allclose(adapt_r, z["L_adapt_ref"], rtol=1e-10)
    np.testing.assert_allclose(adapt_t, z["L_adapt_tst"], rtol=1e-10)
    np.testing.assert_allclose(bands_r.freq, z["band_freq_v"][0], rtol=1e-12)
    for bands, flat in ((bands_r, z["B_R_pyr"][:, 0]), (bands_t, z["B_T_pyr"][:, 0])):  # MATLAB: column-major
        mine = np.concatenate([bands.band(b, o).ravel(order="F") for b in range(bands.count)
                               for o in range(len(bands.keys(b)))])  # fmt: skip
        np.testing.assert_allclose(mine, flat, atol=1e-9 * np.abs(flat).max())
    out = hdrvdp(
        read_hdr(folder / f"{name}_test.hdr"),
        read_hdr(folder / f"{name}_reference.hdr"),
        "sRGB-display",
        case["pixels_per_degree"],
        map_bands="lowpass",
    )  # the internals come from the .m fallbacks
    np.testing.assert_allclose(out["C_map"], z["C_map"], rtol=1e-6, atol=1e-15)
    np.testing.assert_allclose(out["P_map"], z["P_map"], rtol=1e-6, atol=1e-15)
    assert 100 - np.sum(z["Q_terms"][:, 2] * z["Q_terms"][:, 3]) == pytest.approx(out["Q"], abs=1e-6)


def test_pixels_per_degree_of_the_recipes():
    assert pix_per_deg(30, (1500, 1000), 0.55) == pytest.approx(23.787357547725870, rel=1e-12)  # SCTNet's
    assert RECIPES["sctnet"].ppd((500, 700)) == pytest.approx(23.787357547725870)  # fixed 1500x1000
    assert RECIPES["default"].ppd((1000, 1500)) == pytest.approx(26.7627, abs=1e-4)
    assert RECIPES["safnet"].ppd((1000, 1500)) == pytest.approx(25.3424, abs=1e-4)


def test_identical_images_score_100_and_imresize_keeps_constants():
    img = np.random.default_rng(0).random((40, 56, 3)) * 0.8 + 0.1
    out = hdrvdp(img, img, "sRGB-display", 20.0)
    assert out["Q"] == 100 and out["P_det"] == 0
    assert hdrvdp(img * 0.9, img, "sRGB-display", 20.0)["Q"] < 100
    np.testing.assert_allclose(imresize(np.full((30, 45), 2.5), (15, 23)), 2.5, rtol=1e-12)
    np.testing.assert_allclose(imresize(np.full((15, 23), 2.5), (30, 45)), 2.5, rtol=1e-12)


@pytest.mark.parametrize(
    "call, message",
    [(lambda a: hdrvdp(a, a, "sRGB", 30), "unknown colour encoding 'sRGB'"),
     (lambda a: hdrvdp(a, a, "luminance", 30), "'luminance' needs 1 channel"),
     (lambda a: hdrvdp(a, a[:-1], "sRGB-display", 30), "differ in size"),
     (lambda a: hdrvdp(a, a, "sRGB-display", 30, surround=1), "unknown HDR-VDP option")],
)  # fmt: skip
def test_bad_calls_raise_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call(np.full((16, 16, 3), 0.5))


@pytest.fixture
def pair_dirs(tmp_path) -> tuple[Path, Path]:
    """Two predictions and a dataset-style label folder (scene/HDRImg.hdr)."""
    rng = np.random.default_rng(1)
    preds, labels = tmp_path / "pred", tmp_path / "labels"
    for name in ("001", "002"):
        label = rng.random((32, 48, 3)).astype(np.float32) * 0.5
        write_hdr(labels / name / "HDRImg.hdr", label)
        write_hdr(preds / f"{name}.hdr", label * 0.95)
    return preds, labels


def test_command_line_scores_folders_and_files(pair_dirs, tmp_path, capsys):
    preds, labels = pair_dirs
    assert run_cli(vdp_main, [str(preds), str(labels), "--recipe", "safnet", "--csv", str(tmp_path / "q.csv")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "q.csv")))
    assert [r["name"] for r in rows] == ["001", "002", "mean"]
    expected = score_files(preds / "001.hdr", labels / "001" / "HDRImg.hdr", "safnet")
    assert float(rows[0]["Q"]) == pytest.approx(expected, abs=1e-6) and expected < 100
    assert "recipe safnet" in capsys.readouterr().out
    assert run_cli(vdp_main, [str(preds / "002.hdr"), str(labels / "002" / "HDRImg.hdr"), "--ppd", "30"]) == 0


@pytest.mark.parametrize("problem", ["nan", "negative", "size", "no label", "grey"])
def test_bad_files_are_one_line_errors_naming_the_file(pair_dirs, problem, capsys):
    preds, labels = pair_dirs
    img = read_hdr(preds / "001.hdr")
    (preds / "001.hdr").unlink()
    bad = preds / "001.exr"  # OpenEXR keeps NaN, negatives and one channel, which Radiance files cannot hold
    if problem == "nan":
        img[3, 4, 1] = np.nan
    elif problem == "negative":
        img[0, 0, 0] = -1
    elif problem == "size":
        img = img[:-2]
    elif problem == "no label":
        bad = preds / "004.exr"
    elif problem == "grey":
        img = img[:, :, :1]
    import cv2

    assert cv2.imwrite(str(bad), np.ascontiguousarray(img[:, :, ::-1]))
    assert run_cli(vdp_main, [str(preds), str(labels)]) == 1
    err = capsys.readouterr().err.splitlines()[-1]  # after the progress bar, one line
    assert err.startswith(f"error: {bad if problem != 'grey' else bad.name}: "), err


def test_test_py_adds_the_hdrvdp_column_scored_on_the_saved_predictions(official_checkpoint, tmp_path, capsys):
    root = synth_scenes(tmp_path / "Kal" / "Test" / "Test-set", scenes=2, size=(40, 56), seed=3).parents[1]
    argv = ["--dataset", "kalantari", "--dataset_dir", str(root), "--pretrained_model", str(official_checkpoint),
            "--save_dir", str(tmp_path / "out"), "--hdrvdp", "--device", "cpu"]  # fmt: skip
    assert run_cli(test_script.main, argv) == 0
    printed = capsys.readouterr().out
    assert "| HDR-VDP-2 |" in printed and "| 0.9906 | 66.75 |" in printed  # the paper's row gets its fifth column
    rows = list(csv.DictReader(open(tmp_path / "out" / "results.csv")))
    report = json.loads((tmp_path / "out" / "results.json").read_text())
    assert report["hdrvdp2"]["recipe"] == "sctnet" and report["hdrvdp2"]["hdrvdp_version"] == "2.2.1"
    for r in rows[:2]:
        label = root / "Test" / "Test-set" / r["scene"] / "HDRImg.hdr"
        assert float(r["hdrvdp2"]) == pytest.approx(
            score_files(tmp_path / "out" / f"{r['scene']}.hdr", label), abs=1e-5
        )
    assert float(rows[2]["hdrvdp2"]) == pytest.approx(np.mean([float(r["hdrvdp2"]) for r in rows[:2]]), abs=1e-5)
    assert run_cli(test_script.main, [*argv[:-3], "--save_dir", str(tmp_path / "plain")]) == 0
    assert "hdrvdp2" not in open(tmp_path / "plain" / "results.csv").readline()
