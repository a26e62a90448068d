"""train.py --deterministic: the settings it makes, the deterministic reflect pad and convolution (same
values and gradients as PyTorch's), and the window attention's explicit path with its gradients for the
networks' head sizes, on $TEST_DEVICE (the GPU check runs them on CUDA)."""

import os

import pytest
import torch
import torch.nn.functional as F

from models.common import ReflectConv2d, pad_to_multiple, reflect_pad
from models.windows import shifted_window_mask, windowed_attention
from utils.device import set_deterministic


@pytest.fixture
def deterministic():
    """Deterministic algorithms for one test, switched off after it."""
    set_deterministic(True)
    try:
        yield
    finally:
        set_deterministic(False)


def test_the_switch_sets_every_knob_and_back(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    set_deterministic(True)
    try:
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    finally:
        set_deterministic(False)
    assert not torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.deterministic


@pytest.mark.device
@pytest.mark.parametrize("pad", [(1, 1, 1, 1), (0, 3, 0, 2), (2, 0, 5, 0), (0, 0, 0, 0)])
def test_reflect_pad_matches_pytorchs_values_and_gradients(pad, deterministic, device):
    x = torch.randn(2, 3, 7, 9, dtype=torch.float64, device=device, requires_grad=True)
    weight = torch.randn(2, 3, 7 + pad[2] + pad[3], 9 + pad[0] + pad[1], dtype=torch.float64, device=device)
    ours = reflect_pad(x, pad)
    (grad,) = torch.autograd.grad((ours * weight).sum(), x)
    set_deterministic(False)  # PyTorch's own pad
    theirs = F.pad(x, pad, mode="reflect")
    (expected,) = torch.autograd.grad((theirs * weight).sum(), x)
    assert torch.equal(ours, theirs) and torch.allclose(grad, expected, atol=1e-12)


@pytest.mark.device
def test_the_reflect_convolution_is_pytorchs_and_pads_to_a_multiple_alike(deterministic, device):
    torch.manual_seed(0)
    ours = ReflectConv2d(4, 5, 3, padding=1, padding_mode="reflect").to(device)
    theirs = torch.nn.Conv2d(4, 5, 3, padding=1, padding_mode="reflect").to(device)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 4, 10, 12, device=device)
    a, b = ours(x), theirs(x)
    assert (a - b).abs().max() < 1e-5
    ga, gb = (torch.autograd.grad(y.square().sum(), m.weight)[0] for y, m in ((a, ours), (b, theirs)))
    assert (ga - gb).abs().max() < 1e-4 * gb.abs().max()
    small = torch.randn(1, 2, 3, 5, device=device)  # three reflections deep: repeated pads
    padded = pad_to_multiple(small, 8)
    set_deterministic(False)
    assert torch.equal(padded, pad_to_multiple(small, 8)) and padded.shape[-2:] == (8, 8)


def explicit_attention(q, k, v, heads, bias, mask):
    """The Swin formula, softmax((q d^-0.5) k^T + bias + mask) v, with the full (nW, N, N) mask."""
    b, nw, n, c = q.shape

    def split(t):
        return t.view(b, nw, n, heads, c // heads).transpose(2, 3)

    logits = (split(q) * (c // heads) ** -0.5) @ split(k).transpose(-2, -1) + bias + mask[:, None]
    return (logits.softmax(-1) @ split(v)).transpose(2, 3).reshape(b, nw, n, c)


@pytest.mark.device
@pytest.mark.parametrize("det", [False, True], ids=["default", "deterministic"])
@pytest.mark.parametrize("head_dim", [12, 18])
def test_window_attention_and_its_gradients_for_the_networks_head_sizes(head_dim, det, device):
    """Head dims 12 and 18 (the official configuration's and the wider one's), training: outputs and the
    gradients of q, k, v and the bias against the formula in float64, on every path the device takes."""
    torch.manual_seed(0)
    h, w, heads = 16, 24, 4
    q, k, v = (torch.randn(2, 6, 64, heads * head_dim, device=device, requires_grad=True) for _ in range(3))
    bias = torch.randn(heads, 64, 64, device=device, requires_grad=True)
    mask = shifted_window_mask(h, w, 4, device)
    full = torch.zeros(6, 64, 64, device=device).index_copy(0, mask[0], mask[1][:, 0])
    set_deterministic(det)
    try:
        got = windowed_attention(q, k, v, heads, bias, mask)
        grads = torch.autograd.grad(got.square().sum(), (q, k, v, bias))
    finally:
        set_deterministic(False)
    leaves = [t.detach().double().requires_grad_() for t in (q, k, v, bias)]
    expected = explicit_attention(*leaves[:3], heads, leaves[3], full.double())
    expected_grads = torch.autograd.grad(expected.square().sum(), leaves)
    assert (got.double() - expected).abs().max() < 1e-5
    for g, e in zip(grads, expected_grads, strict=True):
        assert (g.double() - e).abs().max() < 1e-4 * max(1.0, e.abs().max().item())
