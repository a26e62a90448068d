"""Full-frame test scenes; scenes without a label are allowed (qualitative testing)."""

from pathlib import Path

import torch
from torch.utils.data import Dataset

from .inputs import make_input
from .layouts import Layout
from .scene import list_scenes, read_scene


class TestDataset(Dataset):
    """Scenes of ``root`` read on demand. Item: dict(name, input (18, H, W), label (3, H, W) or None,
    has_label)."""

    __test__ = False  # not a pytest test class

    def __init__(self, root: str | Path, layout: Layout, folders: list[Path] | None = None) -> None:
        self.layout = layout
        self.folders = folders if folders is not None else list_scenes(root)

    def __len__(self) -> int:
        return len(self.folders)

    def check(self, require_label: bool = False) -> None:
        """Read every scene once, so that a broken one (files, exposures, label) is reported before any work
        on the others; with ``require_label`` every scene must have its label."""
        for folder in self.folders:
            read_scene(folder, self.layout, require_label=require_label)

    def __getitem__(self, index: int) -> dict:
        scene = read_scene(self.folders[index], self.layout, require_label=False)
        label = None if scene.label is None else torch.from_numpy(scene.label.transpose(2, 0, 1).copy())
        return {
            "name": scene.name,
            "input": torch.from_numpy(make_input(scene.ldrs, scene.exposure_times)),
            "label": label,
            "has_label": label is not None,
        }
