"""train.py under torchrun (gloo, 2 CPU processes): the same weights as one process, exact resume, a signal
to one rank, collective stop and divergence decisions, and TensorBoard events."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import ROOT, synth_scenes

import train as train_script
from utils.cli import run_cli
from utils.engine.distributed import RankBatches, Ranks, exit_rank, reduce_terms, share
from utils.engine.schedule import EpochSampler


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("Kal")
    synth_scenes(root / "Training", scenes=3, size=(40, 48), seed=5)
    return root


def train_argv(data_dir: Path, logdir: Path, *extra: str) -> list[str]:
    return ["--dataset_dir", str(data_dir), "--logdir", str(logdir), "--loss", "l1", "--patch_size", "32",
            "--batch_size", "2", "--repeat", "2", "--epochs", "2", "--num_workers", "0", "--log_every", "1",
            "--device", "cpu", "--stages", "2", *extra]  # fmt: skip


def launch(argv: list[str], processes: int, wait: bool = True) -> subprocess.Popen | subprocess.CompletedProcess:
    """train.py in one plain process, or under torchrun with ``processes`` ranks."""
    runner = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)] if processes else []
    cmd = [sys.executable, *runner, "train.py", *argv]
    if not wait:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def records(logdir: Path) -> list[dict]:
    return [json.loads(line) for line in (logdir / "log.jsonl").read_text().splitlines()]


def test_each_rank_trains_its_share_and_the_weights_make_the_gradient_exact():
    rng = np.random.default_rng(0)
    for n, batch, world in ((7, 3, 2), (12, 6, 4), (5, 4, 3), (8, 2, 2)):
        order = EpochSampler(n, seed=1, epoch=2)
        single = list(RankBatches(order, batch, Ranks()))
        per_rank = [list(RankBatches(order, batch, Ranks(r, world))) for r in range(world)]
        values = rng.random(n)  # a per-sample loss
        for step, global_batch in enumerate(single):
            shares = [share(global_batch, Ranks(r, world)) for r in range(world)]
            assert sum(shares, []) == global_batch
            weights = [RankBatches(order, batch, Ranks(r, world)).weight(step) for r in range(world)]
            # what DDP averages: (1/W) sum_r weight_r * mean_r(loss) = the global batch's mean loss
            ddp = sum(w * values[b].mean() for w, b in zip(weights, (per_rank[r][step] for r in range(world)))) / world
            assert ddp == pytest.approx(values[global_batch].mean(), rel=1e-12)
            assert all(per_rank[r][step] for r in range(world))  # no empty batch: every rank takes part


def test_a_global_batch_that_does_not_divide_is_one_line(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "0")
    argv = train_argv(data_dir, tmp_path / "run")
    argv[argv.index("--batch_size") + 1] = "6"
    assert run_cli(train_script.main, argv) == 1
    err = capsys.readouterr().err
    assert err == "error: --batch_size 6 (the global batch) does not divide evenly across 4 processes; use a " \
                  "multiple of 4\n"  # fmt: skip


def _collective_worker(rank: int, init_file: str, results) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    ranks = Ranks(rank, 2)
    # step 1: losses 0.25 and 1.25, rank 1 asks to stop; step 2: rank 1's loss is NaN
    values, stop = reduce_terms(torch.tensor([0.25 + rank, 1.0 + rank]), 1.0, rank == 1, ranks)
    results.put(("stop", rank, values[0], stop, values[1]))
    values, stop = reduce_terms(torch.tensor([float("nan") if rank else 0.5]), 1.0, False, ranks)
    results.put(("diverged", rank, values[0], stop))
    results.close()
    results.join_thread()  # what was put has reached the pipe
    exit_rank(0, ranks)  # as train.py's ranks leave: without gloo's teardown


@pytest.mark.slow
def test_stop_and_divergence_are_decided_together(tmp_path):
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=_collective_worker, args=(r, str(tmp_path / "init"), results)) for r in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    out = sorted(results.get(timeout=5) for _ in range(4))
    # mean of each term; rank 1's stop reaches rank 0
    assert out[2:] == [("stop", 0, 0.75, True, 1.5), ("stop", 1, 0.75, True, 1.5)]
    assert all(kind == "diverged" and np.isnan(value) and not stop for kind, _, value, stop in out[:2])


@pytest.mark.slow
def test_two_processes_train_the_weights_of_one(data_dir, tmp_path):
    argv = ("--drop_path_rate", "0", "--max_iters", "4")
    one = launch(train_argv(data_dir, tmp_path / "one", *argv, "--no_tensorboard"), 0)
    two = launch(train_argv(data_dir, tmp_path / "two", *argv, "--tensorboard"), 2)
    assert one.returncode == 0 and two.returncode == 0, two.stdout[-2000:]
    a, b = (torch.load(tmp_path / run / "latest.pth") for run in ("one", "two"))
    assert a["iteration"] == b["iteration"] == 4 and b["world_size"] == 2 and len(b["rng_ranks"]) == 2
    assert b["config"]["drop_path_rate"] == 0 and b["args"]["drop_path_rate"] == 0  # recorded in the checkpoint
    diff = max((v - b["model"][k]).abs().max().item() for k, v in a["model"].items() if v.is_floating_point())
    assert diff <= 1e-5
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["latest.pth", "log.jsonl", "tensorboard"]
    assert len(list((tmp_path / "two" / "tensorboard").iterdir())) == 1  # rank 0 alone writes
    losses = {r["iteration"]: r["loss"] for r in records(tmp_path / "one") if r.get("kind") == "train"}
    two_losses = [r for r in records(tmp_path / "two") if r.get("kind") == "train"]
    assert [r["iteration"] for r in two_losses] == [1, 2, 3, 4]  # logged once, by rank 0
    assert all(r["loss"] == pytest.approx(losses[r["iteration"]], abs=1e-5) for r in two_losses)


@pytest.mark.slow
def test_resume_under_ddp_is_bit_identical_and_works_on_another_process_count(data_dir, tmp_path):
    common = ("--no_tensorboard", "--save_every_iters", "0")  # drop path on: each rank's random state matters
    assert launch(train_argv(data_dir, tmp_path / "straight", *common, "--max_iters", "5"), 2).returncode == 0
    assert launch(train_argv(data_dir, tmp_path / "split", *common, "--max_iters", "2"), 2).returncode == 0
    shutil.copytree(tmp_path / "split", tmp_path / "other")
    run = launch(train_argv(data_dir, tmp_path / "split", *common, "--max_iters", "5", "--resume", "auto"), 2)
    assert run.returncode == 0, run.stdout[-2000:]
    a, b = (torch.load(tmp_path / name / "latest.pth") for name in ("straight", "split"))
    assert a["iteration"] == b["iteration"] == 5
    assert all(torch.equal(v, b["model"][k]) for k, v in a["model"].items())
    for pid, state in a["optimizer"]["state"].items():
        assert all(torch.equal(state[k], b["optimizer"]["state"][pid][k]) for k in ("exp_avg", "exp_avg_sq"))
    one = launch(train_argv(data_dir, tmp_path / "other", *common, "--max_iters", "5", "--resume", "auto"), 0)
    assert one.returncode == 0 and torch.load(tmp_path / "other" / "latest.pth")["iteration"] == 5
    assert "ran on 2 process(es), now 1" in (tmp_path / "other" / "log.jsonl").read_text()


@pytest.mark.slow
def test_a_refusal_on_rank_0_is_its_one_line_and_ends_every_rank(data_dir, tmp_path):
    argv = train_argv(data_dir, tmp_path / "run", "--no_tensorboard", "--max_iters", "1")
    assert launch(argv, 2).returncode == 0
    before = (tmp_path / "run" / "latest.pth").read_bytes()
    started = time.time()
    again = launch(argv, 2)  # a fresh run into a folder with checkpoints: rank 0 refuses, rank 1 waits in DDP
    assert again.returncode != 0 and time.time() - started < 120
    assert "error: " + str(tmp_path / "run") + " holds another run's latest.pth" in again.stderr
    assert 'train.py"' not in again.stderr and "utils/" not in again.stderr  # no traceback of ours
    assert (tmp_path / "run" / "latest.pth").read_bytes() == before


def rank_pids(parent: int) -> dict[int, int]:
    """{RANK: pid} of the worker processes below ``parent`` (Linux /proc)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                env = dict(kv.split("=", 1) for kv in (proc / "environ").read_text().split("\0") if "=" in kv)
                status = (proc / "status").read_text()
            except OSError:
                continue
            ppid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
            if ppid == parent and "RANK" in env and "TORCHELASTIC_RUN_ID" in env:
                found[int(env["RANK"])] = int(proc.name)
    return found


def start_and_wait_for_training(argv: list[str], logdir: Path) -> tuple[subprocess.Popen, dict[int, int]]:
    """torchrun with 2 ranks, returned once the first step is logged, with {RANK: pid}."""
    proc = launch(argv, 2, wait=False)
    log, deadline = logdir / "log.jsonl", time.time() + 120
    while time.time() < deadline and not (log.exists() and any(r.get("kind") == "train" for r in records(logdir))):
        time.sleep(0.2)
    pids = rank_pids(proc.pid)
    assert sorted(pids) == [0, 1], pids
    return proc, pids


LINUX_PROC = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the ranks through /proc")


@pytest.mark.slow
@LINUX_PROC
def test_sigterm_to_one_rank_stops_every_rank_cleanly_and_the_run_resumes(data_dir, tmp_path):
    argv = train_argv(data_dir, tmp_path / "run", "--no_tensorboard", "--epochs", "20")
    proc, pids = start_and_wait_for_training(argv, tmp_path / "run")
    os.kill(pids[1], signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out[-2000:]
    stopped = torch.load(tmp_path / "run" / "latest.pth")["iteration"]
    assert 0 < stopped < 60 and "a stop signal on another rank received" in (tmp_path / "run" / "log.jsonl").read_text()
    resumed = launch([*argv, "--resume", "auto", "--max_iters", str(stopped + 2)], 2)
    assert resumed.returncode == 0
    assert torch.load(tmp_path / "run" / "latest.pth")["iteration"] == stopped + 2


@pytest.mark.slow
@LINUX_PROC
def test_a_crashed_rank_ends_the_run_instead_of_leaving_the_others_waiting(data_dir, tmp_path):
    argv = train_argv(data_dir, tmp_path / "run", "--no_tensorboard", "--epochs", "20", "--dist_timeout", "1")
    proc, pids = start_and_wait_for_training(argv, tmp_path / "run")
    killed = time.time()
    os.kill(pids[1], signal.SIGKILL)  # as the out-of-memory killer would
    proc.communicate(timeout=120)
    assert proc.returncode != 0 and time.time() - killed < 90


@pytest.mark.slow
def test_bf16_autocast_and_grad_checkpoint_run_under_ddp(data_dir, tmp_path):
    run = launch(train_argv(data_dir, tmp_path / "run", "--no_tensorboard", "--max_iters", "2", "--amp", "bf16",
                            "--grad_checkpoint"), 2)  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:]
    losses = [r["loss"] for r in records(tmp_path / "run") if r.get("kind") == "train"]
    assert len(losses) == 2 and all(np.isfinite(losses))


def test_tensorboard_holds_the_training_and_validation_scalars_and_previews(data_dir, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from utils.engine.trainer import run_training

    args = train_script.parse_args(train_argv(data_dir, tmp_path / "run", "--tensorboard", "--val_scenes", "1",
                                              "--epochs", "1"))  # fmt: skip
    assert run_training(args) == 0
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"images": 0}).Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss", "train/lr", "train/it_per_s", "train/samples_per_s"} <= scalars
    assert {"val/psnr_mu", "val/psnr_l", "val/ssim_mu", "val/ssim_l"} <= scalars
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2]
    logged = [r["loss"] for r in records(tmp_path / "run") if r.get("kind") == "train"]
    assert [e.value for e in events.Scalars("train/loss")] == pytest.approx(logged)
    assert events.Tags()["images"] == ["val/prediction_label/003"]
    assert not (tmp_path / "off").exists()
    assert run_training(train_script.parse_args(train_argv(data_dir, tmp_path / "off", "--no_tensorboard",
                                                           "--max_iters", "1"))) == 0  # fmt: skip
    assert not (tmp_path / "off" / "tensorboard").exists()


@pytest.mark.slow
def test_lfdiff_stage_1_reads_the_label_under_ddp_and_two_processes_train_the_weights_of_one(data_dir, tmp_path):
    argv = ("--model", "lfdiff", "--frm_depth", "1", "--max_iters", "2", "--no_tensorboard")
    one, two = (launch(train_argv(data_dir, tmp_path / run, *argv), n) for run, n in (("one", 0), ("two", 2)))
    assert one.returncode == 0 and two.returncode == 0, two.stdout[-2000:]
    a, b = (torch.load(tmp_path / run / "latest.pth") for run in ("one", "two"))
    assert a["config"]["model"] == "lfdiff" and a["iteration"] == b["iteration"] == 2 and b["world_size"] == 2
    # Adam divides by sqrt(v): where a gradient is near zero, summation-order noise moves a weight by up to a
    # step; bounded by half the rate (1e-4), and the losses agree
    diffs = [(v - b["model"][k]).abs() for k, v in a["model"].items() if v.is_floating_point()]
    assert max(d.max().item() for d in diffs) <= 5e-5 and torch.cat([d.flatten() for d in diffs]).mean() < 1e-7
    losses = [[r["loss"] for r in records(tmp_path / run) if r.get("kind") == "train"] for run in ("one", "two")]
    assert losses[0] == pytest.approx(losses[1], abs=1e-5) and len(losses[0]) == 2


@pytest.mark.slow
def test_lfdiff_stage_2_trains_under_ddp_with_its_frozen_lpenet_and_every_term_reduced(data_dir, tmp_path):
    common = ("--model", "lfdiff", "--frm_depth", "1", "--no_tensorboard")
    assert launch(train_argv(data_dir, tmp_path / "s1", *common, "--max_iters", "1"), 0).returncode == 0
    init = ("--stage", "2", "--init_weights", str(tmp_path / "s1" / "latest.pth"), "--max_iters", "2")
    two = launch(train_argv(data_dir, tmp_path / "two", *common, *init), 2)
    assert two.returncode == 0, two.stdout[-2000:]
    s1, b = (torch.load(tmp_path / run / "latest.pth") for run in ("s1", "two"))
    assert b["world_size"] == 2 and b["iteration"] == 2 and b["config"]["variant"] == "full"
    assert all(torch.equal(v, b["model"][k]) for k, v in s1["model"].items() if k.startswith("lpenet."))
    assert not torch.equal(s1["model"]["conv_out.weight"], b["model"]["conv_out.weight"])
    train = [r for r in records(tmp_path / "two") if r.get("kind") == "train"]
    terms = ("loss_reconstruction", "loss_noise", "loss_prior")
    assert len(train) == 2 and all(r["loss"] == pytest.approx(sum(r[k] for k in terms)) for r in train)
