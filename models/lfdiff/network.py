"""LF-Diff, "Generating Content for HDR Deghosting from Frequency View" (Hu, Yan, Qi, Zhang; CVPR 2024):
the regression network DHRNet with its head, and the stage-1 model that reads the label's prior.

``[Lnn]`` is line nn of the paper's text; ``U#`` an open choice, each taken once in the table of
``models/lfdiff/README.md``. ``modules.py`` builds the modules, ``attention.py`` the attention inside them.
"""

from torch import Tensor, nn

from ..common import pad_to_multiple
from .modules import AM, FRM, PIM, LPENet, conv3x3

IN_CHANNELS = 18
# Table 3 [L212, L228-L232]: prior the PIMs read; "baseline" has no PIM (each replaced by an FRM)
VARIANTS = {"s1": "gt", "baseline": None}
PAPER_PARAMETERS = {"baseline": 5.09e6, "s1": 5.24e6}
MULTIPLE = 4  # PixelUnshuffle 4 and the PIM's avgpool 4 [L172] (U22)


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
    """LF-Diff's stage-1 networks [L80-L131] (U11 for the head): H_hat = sigmoid(conv3(conv3(DHRNet(F_0, z)
    + F_0) + f_2)) (Eq. 10), F_0 and f_2 from the alignment module AM [L117].

    ``variant`` is a row of Table 3: ``"s1"`` (the first stage: z = LPENet(label), Eq. 6, so ``forward``
    needs the label: an oracle) or ``"baseline"`` (the regression network alone, 12 FRMs, no prior).
    ``frm_depth`` (U27) is the number of RBs at each RB position and of Restormer blocks in each SA
    branch: 2 fits Table 3's counts, 1 is the text's literal reading.

    Input (B, 18, H, W) as the repository's other networks (per exposure [ldr**2.2/t, ldr]), label
    (B, 3, H, W) linear HDR; any H, W (reflect-padded inside to a multiple of 4, cropped back).
    Returns H_hat (B, 3, H, W) in (0, 1).
    """

    NAME = "lfdiff"
    MULTI_OUTPUT = False
    TEST_PAD = MULTIPLE  # the test protocol pads only what the network needs (U22): its attention is global
    grad_checkpoint: bool = False

    def __init__(self, variant: str = "s1", frm_depth: int = 2, c: int = 60) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
        if frm_depth not in (1, 2):
            raise ValueError(f"frm_depth must be 1 or 2, got {frm_depth}")
        self.config = dict(variant=variant, frm_depth=frm_depth, c=c)
        self.am = AM(IN_CHANNELS // 3, c)
        self.lpenet = LPENet() if VARIANTS[variant] == "gt" else None
        self.dhrnet = DHRNet(c, depth=frm_depth, prior=self.lpenet is not None)
        self.conv_body = conv3x3(c, c)
        self.conv_out = conv3x3(c, 3)

    @property
    def needs_label(self) -> bool:
        """True when the prior is read from the label (stage 1): the oracle, not a deployable model."""
        return self.lpenet is not None

    def forward(self, x: Tensor, label: Tensor | None = None) -> Tensor:
        if x.ndim != 4 or x.shape[1] != IN_CHANNELS:
            raise ValueError(
                f"LF-Diff expects a (B, {IN_CHANNELS}, H, W) input (per exposure [ldr**2.2/t, ldr]), "
                f"got shape {tuple(x.shape)}"
            )
        if self.needs_label and label is None:
            raise ValueError("LF-Diff stage 1 (variant 's1') reads its prior from the label: call model(x, label)")
        h, w = x.shape[-2:]
        f_0, f_2 = self.am(pad_to_multiple(x, MULTIPLE))
        z = self.lpenet(pad_to_multiple(label, MULTIPLE)) if self.needs_label else None
        r = self.conv_body(self.dhrnet(f_0, z) + f_0)
        return self.conv_out(r + f_2).sigmoid()[..., :h, :w]
