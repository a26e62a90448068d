"""AFUNet against the official implementation's recorded outputs, shapes, gradients and ablations."""

import pytest
import torch
from conftest import shared_path

from models import COMPONENTS, AFUNet, count_parameters, load_model, load_pretrained
from utils.errors import CheckpointError

OFFICIAL_PARAMETERS = 1_162_035


def capture_intermediates(model: AFUNet) -> tuple[dict[str, torch.Tensor], list]:
    """Forward hooks that record the fixture's named intermediates as (B, C, H, W) images."""
    store: dict[str, torch.Tensor] = {}

    def img(t: torch.Tensor) -> torch.Tensor:
        return t.detach().permute(0, 3, 1, 2).clone()

    def out(name, fn=img):
        return lambda _m, _i, o: store.__setitem__(name, fn(o))

    handles = [model.sfem[i].register_forward_hook(out(f"sfem/f_y{i + 1}")) for i in range(3)]

    def split_init(_m, _i, o):
        for name, t in zip(("f_alpha1", "f_x", "f_alpha3"), o.chunk(3, dim=-1)):
            store[f"init/{name}"] = img(t)

    handles.append(model.embed_norm.register_forward_hook(split_init))
    for s, afm in enumerate(model.stages, start=1):
        p = f"stage{s}/"
        for mod, name in [(afm.d1, "D1_x"), (afm.d3, "D3_x"), (afm.sam1, "alpha1"), (afm.sam3, "alpha3"),
                          (afm.sfm, "sfm_out"), (afm.cfm_u, "u"), (afm.cfm_v, "v"), (afm.dcm, "x_p"),
                          (afm.dcm.d2t, "D2T_y2")]:  # fmt: skip
            handles.append(mod.register_forward_hook(out(p + name)))
        handles.append(afm.register_forward_hook(out(p + "x", lambda o: img(o[1]))))
    handles.append(
        model.conv_out.register_forward_pre_hook(
            lambda _m, i: store.__setitem__("head/pre_conv", i[0].detach().clone())
        )
    )
    handles.append(model.conv_out.register_forward_hook(out("head/pre_sigmoid", lambda o: o.detach().clone())))
    return store, handles


@pytest.fixture(scope="module")
def official_model(official_checkpoint) -> AFUNet:
    model = AFUNet().eval()
    load_pretrained(model, official_checkpoint)
    return model


def test_official_parameter_count():
    assert count_parameters(AFUNet()) == OFFICIAL_PARAMETERS


def assert_matches_official(model: AFUNet, case: dict, scale: float = 1.0) -> None:
    """The output within 1e-5 and every intermediate the case holds within max(1e-4, 2e-5 max|ref|), on the
    model's device; ``scale`` widens both (TF32)."""
    store, handles = capture_intermediates(model)
    try:
        with torch.no_grad():
            out = model(case["input"].to(next(model.parameters()).device)).cpu()
    finally:
        for h in handles:
            h.remove()
    assert out.shape == case["output"].shape
    assert (out - case["output"]).abs().max().item() <= 1e-5 * scale
    assert case["intermediates"], "fixture has no intermediates"
    for name, ref in case["intermediates"].items():
        assert name in store, f"intermediate {name} not captured"
        tol = max(1e-4, 2e-5 * ref.abs().max().item()) * scale
        diff = (store[name].cpu() - ref).abs().max().item()
        assert diff <= tol, f"{case['name']} {name}: max |diff| {diff:.3g} > {tol:.3g}"


@pytest.mark.device
@pytest.mark.parametrize("tf32", [False, True], ids=["fp32", "tf32"])
@pytest.mark.parametrize("index", [0, 1], ids=["a-64x64", "b-batch2-40x56"])
def test_reproduces_official_outputs_and_intermediates(official_checkpoint, forward_cases, index, tf32, device):
    """Shipped fixtures: runs on a fresh clone, on $TEST_DEVICE; TF32 (CUDA only; the CPU ignores it) moves
    outputs by about 1e-3, so its tolerances are 100 times wider."""
    from utils.device import set_tf32

    model = AFUNet().eval()
    load_pretrained(model, official_checkpoint)
    try:
        set_tf32(tf32)
        assert_matches_official(model.to(device), forward_cases["cases"][index], 100.0 if tf32 else 1.0)
    finally:
        set_tf32(False)


@pytest.mark.parametrize("index", [0, 1], ids=["a-64x64", "b-batch2-40x56"])
def test_reproduces_every_official_intermediate(official_model, shared_forward_cases, index):
    """The full shared fixture: 45 intermediates of case a, 18 of case b."""
    case = shared_forward_cases["cases"][index]
    assert len(case["intermediates"]) == (45, 18)[index]
    assert_matches_official(official_model, case)


def test_shipped_fixtures_are_faithful_copies_of_the_shared_ones(official_checkpoint, forward_cases):
    shared = shared_path("fixtures", "afunet-official")
    assert official_checkpoint.read_bytes() == (shared / "official_random_init.pth").read_bytes()
    full = torch.load(shared / "forward_cases.pt")
    for mine, ref in zip(forward_cases["cases"], full["cases"], strict=True):
        assert mine["name"] == ref["name"]
        assert torch.equal(mine["input"], ref["input"]) and torch.equal(mine["output"], ref["output"])
        for name, t in mine["intermediates"].items():
            assert torch.equal(t, ref["intermediates"][name]), name


def test_odd_sizes_and_batch_consistency(official_model, forward_cases):
    x = forward_cases["cases"][1]["input"][:, :, :37, :53]
    with torch.no_grad():
        out = official_model(x)
        single = official_model(x[1:2])
    assert out.shape == (2, 3, 37, 53)
    assert out.min() > 0 and out.max() < 1
    assert (out[1:2] - single).abs().max() <= 1e-5


def test_input_channel_count_is_checked():
    with pytest.raises(ValueError, match=r"\(B, 18, H, W\).*\(1, 15, 16, 16\)"):
        AFUNet(stages=1)(torch.rand(1, 15, 16, 16))


def test_gradients_reach_every_used_parameter():
    torch.manual_seed(0)
    model = AFUNet(stages=2).train()
    model(torch.rand(2, 18, 20, 24)).mean().backward()
    unused = {"embed_norm_div3.weight", "embed_norm_div3.bias"}
    for name, p in model.named_parameters():
        if name in unused:
            assert p.grad is None
        else:
            assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient for {name}"


def test_grad_checkpoint_gives_the_same_gradients_with_drop_path():
    x = torch.rand(2, 18, 24, 16)
    grads = []
    for flag in (False, True):
        torch.manual_seed(0)
        model = AFUNet(stages=2, drop_path_rate=0.5).train()
        model.grad_checkpoint = flag
        torch.manual_seed(1)
        model(x).square().mean().backward()
        grads.append({n: p.grad for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for name, g in grads[0].items():
        torch.testing.assert_close(grads[1][name], g, rtol=1e-4, atol=1e-7, msg=name)


@pytest.mark.parametrize("components", sorted(COMPONENTS))
@pytest.mark.parametrize("paradigm", ["AF", "FA"])
def test_ablation_variants_train(components, paradigm):
    torch.manual_seed(0)
    model = AFUNet(stages=2, components=components, paradigm=paradigm).train()
    out = model(torch.rand(1, 18, 16, 16))
    out.mean().backward()
    assert out.shape == (1, 3, 16, 16)
    assert count_parameters(model) > 0


def test_component_parameter_counts():
    n = {c: count_parameters(AFUNet(components=c)) for c in COMPONENTS}
    assert n["full"] == OFFICIAL_PARAMETERS
    assert n["M1"] < min(n["M2"], n["M3"], n["M4"])
    # each module's weights add up to the full model (SAM, CFM, DCM are disjoint)
    assert n["M1"] + sum(n[m] - n["M1"] for m in ("M2", "M3", "M4")) == n["full"]
    assert n["M2"] - n["M1"] == 4 * (2 * 3090 + 2 * 2376)  # two SAMs and D1, D3 per stage


def test_stage_count_scales_parameters():
    n = [count_parameters(AFUNet(stages=t)) for t in range(2, 7)]
    per_stage = {b - a for a, b in zip(n, n[1:])}
    assert len(per_stage) == 1 and n[2] == OFFICIAL_PARAMETERS


def test_paradigm_changes_the_computation(official_checkpoint, forward_cases):
    x = forward_cases["cases"][0]["input"][:, :, :24, :24]
    fa = AFUNet(paradigm="FA").eval()
    af = AFUNet().eval()
    load_pretrained(fa, official_checkpoint)
    load_pretrained(af, official_checkpoint)
    with torch.no_grad():
        assert (fa(x) - af(x)).abs().max() > 1e-3


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(1)
    model = AFUNet(stages=2, components="M3").eval()
    path = tmp_path / "ours.pth"
    torch.save({"model": model.state_dict(), "config": model.config}, path)
    other = AFUNet(stages=2, components="M3").eval()
    load_pretrained(other, path)
    x = torch.rand(1, 18, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(x), other(x))


def test_load_model_builds_afunet_from_official_and_older_checkpoints(official_model, official_checkpoint, tmp_path):
    """Checkpoints without config["model"] (official ones; ours from before several networks) are AFUNet."""
    model, _ = load_model(official_checkpoint)
    x = torch.rand(1, 18, 16, 24)
    with torch.no_grad():
        assert type(model) is AFUNet and torch.equal(model.eval()(x), official_model(x))
    older = AFUNet(stages=2, components="M3")
    path = tmp_path / "older.pth"
    torch.save({"model": older.state_dict(), "config": older.config}, path)
    assert "model" not in older.config
    model, _ = load_model(path)
    assert type(model) is AFUNet and model.config == older.config
    assert all(torch.equal(v, older.state_dict()[k]) for k, v in model.state_dict().items())


def test_checkpoint_from_another_architecture_is_refused(official_checkpoint, tmp_path):
    with pytest.raises(CheckpointError, match=r"official_random_init\.pth.*unexpected keys \[stages\.3\."):
        load_pretrained(AFUNet(stages=3), official_checkpoint)
    m1 = tmp_path / "m1.pth"
    torch.save({"model": AFUNet(components="M1").state_dict()}, m1)
    with pytest.raises(CheckpointError, match=r"m1\.pth.*missing keys \[stages\.0\.d1"):
        load_pretrained(AFUNet(), m1)


def test_unreadable_checkpoint_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match=r"bad\.pth: not a readable PyTorch checkpoint"):
        load_pretrained(AFUNet(stages=1), bad)
    with pytest.raises(CheckpointError, match="not found"):
        load_pretrained(AFUNet(stages=1), tmp_path / "missing.pth")
