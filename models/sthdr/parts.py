"""The parts of STHDR (AAAI 2022): Align Net with its Spatial Correct Modules, HIBlocks, the encoder-decoder
stage, the Supervised Attention Module. ``[Lnn]`` is line nn of the paper's text; ``U#`` the open choices
of ``models/sthdr/README.md``. Every layer has 32 base channels, 3x3 or 1x1 kernels and LeakyReLU [L107].
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from utils.pyramid import up2

from .deform import ModulatedDeformConv

SLOPE = 0.2  # LeakyReLU negative slope, HINet's relu_slope (U18)
EXPOSURE_CHANNELS = 6  # X_i = {I_i, H_i} [L52], in the repository order [H_i, L_i] (U1)


def conv3x3(c_in: int, c_out: int, stride: int = 1, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride, 1, bias=bias)


def lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, SLOPE)


class GCBGate(nn.Module):
    """W = GCB(X) of the SCM [L86]: GCNet's global context block (Cao et al. 2019) as a channel gate (U7).

    Attention pooling c = sum_j softmax(w_k X)_j X_j, transform t = W_v2 ReLU(LN(W_v1 c)) with a C/4
    bottleneck, W = sigmoid(t): (B, C, H, W) -> (B, C, 1, 1) in (0, 1), "an importance estimate value for
    feature of each channel" [L86].
    """

    def __init__(self, channels: int, ratio: int = 4) -> None:
        super().__init__()
        hidden = channels // ratio
        self.mask = nn.Conv2d(channels, 1, 1)
        self.transform = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.LayerNorm([hidden, 1, 1]), nn.ReLU(), nn.Conv2d(hidden, channels, 1)
        )

    def attention(self, x: Tensor) -> Tensor:
        """Spatial softmax of the context mask: (B, C, H, W) -> (B, 1, H*W), summing to 1 over H*W."""
        return self.mask(x).flatten(2).softmax(dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        context = torch.einsum("bn,bcn->bc", self.attention(x)[:, 0], x.flatten(2))[..., None, None]
        return torch.sigmoid(self.transform(context))


class SCM(nn.Module):
    """Spatial Correct Module, Fig. 4 [L79-L86]: aligns F_i to the reference F_2 in feature space.

    X = lrelu(conv(F_i, F_2)); W = GCB(X); F_i' = F_i * W; Y = lrelu(conv({F_2, F_i'})); D = DCN(Y);
    AF_i = F_2 + lrelu(conv(D)) (the skip connection of the last convolution, U10). (B, 32, h, w) each.
    """

    def __init__(self, c: int = 32) -> None:
        super().__init__()
        self.combine = conv3x3(2 * c, c)  # Fig. 5(a) [L122]
        self.gcb = GCBGate(c)
        self.compress = conv3x3(2 * c, c)  # Fig. 5(b), U8
        self.dcn = ModulatedDeformConv(c, c)  # Fig. 5(c), U9
        self.last = conv3x3(c, c)  # Fig. 5(d)

    def forward(self, f_i: Tensor, f_2: Tensor) -> Tensor:
        x = lrelu(self.combine(torch.cat([f_i, f_2], dim=1)))
        f_i = f_i * self.gcb(x)
        y = lrelu(self.compress(torch.cat([f_2, f_i], dim=1)))
        return f_2 + lrelu(self.last(self.dcn(y)))


class AlignNet(nn.Module):
    """Align Net, Fig. 3 [L65, L77]: "two SCM and two Convolutions". F_i = lrelu(conv(X_i)) with one conv
    shared by the exposures (U6); AF_1 = SCM_1(F_1, F_2), AF_3 = SCM_3(F_3, F_2);
    Z = lrelu(conv1x1(AF_1, F_2, AF_3)) (U11). (B, 18, h, w) -> Z (B, 32, h, w).
    """

    def __init__(self, c: int = 32) -> None:
        super().__init__()
        self.shallow = conv3x3(EXPOSURE_CHANNELS, c)
        self.scm1, self.scm3 = SCM(c), SCM(c)
        self.fuse = nn.Conv2d(3 * c, c, 1)

    def forward(self, x: Tensor) -> Tensor:
        f_1, f_2, f_3 = (lrelu(self.shallow(x_i)) for x_i in x.split(EXPOSURE_CHANNELS, dim=1))
        af_1, af_3 = self.scm1(f_1, f_2), self.scm3(f_3, f_2)
        return lrelu(self.fuse(torch.cat([af_1, f_2, af_3], dim=1)))


class HIBlock(nn.Module):
    """Half Instance Normalization block of HINet (Chen et al. 2021) [L90, L185]: conv3x3, instance norm of
    the first half of the channels (``hin``), lrelu, conv3x3, lrelu, plus a 1x1 identity conv. With
    ``csff``, cross-stage feature fusion adds conv3x3 of the previous stage's encoder and decoder features
    at this level (U17). (B, c_in, h, w) -> (B, c_out, h, w).
    """

    def __init__(self, c_in: int, c_out: int, hin: bool, csff: bool = False) -> None:
        super().__init__()
        self.conv1, self.conv2 = conv3x3(c_in, c_out), conv3x3(c_out, c_out)
        self.identity = nn.Conv2d(c_in, c_out, 1)
        self.norm = nn.InstanceNorm2d(c_out // 2, affine=True) if hin else None
        if csff:
            self.csff_enc, self.csff_dec = conv3x3(c_out, c_out), conv3x3(c_out, c_out)

    def forward(self, x: Tensor, enc: Tensor | None = None, dec: Tensor | None = None) -> Tensor:
        y = self.conv1(x)
        if self.norm is not None:
            y_1, y_2 = y.chunk(2, dim=1)
            y = torch.cat([self.norm(y_1), y_2], dim=1)
        y = lrelu(self.conv2(lrelu(y))) + self.identity(x)
        if enc is not None:
            y = y + self.csff_enc(enc) + self.csff_dec(dec)
        return y


class UpBlock(nn.Module):
    """Decoder level (U13, U14): bilinear x2 + conv3x3 of the coarser feature, conv3x3 of the skip, concat,
    HIBlock without HIN."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.up, self.skip = conv3x3(c_in, c_out), conv3x3(c_out, c_out)
        self.block = HIBlock(2 * c_out, c_out, hin=False)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        return self.block(torch.cat([self.up(up2(x)), self.skip(skip)], dim=1))


class UNetStage(nn.Module):
    """One encoder-decoder stage of the Merge Net [L90], "a simple UNet with HIBlocks" [L185]: widths
    c, 2c, 4c over 3 levels, HIN in the encoder, stride-2 conv3x3 down (U13, U14). ``csff`` makes it the
    second stage, fed the first stage's features. (B, c, h, w) -> (D (B, c, h, w), encoder, decoder).
    """

    def __init__(self, c: int = 32, csff: bool = False) -> None:
        super().__init__()
        self.enc = nn.ModuleList(
            [HIBlock(c, c, True, csff), HIBlock(c, 2 * c, True, csff), HIBlock(2 * c, 4 * c, True)]
        )
        self.down = nn.ModuleList([conv3x3(c, c, 2, bias=False), conv3x3(2 * c, 2 * c, 2, bias=False)])
        self.dec = nn.ModuleList([UpBlock(2 * c, c), UpBlock(4 * c, 2 * c)])

    def forward(
        self, z: Tensor, enc1: tuple[Tensor, ...] | None = None, dec1: tuple[Tensor, ...] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
        e0 = self.enc[0](z, *((enc1[0], dec1[0]) if enc1 else ()))
        e1 = self.enc[1](self.down[0](e0), *((enc1[1], dec1[1]) if enc1 else ()))
        e2 = self.enc[2](self.down[1](e1))
        d1 = self.dec[1](e2, e1)
        d0 = self.dec[0](d1, e0)
        return d0, (e0, e1), (d0, d1)


class SAM(nn.Module):
    """Supervised Attention Module of MPRNet (Zamir et al. 2021) joining the two stages [L60, L73, L90]:
    the preliminary HDR H_s1 = conv(D1) + H_2 and the SAM feature S = conv(D1) * sigmoid(conv(H_s1)) + D1
    (U15). D1 (B, c, h, w), H_2 (B, 3, h, w) -> (S (B, c, h, w), H_s1 (B, 3, h, w)).
    """

    def __init__(self, c: int = 32) -> None:
        super().__init__()
        self.feature, self.image, self.attend = conv3x3(c, c), conv3x3(c, 3), conv3x3(3, c)

    def forward(self, d1: Tensor, h_2: Tensor) -> tuple[Tensor, Tensor]:
        h_s1 = self.image(d1) + h_2
        return self.feature(d1) * torch.sigmoid(self.attend(h_s1)) + d1, h_s1
