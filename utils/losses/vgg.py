"""VGG-19 feature extractor in plain torch.nn with torchvision's parameter names (features.N.*)."""

from pathlib import Path

import torch
from torch import nn

from ..checkpoint import read_checkpoint
from ..errors import CheckpointError, UserError, first_line

# torchvision's published ImageNet VGG-19 weights
VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
VGG19_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512]
# relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 = outputs of features[1, 6, 11, 20, 29]
PERCEPTUAL_LAYERS = (1, 6, 11, 20, 29)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class VGGWeightsUnavailable(UserError):
    """The ImageNet VGG-19 weights could be neither read nor downloaded."""


class VGG19Features(nn.Module):
    """Frozen VGG-19 ``features`` up to relu5_1; returns the activations of PERCEPTUAL_LAYERS."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for v in VGG19_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c_in, v, 3, padding=1), nn.ReLU(inplace=False)]
                c_in = v
        self.features = nn.Sequential(*layers[: max(PERCEPTUAL_LAYERS) + 1])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) in [0, 1] -> ImageNet-normalised features at relu1_1 ... relu5_1."""
        x = (x - self.mean) / self.std
        feats = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in PERCEPTUAL_LAYERS:
                feats.append(x)
        return feats

    def load_imagenet(self, path: str | Path | None = None) -> "VGG19Features":
        """Load torchvision's ImageNet weights from ``path``, or download them into the torch hub cache."""
        try:
            if path is not None:
                state = read_checkpoint(path)
            else:
                state = torch.hub.load_state_dict_from_url(VGG19_URL, map_location="cpu", progress=True)
        except CheckpointError as e:  # missing or unreadable file: its reason without the repeated path
            raise self.unavailable(path, str(e).removeprefix(f"{path}: ")) from None
        except Exception as e:  # noqa: BLE001 - no network or a broken download: all the same to the user
            raise self.unavailable(f"{VGG19_URL} (download)", first_line(e) or type(e).__name__) from None
        own = self.state_dict()
        missing = [k for k in own if k not in state]
        if missing:
            raise self.unavailable(path, f"not torchvision's VGG-19: {len(missing)} weights missing, e.g. {missing[0]}")
        self.load_state_dict({k: state[k] for k in own}, strict=True)
        return self

    @staticmethod
    def unavailable(where: str | Path | None, why: str) -> VGGWeightsUnavailable:
        """The one-line error for weights that cannot be had, with the ways out."""
        return VGGWeightsUnavailable(
            f"VGG-19 ImageNet weights unavailable from {where} ({why}); the paper's perceptual loss needs them: "
            f"pass --vgg_weights PATH (torchvision's vgg19-dcbb9e9d.pth), or train with --loss fft (official "
            f"recipe) or --loss l1"
        )
