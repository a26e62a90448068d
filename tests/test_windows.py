"""The window machinery (attention on its three paths, layouts, pieces, cached masks and biases) and the
inference path that uses it, against the autograd path."""

import pytest
import torch

from models import AFUNet
from models.windows import (
    MASK_VALUE,
    RelativePositionBias,
    shifted_window_mask,
    window_chunks,
    window_layout,
    window_partition,
    windowed_attention,
)


@pytest.mark.device
@pytest.mark.parametrize(
    "grad, h, w",
    [(True, 24, 40), (False, 24, 40), (False, 48, 56)],
    ids=["explicit-cpu-training", "in-cache-inference", "sdpa"],
)
def test_windowed_attention_matches_the_explicit_swin_formula(grad, h, w, device):
    """softmax((q * d^-0.5) k^T + bias + mask) v with the full shifted-window mask, batch 2, on all three
    paths: the plain formula (CPU training), the in-place formula on a few windows (CPU inference) and
    scaled_dot_product_attention with the masked windows redone (more windows, or CUDA)."""
    torch.manual_seed(0)
    b, c, heads = 2, 12, 3
    q, k, v = (torch.randn(b, (h // 8) * (w // 8), 64, c).to(device) for _ in range(3))
    bias = torch.randn(heads, 64, 64).to(device)
    labels = torch.zeros(1, h, w, 1)
    for n, (r, cc) in enumerate((r, cc) for r in (slice(0, -8), slice(-8, -4), slice(-4, None))
                                for cc in (slice(0, -8), slice(-8, -4), slice(-4, None))):  # fmt: skip
        labels[:, r, cc] = n
    lw = window_partition(labels).squeeze(-1)[0]
    full_mask = ((lw[:, :, None] != lw[:, None, :]).float() * MASK_VALUE).to(device)  # (nW, 64, 64)

    def split(t):
        return t.view(b, -1, 64, heads, c // heads).transpose(2, 3)

    logits = (split(q) * (c // heads) ** -0.5) @ split(k).transpose(-2, -1) + bias + full_mask[:, None]
    expected = (logits.softmax(-1) @ split(v)).transpose(2, 3).reshape(b, -1, 64, c)
    with torch.set_grad_enabled(grad):
        got = windowed_attention(q, k, v, heads, bias, shifted_window_mask(h, w, 4, q.device))
        unmasked = windowed_attention(q, k, v, heads, bias)
    assert (got - expected).abs().max() < 1e-5
    assert (unmasked - expected).abs().max() > 1e-2  # the mask matters


def test_masks_cached_during_inference_serve_training():
    model = AFUNet(stages=1)
    x = torch.rand(1, 18, 16, 24)
    with torch.inference_mode():
        model.eval()(x)
    model.train()(x).mean().backward()


def test_window_layouts_are_one_gather_of_roll_and_partition():
    b, h, w, c = 2, 24, 40, 5
    x = torch.randn(b, h, w, c)
    flat = x.view(b, h * w, c)
    for shift in (0, 4):
        expected = window_partition(torch.roll(x, (-shift, -shift), dims=(1, 2))).flatten(1, 2)
        assert torch.equal(flat[:, window_layout(h, w, shift, x.device)], expected)
        assert torch.equal(expected[:, window_layout(h, w, None, x.device, shift)], flat)
    other = window_partition(torch.roll(x, (-4, -4), dims=(1, 2))).flatten(1, 2)
    assert torch.equal(window_partition(x).flatten(1, 2)[:, window_layout(h, w, 4, x.device, 0)], other)
    # pieces of 7 windows over both images; the masks go with exactly the shifted-window border windows
    idx, m = shifted_window_mask(h, w, 4, x.device)
    pieces = window_chunks(b, h, w, 4, x.device, 7)
    assert [p[0] for p in pieces] == list(range(0, 2 * 15, 7)) and pieces[-1][1] == 2 * 15
    found = {start + int(i): mask for start, _, piece in pieces if piece for i, mask in zip(*piece)}
    assert sorted(found) == sorted(int(i) + n * 15 for n in range(b) for i in idx)
    assert all(torch.equal(found[n * 15 + int(i)], m[j]) for n in range(b) for j, i in enumerate(idx))


def test_inference_path_computes_the_training_path(monkeypatch):
    """Eval without autograd runs SFM, SAM and MLP in window layout, a few windows at a time: the same
    function as the autograd path, checked on weights far from their initialisation, two images of 64x80
    (pieces that straddle the images, shifted-window masks, MLPs over several pieces)."""
    from models import modules

    torch.manual_seed(0)
    model = AFUNet(stages=2).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.03)
    x = torch.rand(2, 18, 64, 80)
    with torch.enable_grad():
        expected = model(x)
    calls = []
    for cls, name in ((modules.SFM, "blocks_in_windows"), (modules.SAM, "attention_in_windows")):
        original = getattr(cls, name)
        monkeypatch.setattr(cls, name, lambda self, *a, _f=original, _n=name: calls.append(_n) or _f(self, *a))
    with torch.inference_mode():
        got = model(x)
    assert calls.count("blocks_in_windows") == 2 and calls.count("attention_in_windows") == 4
    assert (got - expected).abs().max() < 1e-5
    assert expected.std() > 0.05  # weights that make the output depend on the input


@pytest.mark.device
def test_cached_position_bias_follows_weight_updates(device):
    rpb = RelativePositionBias(2).to(device)
    with torch.no_grad():
        first = rpb().clone()
        assert rpb() is rpb()  # reused while the table is unchanged
        rpb.table.add_(1.0)  # an optimiser step or load_state_dict changes it in place
        assert torch.allclose(rpb(), first + 1.0)
    assert rpb().requires_grad


def test_inference_path_under_bf16_autocast():
    """The CPU inference path under bf16 autocast (scripts/benchmark.py --amp bf16), close to float32."""
    torch.manual_seed(0)
    model = AFUNet(stages=1).eval()
    x = torch.rand(1, 18, 64, 80)
    with torch.inference_mode():
        exact = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = model(x)
    assert got.dtype == torch.bfloat16 and (got.float() - exact).abs().max() < 2e-2
