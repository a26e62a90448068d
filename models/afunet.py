"""AFUNet: SFEM -> T x AFM -> reconstruction head (Eqs. 9-16), with the paper's ablation switches.

The ablations of paper Tables 4-6 are constructor arguments:

- ``stages``: T, the number of unfolding stages (paper: 2-6, default 4);
- ``components``: ``"full"`` or ``"M1"`` (SFM only), ``"M2"`` (+SAM), ``"M3"`` (+CFM), ``"M4"`` (+DCM).
  A switched-off module becomes the simplest pass-through that keeps the unfolding equations:
  no SAM: the alignment step is the identity, f_alpha^t = f_alpha^{t-1} (Eq. 4 with zero step);
  no CFM: the proximal step keeps the spatial fusion result, f_u = f_us and f_v = f_vs (Eq. 13b-c);
  no DCM: Eq. 8 without the data term, with beta1 = beta3: f_xp = (f_u + f_v) / 2.
- ``paradigm``: ``"AF"`` (align then fuse, the paper's default) or ``"FA"`` (fuse with the previous
  aligned features, then align them to the new f_x^t).
"""

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from utils.threads import threads_on_free_cores

from .common import pad_to_multiple
from .modules import CFM, DCM, MLP, SAM, SFEM, SFM, conv3x3, conv_hwc, in_windows_inference
from .windows import WINDOW

COMPONENTS = {
    "full": frozenset({"SAM", "CFM", "DCM"}),
    "M1": frozenset(),
    "M2": frozenset({"SAM"}),
    "M3": frozenset({"CFM"}),
    "M4": frozenset({"DCM"}),
}
PARADIGMS = ("AF", "FA")
IN_CHANNELS = 18  # three exposures x [H_i (3), L_i (3)], reference exposure in the middle


class AFM(nn.Module):
    """Alignment-Fusion Module, one unfolding stage (Eq. 10): alignment (Eqs. 11-12), then fusion
    (Eqs. 13-15), or the reverse for the FA paradigm."""

    def __init__(
        self,
        dim: int,
        depth: int,
        heads: int,
        mlp_ratio: float,
        sfm_drop_path: list[float],
        sam_drop_path: float,
        components: frozenset[str],
        paradigm: str,
    ) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.paradigm = paradigm
        if "SAM" in components:
            self.d1 = MLP(dim, hidden, dim)
            self.d3 = MLP(dim, hidden, dim)
            self.sam1 = SAM(dim, heads // 2, sam_drop_path)
            self.sam3 = SAM(dim, heads // 2, sam_drop_path)
        self.sfm = SFM(3 * dim, depth, heads, mlp_ratio, sfm_drop_path)
        if "CFM" in components:
            self.cfm_u = CFM(dim, heads // 2)
            self.cfm_v = CFM(dim, heads // 2)
        if "DCM" in components:
            self.dcm = DCM(dim, hidden)
        self.mlp_end = MLP(3 * dim, hidden, dim)

    def align(
        self, f_alpha1: torch.Tensor, f_x: torch.Tensor, f_alpha3: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Eqs. 4a-4b / 11: f_alpha_i^t = SAM(D_i(f_x), f_alpha_i^{t-1}); the identity without SAM."""
        if not hasattr(self, "sam1"):
            return f_alpha1, f_alpha3
        return self.sam1(self.d1(f_x), f_alpha1), self.sam3(self.d3(f_x), f_alpha3)

    def fuse(
        self, f_alpha1: torch.Tensor, f_x: torch.Tensor, f_alpha3: torch.Tensor, f_y2: torch.Tensor
    ) -> torch.Tensor:
        """Eqs. 13-15: SFM, U-/V-CFM, DCM and the MLP update -> f_x^t."""
        f_us, f_r, f_vs = self.sfm(torch.cat([f_alpha1, f_x, f_alpha3], dim=-1)).chunk(3, dim=-1)
        f_u = self.cfm_u(f_us, f_x) if hasattr(self, "cfm_u") else f_us
        f_v = self.cfm_v(f_vs, f_x) if hasattr(self, "cfm_v") else f_vs
        f_xp = self.dcm(f_u, f_y2, f_v) if hasattr(self, "dcm") else (f_u + f_v) / 2
        return self.mlp_end(torch.cat([f_u, f_xp, f_v], dim=-1)) + f_r

    def forward(
        self, f_alpha1: torch.Tensor, f_x: torch.Tensor, f_alpha3: torch.Tensor, f_y2: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(f_alpha1^{t-1}, f_x^{t-1}, f_alpha3^{t-1}), f_y2 -> (f_alpha1^t, f_x^t, f_alpha3^t); (B, H, W, C) each."""
        if self.paradigm == "AF":
            f_alpha1, f_alpha3 = self.align(f_alpha1, f_x, f_alpha3)
            f_x = self.fuse(f_alpha1, f_x, f_alpha3, f_y2)
        else:
            f_x = self.fuse(f_alpha1, f_x, f_alpha3, f_y2)
            f_alpha1, f_alpha3 = self.align(f_alpha1, f_x, f_alpha3)
        return f_alpha1, f_x, f_alpha3


class AFUNet(nn.Module):
    """AFUNet (ICCV 2025). ``AFUNet()`` is the official configuration (1,162,035 parameters).

    Input (B, 18, H, W): per exposure [ldr**2.2 / t, ldr], short, reference, long. Output (B, 3, H, W)
    linear HDR in (0, 1). Any H, W: reflect-padded to a multiple of the window inside, cropped back.
    Setting ``grad_checkpoint = True`` recomputes each stage in the backward pass instead of keeping its
    activations (same gradients, less training memory, more time).
    """

    NAME = "afunet"
    MULTI_OUTPUT = False  # one image in training and in eval
    grad_checkpoint: bool = False

    def __init__(
        self,
        stages: int = 4,
        components: str = "full",
        paradigm: str = "AF",
        dim: int = 24,
        sfm_depth: int = 5,
        heads: int = 4,
        mlp_ratio: float = 2.0,
        drop_path_rate: float = 0.1,
    ) -> None:
        super().__init__()
        if components not in COMPONENTS:
            raise ValueError(f"components must be one of {sorted(COMPONENTS)}, got {components!r}")
        if paradigm not in PARADIGMS:
            raise ValueError(f"paradigm must be one of {PARADIGMS}, got {paradigm!r}")
        if stages < 1:
            raise ValueError(f"stages must be >= 1, got {stages}")
        self.config = dict(
            stages=stages, components=components, paradigm=paradigm, dim=dim, sfm_depth=sfm_depth,
            heads=heads, mlp_ratio=mlp_ratio, drop_path_rate=drop_path_rate,
        )  # fmt: skip
        sfm_rates = torch.linspace(0, drop_path_rate, sfm_depth * stages).tolist()
        sam_rates = torch.linspace(0, drop_path_rate, max(6, stages)).tolist()  # official: 6 entries
        self.sfem = nn.ModuleList(SFEM(IN_CHANNELS // 3, dim) for _ in range(3))
        self.embed_norm = nn.LayerNorm(3 * dim)
        # Never used in the forward pass; kept because the official model has it (its checkpoints
        # and the published parameter count include these 48 numbers).
        self.embed_norm_div3 = nn.LayerNorm(dim)
        self.stages = nn.ModuleList(
            AFM(
                dim,
                sfm_depth,
                heads,
                mlp_ratio,
                sfm_rates[s * sfm_depth : (s + 1) * sfm_depth],
                sam_rates[s],
                COMPONENTS[components],
                paradigm,
            )  # fmt: skip
            for s in range(stages)
        )
        self.conv_skip = conv3x3(dim, dim)
        self.conv_out = conv3x3(dim, 3)
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 18, H, W) -> (B, 3, H, W) linear HDR. CPU inference runs on the cores other processes leave
        free (utils/threads.py)."""
        if x.ndim != 4 or x.shape[1] != IN_CHANNELS:
            raise ValueError(
                f"AFUNet expects a (B, {IN_CHANNELS}, H, W) input (per exposure [ldr**2.2/t, ldr]), "
                f"got shape {tuple(x.shape)}"
            )
        if in_windows_inference(self, x):
            with threads_on_free_cores():
                return self.reconstruct(x)
        return self.reconstruct(x)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Eqs. 9-16 on a (B, 18, H, W) input -> (B, 3, H, W)."""
        h0, w0 = x.shape[-2:]
        x = pad_to_multiple(x, WINDOW)
        f_y1, f_y2, f_y3 = (sfem(y_i) for sfem, y_i in zip(self.sfem, x.split(IN_CHANNELS // 3, dim=1)))  # Eq. 9
        f_alpha1, f_x, f_alpha3 = self.embed_norm(torch.cat([f_y1, f_y2, f_y3], dim=-1)).chunk(3, dim=-1)
        f_x0 = f_x
        for afm in self.stages:  # Eq. 10
            if self.grad_checkpoint and torch.is_grad_enabled():
                f_alpha1, f_x, f_alpha3 = checkpoint(afm, f_alpha1, f_x, f_alpha3, f_x0, use_reentrant=False)
            else:
                f_alpha1, f_x, f_alpha3 = afm(f_alpha1, f_x, f_alpha3, f_x0)
        x_hat = torch.sigmoid(conv_hwc(self.conv_out, f_x + conv_hwc(self.conv_skip, f_y2)))  # Eq. 16
        return x_hat.permute(0, 3, 1, 2)[:, :, :h0, :w0]


def _init_weights(m: nn.Module) -> None:
    """Official initialisation: truncated normal (std 0.02) weights, zero biases."""
    if isinstance(m, (nn.Linear, nn.Conv2d)):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
