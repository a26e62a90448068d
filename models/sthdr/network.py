"""STHDR, "Scale-aware Two-stage High Dynamic Range Imaging" (Li, Yao, Xie, Wang; AAAI 2022): the network.

``[Lnn]`` is line nn of the paper's text; ``U#`` an open choice, each taken once in the table of
``models/sthdr/README.md`` (choice, reason, switch). ``parts.py`` builds the parts, this file the network.
"""

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from utils.pyramid import down2, up2

from ..common import pad_to_multiple
from .parts import SAM, AlignNet, UNetStage, conv3x3, lrelu

IN_CHANNELS = 18
REFERENCE_HDR = slice(6, 9)  # H_2, the reference exposure's linear image (datasets/inputs.py)
# Table 4 ablations [L183-L189]: (scales, Merge Net stages, Align Net)
VARIANTS = {"SCM_MS": (3, 2, True), "SCM_SS": (1, 2, True), "MS": (3, 2, False), "SS": (1, 2, False),
            "HSS": (1, 1, False)}  # fmt: skip
PAPER_PARAMETERS = {"SCM_MS": 1.5641e6, "SCM_SS": 1.5514e6, "MS": 1.4598e6, "SS": 1.4195e6, "HSS": 0.6793e6}
# Table 4's "FLOPs(G)" [L212-L216]: multiply-accumulates of a 256x256 input (U27), though [L220] says 512x512
PAPER_GMACS = {"SCM_MS": 48.1668, "SCM_SS": 36.7321, "MS": 37.1876, "SS": 27.2021, "HSS": 13.4207}
PAPER_GMACS_SIZE = 256


class MergeNet(nn.Module):
    """Two-stage Merge Net [L60, L90]: stage 1 (encoder-decoder of HIBlocks) -> SAM -> stage 2 fed
    1x1 conv(cat(Z, S)) and stage 1's features (U16, U17) -> head sigmoid(conv3x3) (U12). With one stage
    (HSS, [L185]) the head reads stage 1. Z (B, 32, h, w), H_2 (B, 3, h, w) -> (H_hat, D, H_s1 or None).
    """

    def __init__(self, c: int = 32, stages: int = 2) -> None:
        super().__init__()
        self.stage1 = UNetStage(c)
        if stages == 2:
            self.sam = SAM(c)
            self.cat12 = nn.Conv2d(2 * c, c, 1)
            self.stage2 = UNetStage(c, csff=True)
        self.head = conv3x3(c, 3)

    def forward(self, z: Tensor, h_2: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        d, enc1, dec1 = self.stage1(z)
        h_s1 = None
        if hasattr(self, "stage2"):
            s, h_s1 = self.sam(d, h_2)
            d = self.stage2(self.cat12(torch.cat([z, s], dim=1)), enc1, dec1)[0]
        return torch.sigmoid(self.head(d)), d, h_s1


class STHDR(nn.Module):
    """STHDR (AAAI 2022), Fig. 2 [L60, L73]: at each of 3 scales (1, 1/2, 1/4) the Align Net and the
    two-stage Merge Net, weights shared across scales [L189]; coarsest first, each coarser scale's
    stage-2 feature upsampled and fused into the next finer scale's Z (U4, U5).

    ``variant`` is a row of Table 4: ``"SCM_MS"`` (the full model), ``"SCM_SS"``, ``"MS"``, ``"SS"``,
    ``"HSS"``. Input (B, 18, H, W) as AFUNet's, any H, W: reflect-padded inside so that every scale's U-Net
    halves it twice down to 2x2 or more (three scales: a multiple of 16, at least 32), cropped back. Eval
    mode returns the finest scale (B, 3, H, W) in (0, 1); training mode the list of every scale, finest
    first (B, 3, H / 2^k, W / 2^k), followed with ``stage1_loss`` by each scale's stage-1 preliminary HDR.
    """

    NAME = "sthdr"
    MULTI_OUTPUT = True  # training mode returns a list (one image per scale): trained with --loss multiscale
    grad_checkpoint: bool = False

    def __init__(self, variant: str = "SCM_MS", cross_kernel: int = 1, stage1_loss: bool = False, c: int = 32):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
        if cross_kernel not in (1, 3):
            raise ValueError(f"cross_kernel must be 1 or 3, got {cross_kernel}")
        self.scales, stages, align = VARIANTS[variant]
        if stage1_loss and stages == 1:
            raise ValueError(f"stage1_loss needs the two-stage Merge Net; {variant} has one stage")
        self.config = dict(variant=variant, cross_kernel=cross_kernel, stage1_loss=stage1_loss, c=c)
        self.stage1_loss = stage1_loss
        self.align = AlignNet(c) if align else None
        if not align:
            self.input_conv = conv3x3(IN_CHANNELS, c)  # U32
        # cross[k] fuses into scale k (0 = full resolution); one per link, not shared (U5)
        self.cross = nn.ModuleList(
            nn.Conv2d(2 * c, c, cross_kernel, padding=cross_kernel // 2) for _ in range(self.scales - 1)
        )
        self.merge = MergeNet(c, stages)

    def forward(self, x: Tensor) -> Tensor | list[Tensor]:
        if x.ndim != 4 or x.shape[1] != IN_CHANNELS:
            raise ValueError(
                f"STHDR expects a (B, {IN_CHANNELS}, H, W) input (per exposure [ldr**2.2/t, ldr]), "
                f"got shape {tuple(x.shape)}"
            )
        sizes = [tuple(x.shape[-2:])]
        for _ in range(self.scales - 1):
            sizes.append((sizes[-1][0] // 2, sizes[-1][1] // 2))
        multiple = 4 * 2 ** (self.scales - 1)  # two U-Net halvings at the coarsest scale, at least 2x2 there
        pyramid = [pad_to_multiple(x, multiple, minimum=2 * multiple)]
        for _ in range(self.scales - 1):
            pyramid.append(down2(pyramid[-1]))
        outputs, stage1, g = [None] * self.scales, [None] * self.scales, None
        for k in reversed(range(self.scales)):
            if self.grad_checkpoint and torch.is_grad_enabled():
                outputs[k], g, stage1[k] = checkpoint(self.scale, pyramid[k], g, k, use_reentrant=False)
            else:
                outputs[k], g, stage1[k] = self.scale(pyramid[k], g, k)
        crop = [img[:, :, :h, :w] for img, (h, w) in zip(outputs, sizes)]
        if not self.training:
            return crop[0]
        if self.stage1_loss:
            crop += [img[:, :, :h, :w].clamp_min(0) for img, (h, w) in zip(stage1, sizes)]
        return crop

    def scale(self, x_k: Tensor, g: Tensor | None, k: int) -> tuple[Tensor, Tensor, Tensor | None]:
        """Scale k: Z = AlignNet(X^k) (or the input conv), fused with up2(G^{k+1}), through the Merge Net."""
        z = self.align(x_k) if self.align is not None else lrelu(self.input_conv(x_k))
        if g is not None:
            z = lrelu(self.cross[k](torch.cat([z, up2(g)], dim=1)))
        return self.merge(z, x_k[:, REFERENCE_HDR])
