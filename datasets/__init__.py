"""Scene readers, dataset presets, training and test datasets, and the synthetic scene generator."""

from .inputs import make_input
from .layouts import LAYOUTS, Layout
from .scene import Scene, list_scenes, read_scene
from .testing import TestDataset
from .training import TrainingDataset

__all__ = [
    "LAYOUTS", "Layout", "Scene", "TestDataset", "TrainingDataset", "list_scenes", "make_input",
    "read_scene",
]  # fmt: skip
