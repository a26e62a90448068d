"""STHDR, "Scale-aware Two-stage High Dynamic Range Imaging" (Li, Yao, Xie, Wang; AAAI 2022).

``[Lnn]`` is line nn of the paper's text. The paper publishes no code and its Figures 2-5 survive only as
captions, so the layers below the module level are choices; each is listed here once, with the reason
and, where it matters, the constructor switch for the alternative. ``models/sthdr_parts.py`` builds the
parts, this file the network.

| #   | open choice                     | taken                                                      | why / switch |
|-----|---------------------------------|------------------------------------------------------------|--------------|
| U1  | channel order in X_i [L52]      | repository order [H_i, I_i]                                | no checkpoint exists to match |
| U2  | "all convolution layers are 32" | base width 32, U-Net widths 32/64/128                      | constant 32 cannot reach the parameter counts of Table 4 |
| U3  | the three input sizes [L73]     | bilinear x1/2, x1/4 of the 18-channel input                | FLOPs of Table 4 grow by 1 + 1/4 + 1/16 |
| U4  | "upsampled output of k+1" [L73] | stage-2 decoder feature D2 of the coarser scale            | "feature passing across scales" [L73] |
| U5  | cross-scale fusion [L187]       | concat + 1x1 conv 64->32 + LReLU, one per link             | ``cross_kernel=3``: 3x3 (fits the MS row better) |
| U6  | features before the SCMs        | one lrelu(conv3x3 6->32) shared by the three exposures     | W (32 ch) multiplies X_i [L86] |
| U7  | GCB and W [L86]                 | GCNet attention pooling, C/4 bottleneck, LN, sigmoid gate  | "like channel attention" [L86] |
| U8  | act. after the SCM compress conv| LReLU                                                      | LeakyReLU throughout [L107] |
| U9  | deformable conv [L86]           | DCNv2 3x3, 1 group, offsets and mask from Y, zero-init     | parameter count of SCM_SS - SS |
| U10 | SCM residual [L84, L86]         | AF_i = F_2 + lrelu(conv(D))                                | "add these details into original reference" |
| U11 | Align Net fusion [L77]          | 1x1 conv 96->32 + LReLU on (AF_1, F_2, AF_3)               | "compress channels for a cheaper computation" |
| U12 | head and range [L98]            | sigmoid(conv3x3 32->3)                                     | "keep H in a range of [0, 1]" |
| U13 | U-Net topology [L185]           | 3 levels, 1 HIBlock each, HIN in the encoder, 3x3 skips    | HINet layout, parameter counts |
| U14 | resampling in the U-Net         | conv3x3 stride 2 down; bilinear x2 + conv3x3 up            | only 3x3 and 1x1 kernels [L107] |
| U15 | SAM; stage-1 supervision        | MPRNet SAM onto H_2; no loss on H_s1                       | Eq. 5 sums over scales only; ``stage1_loss=True`` adds it |
| U16 | stage-2 input [L73 vs L90]      | 1x1 conv of cat(Z, S)                                      | [L73] "combined with output of Align Net" |
| U17 | cross-stage feature fusion      | HINet CSFF: stage-2 e0, e1 add conv3x3 of stage-1 enc, dec | HINet/MPRNet lineage [L90] |
| U18 | slope, biases, init             | LReLU 0.2, biases but on stride-2 convs, PyTorch init      | HINet's relu_slope |
| U19 | coarse labels [L98]             | bilinear x1/2 of the linear label, then mu-law             | same operation as the inputs (utils/pyramid) |
| U20 | loss reduction [L98]            | mean per scale, summed over scales                         | "average absolute distance" |
| U21 | "max epoch as 80000" [L107]     | 80,000 x 74 = 5.92 M crops: --recipe sthdr (800 x 100/scene)| one crop per scene per epoch: 400,000 iterations, HINet's length |
| U22 | fine-tuning [L107]              | 20,000 iterations, cosine 1e-4 -> 1e-6, fresh Adam         | --recipe sthdr_finetune with --init_weights |
| U23 | augmentation [L113]             | 8 flips and rotations (--augmentation paper)               | "flip and rotation" |
| U24 | test input handling [L220]      | full frame, reflect-padded, cropped back (test.py)         | the repository's protocol for every network |
| U25 | HDR-VDP-2 [L148]                | test.py --hdrvdp on linear HDR, recipe reported            | comparable with the other networks' columns |
| U26 | IL-NIQE (Table 2)               | not computed                                               | no-reference metric outside this repository's tables |
| U27 | FLOPs and runtime               | scripts/benchmark.py --model sthdr (MACs at 256^2)         | Table 4's FLOPs fit 256^2 inputs |
| U28 | validation                      | none by default; train.py --val_scenes                     | not stated |
| U29 | Hu and Tel datasets             | same recipe                                                | the paper tests on Kalantari only [L113] |
| U30 | precision, seed                 | float32, the repository seed; --amp bf16 allowed           | the DCN samples in float32 under autocast |
| U31 | HIN at test time                | per-image statistics                                       | as HINet; full frames differ from crops |
| U32 | input conv without Align Net    | lrelu(conv3x3 18->32), shared over scales                  | "some convolution are shared" [L187] |
| U33 | output at inference [L73]       | the finest scale                                           | the coarser ones only guide it |
"""

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from utils.pyramid import down2, up2

from .common import pad_to_multiple
from .sthdr_parts import SAM, AlignNet, UNetStage, conv3x3, lrelu

IN_CHANNELS = 18
REFERENCE_HDR = slice(6, 9)  # H_2, the reference exposure's linear image (datasets/inputs.py)
# Table 4 ablations [L183-L189]: (scales, Merge Net stages, Align Net)
VARIANTS = {"SCM_MS": (3, 2, True), "SCM_SS": (1, 2, True), "MS": (3, 2, False), "SS": (1, 2, False),
            "HSS": (1, 1, False)}  # fmt: skip
PAPER_PARAMETERS = {"SCM_MS": 1.5641e6, "SCM_SS": 1.5514e6, "MS": 1.4598e6, "SS": 1.4195e6, "HSS": 0.6793e6}


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
    halves it twice down to 2x2 or more (three scales: a multiple of 16, at least 32), cropped back. Eval mode returns the finest scale (B, 3, H, W) in (0, 1); training mode the list of
    every scale, finest first (B, 3, H / 2^k, W / 2^k), followed with ``stage1_loss`` by each scale's
    stage-1 preliminary HDR.
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
