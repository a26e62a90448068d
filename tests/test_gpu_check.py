"""scripts/gpu_check.py on the CPU: every part at tiny sizes (--quick), the budget, failures kept to their
part, the refusals, and the committed CPU reference tables it compares the GPU's to."""

import json
import sys

import pytest
from conftest import ROOT

from utils.cli import run_cli

sys.path.insert(0, str(ROOT / "scripts"))
import gpu_check  # noqa: E402
from gpu_parts import REFERENCE, scenes_digest  # noqa: E402
from gpu_runs import summarize_run  # noqa: E402

from datasets.samples import ensure_samples  # noqa: E402
from models import DEMO_WEIGHTS  # noqa: E402


def read_results(out) -> dict:
    assert sorted(p.name for p in out.iterdir()) == sorted(gpu_check.FILES)  # flat, nothing else
    return json.loads((out / "gpu_check.json").read_text())


@pytest.mark.slow
def test_quick_run_on_the_cpu_runs_every_part_and_reports_it(tmp_path):
    out = tmp_path / "check"
    assert run_cli(gpu_check.main, [str(out), "--device", "cpu", "--quick"]) == 0
    results = read_results(out)
    parts = results["parts"]
    assert list(parts) == list(gpu_check.PARTS) and all(p["status"] == "done" for p in parts.values()), parts
    assert parts["tests"]["rows"][0]["passed"] >= 1 and parts["tests"]["rows"][0]["failed"] == 0
    official = (ROOT.parent / "shared" / "reference" / "official-model").is_dir()  # the default --official
    assert [r["network"] for r in parts["equivalence"]["rows"]] == ["ours"] * 2 + ["official"] * 2 * official
    assert all(r["ok"] and r["max_abs_diff"] < 1e-4 for r in parts["equivalence"]["rows"])
    table = parts["tables"]["rows"][0]
    assert table["compared"] == 1 and table["ok"] and table["max_psnr_diff_db"] <= 0.01
    cases = {(r["case"], r["mode"]) for r in parts["side_by_side"]["rows"]}
    assert ("inference 24x40", "bf16") in cases and ("train step batch 2 32x32", "fp32") in cases
    assert all(r["speedup"] > 0 for r in parts["side_by_side"]["rows"] if "speedup" in r)
    runs = parts["training"]["rows"]
    assert [r["run"] for r in runs] == ["fp32 (TF32 allowed)", "bf16 autocast"] and all(
        r["iterations"] == 4 for r in runs
    )
    assert all(r["finite"] and r["how"] == "one pass" for r in parts["merge"]["rows"])
    networks = parts["networks"]["rows"]
    assert {r["network"] for r in networks} == set(DEMO_WEIGHTS) - {"afunet"}
    assert all(r["ok"] for r in networks if "ok" in r) and sum("ok" in r for r in networks) == 2
    markdown = (out / "gpu_check.md").read_text()
    assert all(f"## {name}: done" in markdown for name in parts) and "| network | case | mode |" in markdown


def test_a_spent_budget_stops_every_part_and_still_writes_the_files(tmp_path):
    out = tmp_path / "check"
    assert run_cli(gpu_check.main, [str(out), "--device", "cpu", "--quick", "--budget_s", "1e-9"]) == 0
    parts = read_results(out)["parts"]
    assert all(p["status"] == "stopped: the budget was spent before it started" for p in parts.values())


def test_a_failing_part_is_reported_and_the_others_still_run(tmp_path, monkeypatch, capsys):
    def broken(check):
        raise RuntimeError("CUDA error: an illegal memory access\nsecond line")

    def fine(check):
        check.row("merge", {"case": "x", "seconds": 1.5})

    monkeypatch.setattr(gpu_check, "PARTS", {"equivalence": broken, "merge": fine})
    out = tmp_path / "check"
    assert run_cli(gpu_check.main, [str(out), "--device", "cpu", "--quick", "--parts", "equivalence", "merge"]) == 1
    parts = read_results(out)["parts"]
    assert parts["equivalence"]["status"] == "failed: RuntimeError: CUDA error: an illegal memory access"
    assert parts["merge"]["status"] == "done" and parts["merge"]["rows"] == [{"case": "x", "seconds": 1.5}]
    assert "Traceback" in (out / "gpu_check.log").read_text() and "failed: equivalence" in capsys.readouterr().out


def test_without_cuda_and_without_device_cpu_it_stops_with_one_line(tmp_path, capsys):
    assert run_cli(gpu_check.main, [str(tmp_path / "check")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CUDA is not available" in err and not (tmp_path / "check").exists()


def test_an_earlier_checks_files_are_kept_unless_asked(tmp_path, capsys):
    (tmp_path / "gpu_check.json").write_text("{}")
    argv = [str(tmp_path), "--device", "cpu", "--quick", "--budget_s", "1e-9"]
    assert run_cli(gpu_check.main, argv) == 1
    assert "already holds gpu_check.json" in capsys.readouterr().err
    assert (tmp_path / "gpu_check.json").read_text() == "{}"
    assert run_cli(gpu_check.main, [*argv, "--overwrite"]) == 0 and read_results(tmp_path)["quick"]


def test_a_run_log_gives_speed_memory_and_whether_the_loss_fell(tmp_path):
    log = tmp_path / "log.jsonl"
    losses = [0.5, 0.4, 0.3, 0.2]
    records = [{"kind": "train", "iteration": 25 * (i + 1), "loss": loss, "it_per_s": [2.0, 10.0, 12.0, 14.0][i],
                "samples_per_s": 60.0, "max_memory_mib": 100.0 + i} for i, loss in enumerate(losses)]  # fmt: skip
    log.write_text("\n".join(json.dumps(r) for r in [{"message": "start"}, *records]) + "\n")
    s = summarize_run(log)
    assert s["iterations"] == 100 and s["it_per_s"] == 12.0 and s["peak_mib"] == 103.0  # the first interval left out
    assert s["loss_first"] == 0.5 and s["loss_last"] == 0.2 and s["loss_falls"]
    assert s["paper_400_epochs_h"] == pytest.approx(400 * 1234 / 12.0 / 3600)
    assert summarize_run(tmp_path / "absent.jsonl") == {"iterations": 0}


def test_the_reference_tables_cover_every_demo_and_the_sample_scenes_they_scored():
    reference = json.loads(REFERENCE.read_text())
    assert set(reference["networks"]) == set(DEMO_WEIGHTS)
    for network, entry in reference["networks"].items():
        assert entry["checkpoint"] == DEMO_WEIGHTS[network].name and len(entry["table"]) == 9  # 8 scenes and the mean
    assert reference["scenes_sha256"] == scenes_digest(ensure_samples())


def test_merge_is_skipped_with_the_reason_when_its_wheel_is_missing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "utils.photos", None)  # as if exifread had not travelled
    out = tmp_path / "check"
    assert run_cli(gpu_check.main, [str(out), "--device", "cpu", "--quick", "--parts", "merge"]) == 0
    status = read_results(out)["parts"]["merge"]["status"]
    assert status.startswith("skipped: merge.py needs utils.photos") and "wheel" in status


@pytest.mark.slow
def test_tables_fall_back_to_this_cpu_where_the_scenes_differ_from_the_references(tmp_path):
    reference = json.loads(REFERENCE.read_text())
    (tmp_path / "ref.json").write_text(json.dumps({**reference, "scenes_sha256": "other scenes"}))
    out = tmp_path / "check"
    argv = [str(out), "--device", "cpu", "--quick", "--parts", "tables", "--reference", str(tmp_path / "ref.json")]
    assert run_cli(gpu_check.main, argv) == 0
    part = read_results(out)["parts"]["tables"]
    assert part["rows"][0]["cpu_table"] == "this CPU" and part["rows"][0]["max_psnr_diff_db"] == 0
    assert "differ from the scenes the reference scored" in part["notes"][0]
