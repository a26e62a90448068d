"""LF-Diff stage 2: the DDIM sampler against its closed forms, the steps it visits, seeded sampling, each
L_diff term, the frozen LPENet, the gradient of L_r through the sampling chain, the new modules' counts
(every variant's: test_lfdiff.py), train.py's stage-2 options, exact resume, test.py and merge.py on a
stage-2 checkpoint, learning."""

import json

import pytest
import torch
import torch.nn.functional as F
from conftest import sample_input, synth_scenes
from test_lfdiff import COUNTS

import merge as merge_script
import test as test_script
import train as train_script
from models import load_model
from models.common import count_parameters
from models.lfdiff import DenoisingUNet, LatentDiffusion, LFDiff, LPENet_DM, ddim_timesteps
from models.lfdiff.modules import AM
from utils.cli import run_cli
from utils.engine.trainer import run_training


class OracleDenoiser(torch.nn.Module):
    """Returns the true noise of z_t when D is the clean latent z: eps = (z_t - sqrt(a_t) z) / sqrt(1 - a_t)."""

    def __init__(self, alpha_bar: torch.Tensor) -> None:
        super().__init__()
        self.alpha_bar, self.steps = alpha_bar, []

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.steps.append(int(t[0]))
        z_t, z = x.chunk(2, dim=1)
        a = self.alpha_bar[t].reshape(-1, 1, 1, 1).to(x.dtype)
        return (z_t - a.sqrt() * z) / (1 - a).sqrt()


class ConstantDenoiser(torch.nn.Module):
    def __init__(self, c: torch.Tensor) -> None:
        super().__init__()
        self.c = c

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.c.expand(x.shape[0], -1, -1, -1)


def oracle_diffusion() -> LatentDiffusion:
    diffusion = LatentDiffusion().double()
    diffusion.denoiser = OracleDenoiser(diffusion.alpha_bar)
    return diffusion


def test_the_schedule_ends_near_pure_noise_and_the_chain_visits_the_listed_steps():
    diffusion = oracle_diffusion()
    assert diffusion.alpha_bar[-1].sqrt().item() == pytest.approx(0.0055, abs=5e-5)
    assert diffusion.alpha_bar[19].sqrt().item() == pytest.approx(0.949, abs=5e-4)
    assert ddim_timesteps() == [199, 179, 159, 139, 119, 99, 79, 59, 39, 19]
    assert ddim_timesteps(5) == [199, 159, 119, 79, 39] and ddim_timesteps(100)[-1] == 1
    z = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    diffusion.sample(torch.randn_like(z), z, 10)
    assert diffusion.denoiser.steps == ddim_timesteps()
    with pytest.raises(ValueError, match="between 1 and 200"):
        ddim_timesteps(0)


@pytest.mark.parametrize("steps", [1, 5, 10, 50])
def test_ddim_recovers_the_latent_exactly_with_the_true_noise(steps):
    torch.manual_seed(0)
    diffusion = oracle_diffusion()
    z = torch.randn(2, 3, 6, 5, dtype=torch.float64)
    z_T = diffusion.q_sample(z, 199, torch.randn_like(z))
    torch.testing.assert_close(diffusion.sample(z_T, z, steps), z, rtol=0, atol=1e-9)


def test_ddim_with_a_constant_noise_estimate_matches_its_closed_form():
    """eps_hat = c at every step keeps z_t = sqrt(a_t) z0 + sqrt(1 - a_t) c, so z_hat = (z_T - sqrt(1 - a_T) c)
    / sqrt(a_T) whatever the steps between."""
    diffusion = LatentDiffusion().double()
    c = torch.randn(1, 3, 4, 4, dtype=torch.float64)
    diffusion.denoiser = ConstantDenoiser(c)
    z_T = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    a = diffusion.alpha_bar[199]
    torch.testing.assert_close(diffusion.sample(z_T, z_T, 10), (z_T - (1 - a).sqrt() * c) / a.sqrt())


def test_the_diffusion_terms_are_zero_for_the_true_noise_and_positive_otherwise():
    torch.manual_seed(0)
    diffusion = oracle_diffusion()
    z = torch.randn(4, 3, 4, 4, dtype=torch.float64)
    assert diffusion.noise_loss(z, z).item() < 1e-20
    assert diffusion.noise_loss(z, z + 1).item() > 0.1


def test_the_denoiser_the_condition_network_and_its_am_have_their_budgets():
    assert count_parameters(DenoisingUNet()) == 1_768_195
    assert count_parameters(LPENet_DM()) == 331_779 and count_parameters(AM(96, 60)) == 642_120
    out = DenoisingUNet()(torch.randn(2, 6, 10, 13), torch.tensor([3, 150]))
    assert out.shape == (2, 3, 10, 13)


def test_sampling_is_seeded_and_ignores_the_label():
    torch.manual_seed(0)
    model, x = LFDiff("full", frm_depth=1).eval(), sample_input(1, 16, 20)
    with torch.no_grad():
        first, again, zeros = model(x), model(x), model(x, torch.zeros(1, 3, 16, 20))
        model.seed = 1
        other = model(x)
    assert torch.equal(first, again) and torch.equal(first, zeros) and not torch.equal(first, other)
    assert first.shape == (1, 3, 16, 20) and 0 < first.min() and first.max() < 1


def test_stage_2_training_terms_frozen_lpenet_and_the_gradient_through_the_chain():
    torch.manual_seed(0)
    model = LFDiff("full", frm_depth=1).train()
    x, label = sample_input(2, 16, 16), torch.rand(2, 3, 16, 16)
    out = model(x, label)
    assert set(out.losses) == {"noise", "prior"} and all(v > 0 for v in out.losses.values())
    assert not model.lpenet.training and model.dhrnet.training
    F.l1_loss(out.prediction, label).backward()  # L_r alone
    grads = {name: p.grad for name, p in model.named_parameters()}
    assert all(grads[n] is None for n in grads if n.startswith("lpenet."))
    for module in ("diffusion.denoiser.ending.weight", "diffusion.denoiser.intro.weight", "am_dm.fuse.weight",
                   "lpenet_dm.body.0.weight", "dhrnet.body.0.rb_in.0.body.0.weight"):  # fmt: skip
        assert grads[module].abs().sum() > 0, module


def test_the_variants_without_joint_reconstruction_or_without_diffusion():
    torch.manual_seed(0)
    x, label = sample_input(2, 16, 16), torch.rand(2, 3, 16, 16)
    split = LFDiff("split", frm_depth=1).train()
    out = split(x, label)
    assert out.prediction is None and set(out.losses) == {"noise", "prior"}
    assert not any(p.requires_grad for p in split.dhrnet.parameters()) and not split.am.training
    direct = LFDiff("s2_wo_dm", frm_depth=1).train()
    target = direct.lpenet(label)
    direct.lpenet_dm.forward = lambda features: target  # D equal to the stage-1 prior: no prior loss
    out = direct(x, label)
    assert set(out.losses) == {"prior"} and out.losses["prior"].item() == 0


def test_seeds_and_steps_apply_only_to_a_network_that_samples():
    from models import AFUNet, set_sampling

    full = LFDiff("full", frm_depth=1)
    assert set_sampling(full, 7, 20) == {"seed": 7, "ddim_steps": 20} and full.config["ddim_steps"] == 10
    assert set_sampling(full) == {"seed": 7, "ddim_steps": 20}
    assert set_sampling(LFDiff("s2_wo_dm", frm_depth=1), 3) is None and set_sampling(AFUNet(), 3) is None
    for model, steps in ((LFDiff("s1", frm_depth=1), 5), (full, 0), (full, 201)):
        with pytest.raises(ValueError):
            set_sampling(model, None, steps)


def test_stage_2_trains_under_bf16_autocast():
    torch.manual_seed(0)
    model = LFDiff("full", frm_depth=1).train()
    with torch.autocast("cpu", torch.bfloat16):
        out = model(sample_input(1, 16, 16), torch.rand(1, 3, 16, 16))
    loss = F.l1_loss(out.prediction.float(), torch.rand(1, 3, 16, 16)) + sum(out.losses.values())
    loss.backward()
    assert torch.isfinite(loss) and model.diffusion.denoiser.ending.weight.grad.isfinite().all()


def test_merge_py_samples_with_its_seed(tmp_path, capsys):
    from test_merge import write_bracket

    from models import checkpoint_config
    from utils.hdr_io import read_hdr

    torch.manual_seed(0)
    model = LFDiff("full", frm_depth=1)
    torch.save({"model": model.state_dict(), "config": checkpoint_config(model)}, tmp_path / "s2.pth")
    photos = write_bracket(tmp_path / "bracket", [("a", 1 / 400), ("b", 1 / 100), ("c", 1 / 25)], size=(32, 48))
    outputs = []
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        argv = [*map(str, photos), "--out", str(tmp_path / f"{name}.hdr"), "--pretrained_model",
                str(tmp_path / "s2.pth"), "--seed", seed, "--align", "none", "--device", "cpu"]  # fmt: skip
        assert run_cli(merge_script.main, argv) == 0
        assert f"sampling seed {seed}, 10 DDIM steps" in capsys.readouterr().out
        outputs.append(read_hdr(tmp_path / f"{name}.hdr"))
    assert (outputs[0] == outputs[1]).all() and not (outputs[0] == outputs[2]).all()


def stage_args(data_dir, logdir, *extra):
    return train_script.parse_args([
        "--model", "lfdiff", "--frm_depth", "1", "--loss", "l1", "--dataset_dir", str(data_dir), "--logdir",
        str(logdir), "--patch_size", "32", "--batch_size", "2", "--repeat", "3", "--epochs", "2", "--num_workers",
        "0", "--log_every", "1", "--device", "cpu", "--no_tensorboard", *extra,
    ])  # fmt: skip


@pytest.mark.parametrize("argv, message", [
    (["--stage", "2"], "--stage 2 starts from a stage-1 checkpoint"),
    (["--stage", "2", "--variant", "s1", "--init_weights", "a"], "--variant s1 is trained in stage 1, not --stage 2"),
    (["--variant", "split"], "--variant split is trained in stage 2, not --stage 1"),
    (["--ddim_steps", "5"], "--ddim_steps is a stage-2 option"),
    (["--stage", "2", "--init_weights", "a", "--ddim_steps", "0"], "must be an integer ≥ 1 and ≤ 200"),
])  # fmt: skip
def test_stage_options_that_do_not_fit_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit):
        train_script.parse_args(["--model", "lfdiff", "--dataset_dir", "x", *argv])
    assert message in capsys.readouterr().err


def test_stage_2_defaults_to_the_full_model(tmp_path):
    args = train_script.parse_args(["--model", "lfdiff", "--dataset_dir", "x", "--stage", "2", "--init_weights", "a"])
    assert (args.variant, args.stage, args.ddim_steps, args.lr, args.lr_step) == ("full", 2, None, 1e-4, 50)


@pytest.mark.slow
def test_stage_2_starts_from_stage_1_resumes_exactly_and_test_py_is_seeded(tmp_path, capsys):
    data_dir = synth_scenes(tmp_path / "Kal" / "Training", scenes=2, size=(40, 48), seed=5).parent
    synth_scenes(data_dir / "Test" / "Test-set", scenes=1, size=(36, 44), seed=6)
    assert run_training(stage_args(data_dir, tmp_path / "s1", "--max_iters", "2")) == 0
    init = ("--stage", "2", "--init_weights", str(tmp_path / "s1" / "latest.pth"))
    assert run_training(stage_args(data_dir, tmp_path / "straight", *init)) == 0
    assert run_training(stage_args(data_dir, tmp_path / "split", *init, "--max_iters", "4")) == 0
    assert run_training(stage_args(data_dir, tmp_path / "split", *init, "--resume", "auto")) == 0
    s1, a, b = (torch.load(tmp_path / run / "latest.pth") for run in ("s1", "straight", "split"))
    assert a["iteration"] == b["iteration"] == 6 and a["config"]["variant"] == "full"
    assert all(torch.equal(v, b["model"][k]) for k, v in a["model"].items())
    lpenet = [k for k in s1["model"] if k.startswith("lpenet.")]
    assert lpenet and all(torch.equal(s1["model"][k], a["model"][k]) for k in lpenet)  # frozen
    assert not torch.equal(s1["model"]["conv_out.weight"], a["model"]["conv_out.weight"])  # DHRNet trains on
    log = [json.loads(line) for line in (tmp_path / "straight" / "log.jsonl").read_text().splitlines()]
    train = [r for r in log if r.get("kind") == "train"]
    assert all({"loss_reconstruction", "loss_noise", "loss_prior"} <= set(r) for r in train)
    assert train[0]["loss"] == pytest.approx(sum(train[0][k] for k in ("loss_reconstruction", "loss_noise",
                                                                         "loss_prior")))  # fmt: skip
    tables = []
    for out in ("t1", "t2", "t3"):
        seed = ["--seed", "3"] if out != "t3" else []
        argv = ["--dataset", "kalantari", "--dataset_dir", str(data_dir), "--device", "cpu", "--pretrained_model",
                str(tmp_path / "straight" / "latest.pth"), "--save_dir", str(tmp_path / out), *seed]  # fmt: skip
        assert run_cli(test_script.main, argv) == 0
        result = json.loads((tmp_path / out / "results.json").read_text())
        assert result["oracle"] is False and result["sampling"] == {"seed": 3 if seed else 0, "ddim_steps": 10}
        tables.append(result["scenes"])
    assert tables[0] == [{**r, "seconds": tables[0][i]["seconds"]} for i, r in enumerate(tables[1])]
    assert tables[0][0]["psnr_mu"] != tables[2][0]["psnr_mu"]
    out = capsys.readouterr().out
    assert "LF-Diff (paper, kalantari) | 44.76 | 42.59" in out and "difference (this run − paper)" in out
    argv += ["--ddim_steps", "5"]  # Table 4's variable: no Table 1 row at S = 5
    assert run_cli(test_script.main, argv) == 0
    assert json.loads((tmp_path / "t3" / "results.json").read_text())["sampling"] == {"seed": 0, "ddim_steps": 5}
    assert "(paper" not in capsys.readouterr().out
    argv[argv.index("--pretrained_model") + 1] = str(tmp_path / "s1" / "latest.pth")
    assert run_cli(test_script.main, argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not sample" in err
    model, _ = load_model(tmp_path / "straight" / "latest.pth")
    assert count_parameters(model) == COUNTS["full", 1]


@pytest.mark.slow
def test_a_short_stage_2_keeps_the_quality_of_stage_1_without_the_label(tmp_path):
    """Measured: mu-law L1 on the held-out scene 0.074 for stage 1 after 60 iterations (reading the label),
    0.060 for stage 2 after 40 more (from the photos alone; 0.082 with the stage-1 weights and the untrained
    diffusion model); asserted: stage 2 within 25 % of stage 1."""
    from datasets import LAYOUTS, TestDataset
    from utils.tonemap import mu_law

    root = synth_scenes(tmp_path / "Kal" / "Training", scenes=6, size=(64, 80), seed=21).parent
    extra = ("--repeat", "20", "--lr", "5e-4", "--val_scenes", "1", "--log_every", "20")
    assert run_training(stage_args(root, tmp_path / "s1", *extra, "--max_iters", "60")) == 0
    init = ("--stage", "2", "--init_weights", str(tmp_path / "s1" / "latest.pth"))
    assert run_training(stage_args(root, tmp_path / "s2", *extra, *init, "--max_iters", "40")) == 0
    item = TestDataset(root / "Training", LAYOUTS["kalantari"])[5]
    x, label = item["input"][None], item["label"][None]
    (s1, _), (s2, _) = (load_model(tmp_path / run / "latest.pth") for run in ("s1", "s2"))
    with torch.no_grad():
        oracle = F.l1_loss(mu_law(s1.eval()(x, label)), mu_law(label)).item()
        photos_only = F.l1_loss(mu_law(s2.eval()(x)), mu_law(label)).item()
    assert photos_only < 1.25 * oracle, (oracle, photos_only)
