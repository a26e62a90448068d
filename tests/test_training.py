"""train.py: exact resume, signals, atomic saves, NaN handling, learning, VGG errors."""

import math
import os
import signal

import pytest
import torch
from conftest import synth_scenes

import train as train_script
from models import load_model
from utils import checkpoint as ckpt_module
from utils.cli import run_cli
from utils.device import set_deterministic
from utils.engine import trainer as trainer_module
from utils.engine.schedule import cosine_lr
from utils.engine.trainer import run_training
from utils.errors import UserError
from utils.losses import HDRLoss


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("Kal")
    synth_scenes(root / "Training", scenes=2, size=(40, 48), seed=5)
    return root


def args_for(data_dir, logdir, *extra):
    return train_script.parse_args([
        "--dataset_dir", str(data_dir), "--logdir", str(logdir), "--loss", "l1", "--patch_size", "32",
        "--batch_size", "2", "--repeat", "3", "--epochs", "2", "--num_workers", "0", "--log_every", "1",
        "--device", "cpu", *extra,
    ])  # fmt: skip


def test_cosine_schedule_matches_the_official_closed_form():
    assert cosine_lr(1, 400, 5e-4, 5e-6) == pytest.approx(5e-4)
    assert cosine_lr(200, 400, 5e-4, 5e-6) == pytest.approx(2.544e-4, rel=1e-3)
    assert cosine_lr(400, 400, 5e-4, 5e-6) == pytest.approx(5.008e-6, rel=1e-3)


def test_recipes_fill_defaults_and_fields_override():
    paper = train_script.parse_args([])
    assert (paper.batch_size, paper.augmentation, paper.loss, paper.epochs, paper.seed) == (6, "paper", "vgg", 400, 443)
    official = train_script.parse_args(["--recipe", "official", "--batch_size", "8"])
    assert (official.batch_size, official.augmentation, official.loss) == (8, "official", "fft")


@pytest.mark.slow
@pytest.mark.device
@pytest.mark.parametrize("deterministic", [False, True], ids=["default", "deterministic"])
def test_resume_is_bit_identical(data_dir, tmp_path, deterministic, device):
    """On $TEST_DEVICE; on CUDA only with --deterministic (without it cuDNN, the reflection pad's and the
    attention's backward add in a varying order: README, "On a GPU")."""
    if device.type == "cuda" and not deterministic:
        pytest.skip("CUDA resumes bit-identically with --deterministic only")
    extra = ["--device", str(device), *(["--deterministic"] if deterministic else [])]
    try:
        assert run_training(args_for(data_dir, tmp_path / "straight", *extra)) == 0  # 3 iterations an epoch, 6 in all
        assert run_training(args_for(data_dir, tmp_path / "split", "--max_iters", "4", *extra)) == 0
        assert torch.load(tmp_path / "split" / "latest.pth")["iteration"] == 4
        assert run_training(args_for(data_dir, tmp_path / "split", "--resume", "auto", *extra)) == 0
    finally:
        set_deterministic(False)
    a = torch.load(tmp_path / "straight" / "latest.pth")
    b = torch.load(tmp_path / "split" / "latest.pth")
    assert a["iteration"] == b["iteration"] == 6 and a["epoch"] == b["epoch"] == 3
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    for pid, st in a["optimizer"]["state"].items():
        for k in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(st[k], b["optimizer"]["state"][pid][k])
    assert 0 < b["train_seconds"] and 0 < a["train_seconds"]


@pytest.mark.slow
def test_bf16_autocast_trains_near_fp32_and_resumes_exactly(data_dir, tmp_path):
    assert run_training(args_for(data_dir, tmp_path / "fp32", "--max_iters", "4")) == 0
    assert run_training(args_for(data_dir, tmp_path / "bf16", "--max_iters", "4", "--amp", "bf16")) == 0
    assert run_training(args_for(data_dir, tmp_path / "split", "--max_iters", "2", "--amp", "bf16")) == 0
    resume = args_for(data_dir, tmp_path / "split", "--max_iters", "4", "--amp", "bf16", "--resume", "auto")
    assert run_training(resume) == 0
    fp32, bf16, split = (torch.load(tmp_path / run / "latest.pth")["model"] for run in ("fp32", "bf16", "split"))
    assert all(torch.equal(v, split[k]) for k, v in bf16.items())
    diffs = [(v - fp32[k]).abs().max().item() for k, v in bf16.items() if v.is_floating_point()]
    assert 0 < max(diffs) < 1e-2  # autocast really ran, and stayed close to float32 training


@pytest.mark.slow
def test_exported_weights_load_like_official_ones(data_dir, tmp_path):
    assert run_training(args_for(data_dir, tmp_path / "run", "--max_iters", "2")) == 0
    out = tmp_path / "weights.pth"
    meta = ckpt_module.export_weights(tmp_path / "run" / "latest.pth", out, {"data": "seed 5"})
    saved = torch.load(out)
    assert sorted(saved) == ["config", "meta", "model"]
    assert saved["meta"]["iteration"] == 2 and saved["meta"]["data"] == "seed 5" and meta["train_seconds"] > 0
    model, ckpt = load_model(out)
    trained = torch.load(tmp_path / "run" / "latest.pth")["model"]
    assert all(torch.equal(v, trained[k]) for k, v in model.state_dict().items() if k in trained)
    fine_tune = trainer_module.Trainer(args_for(data_dir, tmp_path / "ft", "--init_weights", str(out)))
    assert all(torch.equal(v, trained[k]) for k, v in fine_tune.model.state_dict().items() if k in trained)
    with pytest.raises(UserError, match="not a readable PyTorch checkpoint"):
        log = str(tmp_path / "run" / "log.jsonl")
        trainer_module.Trainer(args_for(data_dir, tmp_path / "bad", "--init_weights", log))


@pytest.mark.slow
def test_sigterm_saves_and_resume_continues(data_dir, tmp_path, monkeypatch):
    original = trainer_module.Trainer.step

    def step_then_signal(self, *step_args):
        loss = original(self, *step_args)
        if self.iteration == 1:  # this step is iteration 2
            os.kill(os.getpid(), signal.SIGTERM)
        return loss

    monkeypatch.setattr(trainer_module.Trainer, "step", step_then_signal)
    assert run_training(args_for(data_dir, tmp_path / "run")) == 0
    saved = torch.load(tmp_path / "run" / "latest.pth")
    assert saved["iteration"] == 2
    monkeypatch.setattr(trainer_module.Trainer, "step", original)
    assert run_training(args_for(data_dir, tmp_path / "run", "--resume", "auto")) == 0
    assert torch.load(tmp_path / "run" / "latest.pth")["iteration"] == 6
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_kill_during_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "latest.pth"
    ckpt_module.atomic_save({"iteration": 1}, path)

    def dying_save(obj, f):
        f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt_module.torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        ckpt_module.atomic_save({"iteration": 2}, path)
    assert torch.load(path)["iteration"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["latest.pth"]


@pytest.mark.slow
def test_nan_loss_stops_with_message_and_keeps_last_checkpoint(data_dir, tmp_path, monkeypatch, capsys):
    original = HDRLoss.forward

    def nan_at_third(self, pred, label):
        loss, parts = original(self, pred, label)
        self.calls = getattr(self, "calls", 0) + 1
        return (loss * math.nan if self.calls == 3 else loss), parts

    monkeypatch.setattr(HDRLoss, "forward", nan_at_third)
    assert run_training(args_for(data_dir, tmp_path / "run", "--save_every_iters", "1")) == 2
    out = capsys.readouterr().out
    assert "loss became nan at iteration 3 (epoch 1)" in out and "last good checkpoint" in out
    assert torch.load(tmp_path / "run" / "latest.pth")["iteration"] == 2


@pytest.mark.slow
def test_loss_decreases_on_a_tiny_set(data_dir, tmp_path):
    args = args_for(data_dir, tmp_path / "learn", "--repeat", "20", "--epochs", "1", "--max_iters", "24",
                    "--lr", "1e-3", "--augmentation", "none")  # fmt: skip
    assert run_training(args) == 0
    import json

    losses = [r["loss"] for r in map(json.loads, open(tmp_path / "learn" / "log.jsonl")) if r.get("kind") == "train"]
    assert len(losses) == 20
    assert sum(losses[-5:]) / 5 < 0.6 * sum(losses[:5]) / 5


def test_missing_vgg_weights_is_one_line_before_training(data_dir, tmp_path, capsys):
    rc = run_cli(train_script.main, ["--dataset_dir", str(data_dir), "--logdir", str(tmp_path / "run"),
                                     "--vgg_weights", str(tmp_path / "vgg19.pth"), "--num_workers", "0"])  # fmt: skip
    assert rc == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "vgg19.pth" in err and "--vgg_weights" in err and "--loss fft" in err
    assert not (tmp_path / "run" / "latest.pth").exists()


def test_unwritable_run_folder_is_reported_before_training(data_dir, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert run_cli(train_script.main, ["--dataset_dir", str(data_dir), "--logdir", str(blocker / "run"),
                                       "--loss", "l1"]) == 1  # fmt: skip
    assert "run folder is not writable" in capsys.readouterr().err


@pytest.mark.slow
def test_vgg_and_fft_losses_run(data_dir, tmp_path):
    for loss in ("vgg", "fft"):
        args = args_for(data_dir, tmp_path / loss, "--loss", loss, "--max_iters", "1", "--vgg_random_init_for_tests")
        assert run_training(args) == 0


@pytest.mark.slow
def test_a_failing_validation_loses_no_step_and_the_resume_is_exact(data_dir, tmp_path, monkeypatch):
    """latest.pth is written before validation: an out-of-memory there, then a resume, ends as one run."""
    argv = ("--val_scenes", "1", "--no_tensorboard")
    assert run_training(args_for(data_dir, tmp_path / "straight", *argv)) == 0
    evaluate = trainer_module.evaluate

    def out_of_memory(*args, **kwargs):
        raise UserError("scene 002: out of cuda memory on the full 40x48 frame")

    monkeypatch.setattr(trainer_module, "evaluate", out_of_memory)
    with pytest.raises(UserError, match="out of cuda memory"):
        run_training(args_for(data_dir, tmp_path / "failed", *argv))
    saved = torch.load(tmp_path / "failed" / "latest.pth")
    assert (saved["epoch"], saved["iter_in_epoch"], saved["iteration"]) == (1, 2, 2)  # the whole first epoch
    monkeypatch.setattr(trainer_module, "evaluate", evaluate)
    assert run_training(args_for(data_dir, tmp_path / "failed", *argv, "--resume", "auto")) == 0
    a, b = (torch.load(tmp_path / run / "latest.pth") for run in ("straight", "failed"))
    assert a["iteration"] == b["iteration"] == 4 and a["best"] == b["best"]
    assert all(torch.equal(v, b["model"][k]) for k, v in a["model"].items())
