"""scripts/benchmark.py: tile counting, the tiled and autocast training-step cases, fresh processes and their memory."""

import os
import sys

import pytest
import torch
from conftest import ROOT, shared_path
from torch import nn

from models import AFUNet, build_model
from utils.engine.inference import predict_tiled

sys.path.insert(0, str(ROOT / "scripts"))  # importable by name, as the spawned memory-measuring process needs
import benchmark  # noqa: E402
from bench_report import side_by_side  # noqa: E402


class CountingNet(nn.Module):
    """Counts its calls; returns the first 3 channels."""

    calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x[:, :3]


def test_tile_count_matches_the_tiles_predict_tiled_runs():
    for size, tile in (((100, 150), 64), ((64, 64), 64), ((40, 300), 64), ((1000, 1500), 512)):
        net = CountingNet()
        predict_tiled(net, torch.zeros(1, 18, *size), tile)
        assert benchmark.n_tiles(size, tile) == net.calls, (size, tile)


@pytest.mark.slow
def test_tiled_and_bf16_training_cases_report_time_and_flops():
    model, cpu = AFUNet(stages=1), torch.device("cpu")
    tiled = benchmark.bench_tiled(model, (40, 104), 48, cpu)
    with torch.inference_mode():  # as predict_tiled runs
        one_tile = benchmark.count_flops(lambda: model(benchmark.make_input(1, 40, 48, cpu)))
    assert tiled["gflop"] * 1e9 == one_tile * benchmark.n_tiles((40, 104), 48)
    assert tiled["seconds"] > 0
    row = benchmark.bench_train_step(model, 1, 16, cpu, 0, 1, label=", bf16", amp="bf16")
    assert row["case"] == "train step batch 1 16x16, bf16" and row["seconds"] > 0 and row["gflop"] > 0


@pytest.mark.slow
def test_fresh_process_peak_memory_of_tiled_inference():
    peak = benchmark.peak_rss_mib(dict(case="inference", size=(48, 80), tile=48))
    assert peak is not None and 50 < peak < 4096


@pytest.mark.slow
def test_fresh_process_gets_the_extra_environment_and_the_parent_keeps_its_own():
    value, peak = benchmark.in_fresh_process(os.getenv, {"key": "AFUNET_PROBE"}, env={"AFUNET_PROBE": "set"})
    assert value == "set" and peak > 0
    assert "AFUNET_PROBE" not in os.environ


@pytest.mark.slow
def test_side_by_side_with_the_official_code_gives_its_outputs_and_both_timings():
    pytest.importorskip("einops", reason="the official model code needs einops")
    folder = shared_path("reference", "official-model")
    import official_compare

    rows = official_compare.compare(folder, [(64, 40)], [1], runs=1, warmup=0)
    assert [r["case"] for r in rows] == ["inference 64x40", "train step batch 1 128x128"]
    assert rows[0]["max_abs_err"] <= 1e-5  # the official implementation itself computes our outputs
    assert all(r["ours_s"] > 0 and r["official_s"] > 0 and r["gflop"] > 0 for r in rows)


def test_sthdr_multiply_accumulates_sit_beside_table_4_and_afunet_has_no_paper_figure():
    """The spec's count for HSS (11.37 G at 256x256, 15 % below Table 4's 13.42 G), four times it at 512x512."""
    cpu = torch.device("cpu")
    paper = benchmark.paper_macs(build_model("sthdr", variant="HSS").eval(), cpu)
    assert paper["paper_gmac"] == 13.4207 and paper["paper_size"] == 256
    assert paper["gmac"][256] == pytest.approx(11.37, abs=0.01)
    assert paper["gmac"][512] == pytest.approx(4 * paper["gmac"][256], rel=1e-3)
    assert benchmark.paper_macs(AFUNet(), cpu) is None


def test_side_by_side_gives_each_network_its_time_memory_and_ratio_on_the_cases_all_ran():
    def info(model, seconds, extra=()):
        rows = [{"case": "inference 256x256", "seconds": seconds, "peak_rss_mib": 400.0},
                {"case": "train step", "seconds": 2 * seconds}, *extra]  # fmt: skip
        return {"model": model, "results": rows}

    lines = side_by_side([info("afunet", 2.0, [{"case": "full frame", "seconds": 9.0}]), info("sthdr", 0.5)])
    assert lines[0] == "| case | AFUNet s | AFUNet MiB | STHDR s | STHDR MiB | STHDR / AFUNet |"
    assert lines[1].count("---") == 6 and len(lines) == 4
    assert lines[2] == "| inference 256x256 | 2.000 | 400 | 0.500 | 400 | 0.25x |"
    assert lines[3] == "| train step | 4.000 |  | 1.000 |  | 0.25x |"


def test_the_lfdiff_training_step_is_stage_2s_with_its_diffusion_terms():
    from bench_calls import train_step

    from models.lfdiff import LFDiff

    torch.manual_seed(0)
    model = LFDiff("full", frm_depth=1)
    x = benchmark.make_input(1, 16, 16, torch.device("cpu"))
    train_step(model, x, torch.rand(1, 3, 16, 16), torch.optim.Adam(model.parameters()), None)
    assert model.diffusion.denoiser.ending.weight.grad.abs().sum() > 0  # the noise loss and the chain ran
    assert all(p.grad is None for p in model.lpenet.parameters())


def test_lfdiff_gets_its_diffusion_alone_and_a_stage_1_training_step():
    from argparse import Namespace

    from bench_extras import lfdiff_rows

    from models.lfdiff import LFDiff

    args = Namespace(warmup=0, runs=1, full=False, batch=1)
    rows = lfdiff_rows(args, LFDiff("full", frm_depth=1).eval(), torch.device("cpu"))
    assert [r["case"] for r in rows] == ["inference 256x256, diffusion only", "train step batch 1 128x128, stage 1"]
    assert all(r["seconds"] > 0 and r["gflop"] > 0 for r in rows)
