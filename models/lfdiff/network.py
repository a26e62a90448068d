"""LF-Diff, "Generating Content for HDR Deghosting from Frequency View" (Hu, Yan, Qi, Zhang; CVPR 2024):
the regression network DHRNet with its head, the stage-1 model that reads the label's prior, and the
stage-2 models that predict the prior from the photos (by latent diffusion, or directly).

``[Lnn]`` is line nn of the paper's text; ``U#`` an open choice, each taken once in the table of
``models/lfdiff/README.md``. ``modules.py`` builds the modules, ``attention.py`` the attention inside them.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..common import TrainingOutput, pad_to_multiple
from .diffusion import LatentDiffusion, S, ddim_timesteps
from .modules import AM, FRM, PIM, LPENet, LPENet_DM, conv3x3

IN_CHANNELS = 18
# Table 3 [L212, L223, L227]: the prior the PIMs read, the default (the method) first. "gt": LPENet on the
# label (stage 1, an oracle); "diffusion": z_hat sampled by the DM from D; "direct": D itself; None: no
# PIM (each replaced by an FRM).
VARIANTS = {"full": "diffusion", "s2_wo_dm": "direct", "split": "diffusion", "s1": "gt", "baseline": None}
STAGE = {"full": 2, "s2_wo_dm": 2, "split": 2, "s1": 1, "baseline": 1}
# modules frozen in stage 2 (U17): LPENet always; "split" trains the DM alone, "without additional
# training" of the stage-1 DHRNet [L223]
FROZEN = {"full": ("lpenet",), "s2_wo_dm": ("lpenet",), "split": ("lpenet", "am", "dhrnet", "conv_body", "conv_out")}
PAPER_PARAMETERS = {"baseline": 5.09e6, "s1": 5.24e6, "split": 7.48e6, "s2_wo_dm": 5.85e6, "full": 7.48e6}
MULTIPLE = 4  # PixelUnshuffle 4 and the PIM's avgpool 4 [L172] (U22)
DEFAULT_SEED = 0  # of the Gaussian z_hat_T drawn at inference [L155] (U22)


class DHRNet(nn.Module):
    """Dynamic HDR Reconstruction Network [L92, L104]: 3 Reconstruction Blocks, each a PIM then N = 3 FRMs
    [L172] (U10, U11: flat, full resolution); with ``prior=False`` (the baseline [L212]) each PIM is an
    FRM. F_0 (B, C, H, W), z (B, 3, H/4, W/4) or None -> (B, C, H, W)."""

    def __init__(self, c: int = 60, blocks: int = 3, frms: int = 3, depth: int = 2, prior: bool = True) -> None:
        super().__init__()
        first = PIM if prior else FRM
        self.body = nn.ModuleList(module(c, depth) for _ in range(blocks) for module in (first, *(FRM,) * frms))

    def forward(self, f_0: Tensor, z: Tensor | None) -> Tensor:
        f = f_0
        for module in self.body:
            f = module(f, z)
        return f


class LFDiff(nn.Module):
    """LF-Diff [L80-L155] (U11 for the head): H_hat = sigmoid(conv3(conv3(DHRNet(F_0, z) + F_0) + f_2))
    (Eq. 10), F_0 and f_2 from the alignment module AM [L117].

    ``variant`` is a row of Table 3. Stage 1: ``"s1"`` (z = LPENet(label), Eq. 6: ``forward`` needs the
    label, an oracle) or ``"baseline"`` (12 FRMs, no prior). Stage 2, from the photos alone:
    ``"full"`` (the method: D = LPENet_DM(AM_DM(PixelUnshuffle(X))), Eq. 13, and z_hat = DDIM_S(eps_theta,
    z_hat_T, D) [L155]), ``"s2_wo_dm"`` (z_hat = D [L212]) or ``"split"`` (the full model with the DM
    trained alone on the stage-1 prior [L223]). ``frm_depth`` (U27) is the number of RBs at each RB
    position and of Restormer blocks in each SA branch: 2 fits Table 3's counts, 1 is the text's literal
    reading. ``ddim_steps`` is S [L172], Table 4's variable.

    Input (B, 18, H, W) as the repository's other networks (per exposure [ldr**2.2/t, ldr]), label
    (B, 3, H, W) linear HDR; any H, W (reflect-padded inside to a multiple of 4, cropped back). Returns
    H_hat (B, 3, H, W) in (0, 1); a stage-2 variant in training mode, given the label, returns a
    ``TrainingOutput`` with its L_diff terms (Eq. 15): "noise" (the eps MSE) and "prior" (L1 of z_hat to
    the frozen LPENet's z), and no prediction for "split". z_hat_T is drawn from a generator seeded with
    ``seed`` at every call, so the output depends on the input and the seed only.
    """

    NAME = "lfdiff"
    MULTI_OUTPUT = False
    TEST_PAD = MULTIPLE  # the test protocol pads only what the network needs (U22): its attention is global
    grad_checkpoint: bool = False

    def __init__(self, variant: str = "full", frm_depth: int = 2, c: int = 60, ddim_steps: int = S) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
        if frm_depth not in (1, 2):
            raise ValueError(f"frm_depth must be 1 or 2, got {frm_depth}")
        self.prior, self.stage, self.seed = VARIANTS[variant], STAGE[variant], DEFAULT_SEED
        self.config = dict(
            variant=variant, frm_depth=frm_depth, c=c, **({"ddim_steps": ddim_steps} if self.stage == 2 else {})
        )
        self.am = AM(IN_CHANNELS // 3, c)
        self.lpenet = LPENet() if self.prior is not None else None
        self.dhrnet = DHRNet(c, depth=frm_depth, prior=self.prior is not None)
        self.conv_body = conv3x3(c, c)
        self.conv_out = conv3x3(c, 3)
        self.diffusion: LatentDiffusion | None = None
        if self.stage == 2:
            self.am_dm = AM(IN_CHANNELS // 3 * MULTIPLE**2, c)  # U4: its own AM after PixelUnshuffle (Eq. 13)
            self.lpenet_dm = LPENet_DM(c)
            self.diffusion = LatentDiffusion() if self.prior == "diffusion" else None
            self.ddim_steps = ddim_steps
        self.frozen = FROZEN.get(variant, ())
        self.training_only = ("lpenet",) if self.stage == 2 else ()  # the target provider, not deployed
        # absent from a stage-1 checkpoint: stage 2 starts them from scratch (U17)
        self.fresh_modules = ("am_dm", "lpenet_dm", "diffusion") if self.stage == 2 else ()
        for name in self.frozen:
            getattr(self, name).requires_grad_(False)

    @property
    def needs_label(self) -> bool:
        """True when the prior is read from the label at test time (stage 1): the oracle, not deployable."""
        return self.prior == "gt"

    @property
    def trains_on_label(self) -> bool:
        """True when training reads the label inside the network (stage 1's prior, stage 2's target z)."""
        return self.prior is not None

    @property
    def samples(self) -> bool:
        """True when the output depends on a random draw (the diffusion variants): see ``set_sampling``."""
        return self.diffusion is not None

    def set_sampling(self, seed: int | None = None, ddim_steps: int | None = None) -> dict[str, int]:
        """Set the seed of z_hat_T and the DDIM steps S at inference (Table 4) where given; -> both as set."""
        if not self.samples:
            raise ValueError(f"LF-Diff {self.config['variant']} does not sample: no seed or DDIM steps apply")
        if ddim_steps is not None:
            ddim_timesteps(ddim_steps)  # in range
            self.ddim_steps = ddim_steps
        self.seed = self.seed if seed is None else seed
        return {"seed": self.seed, "ddim_steps": self.ddim_steps}

    def train(self, mode: bool = True) -> "LFDiff":
        """Frozen modules stay in eval mode (U17)."""
        super().train(mode)
        for name in self.frozen:
            getattr(self, name).eval()
        return self

    def forward(self, x: Tensor, label: Tensor | None = None) -> Tensor | TrainingOutput:
        if x.ndim != 4 or x.shape[1] != IN_CHANNELS:
            raise ValueError(
                f"LF-Diff expects a (B, {IN_CHANNELS}, H, W) input (per exposure [ldr**2.2/t, ldr]), "
                f"got shape {tuple(x.shape)}"
            )
        if self.needs_label and label is None:
            raise ValueError("LF-Diff stage 1 (variant 's1') reads its prior from the label: call model(x, label)")
        h, w = x.shape[-2:]
        x = pad_to_multiple(x, MULTIPLE)
        z, losses = None, {}
        if self.prior == "gt":
            z = self.lpenet(pad_to_multiple(label, MULTIPLE))
        elif self.prior is not None:
            target = None
            if self.training and label is not None:
                with torch.no_grad():
                    target = self.lpenet(pad_to_multiple(label, MULTIPLE))
            z, losses = self.predict_prior(x, target)
            if target is not None and self.config["variant"] == "split":
                return TrainingOutput(None, losses)
        f_0, f_2 = self.am(x)
        r = self.conv_body(self.dhrnet(f_0, z) + f_0)
        hdr = self.conv_out(r + f_2).sigmoid()[..., :h, :w]
        return TrainingOutput(hdr, losses) if losses else hdr

    def predict_prior(self, x: Tensor, target: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        """Stage 2: z_hat (B, 3, H/4, W/4) from the photos x (B, 18, H, W); with the target z (training)
        also the terms of L_diff (Eq. 15; "s2_wo_dm": the prior L1 alone)."""
        d = self.lpenet_dm(self.am_dm(F.pixel_unshuffle(x, MULTIPLE))[0])
        if self.diffusion is None:
            return d, ({} if target is None else {"prior": F.l1_loss(d, target)})
        if target is None:  # inference [L155]: from pure Gaussian noise
            g = torch.Generator(device=d.device).manual_seed(self.seed)
            z_T = torch.randn(d.shape, generator=g, device=d.device)
            return self.diffusion.sample(z_T, d, self.ddim_steps), {}
        noise = self.diffusion.noise_loss(target, d)
        z_T = self.diffusion.q_sample(target, self.diffusion.total - 1, torch.randn_like(target))  # Eq. 12
        z_hat = self.diffusion.sample(z_T, d, self.ddim_steps)
        return z_hat, {"noise": noise, "prior": F.l1_loss(z_hat, target)}
