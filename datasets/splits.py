"""The training, validation and test sets that train.py's arguments name."""

from pathlib import Path
from typing import Any

from utils.errors import UserError

from .layouts import layout_from_args
from .scene import list_scenes
from .testing import TestDataset
from .training import TrainingDataset


def datasets_from_args(args: Any) -> tuple[TrainingDataset, TestDataset | None, TestDataset | None]:
    """The training scenes (without the --val_scenes held out), the validation and the test sets."""
    layout = layout_from_args(args)
    train_root = Path(layout.dataset_dir) / layout.train_path
    folders = list_scenes(train_root)
    val_folders = list_scenes(args.val_path) if args.val_path else []
    if args.val_scenes:
        if args.val_scenes >= len(folders):
            raise UserError(f"--val_scenes {args.val_scenes}: {train_root} has only {len(folders)} scenes")
        folders, val_folders = folders[: -args.val_scenes], folders[-args.val_scenes :]
    val_set = TestDataset(None, layout, val_folders) if val_folders else None
    test_set = TestDataset(Path(layout.dataset_dir) / layout.test_path, layout) if args.eval_test_every else None
    data = TrainingDataset(train_root, layout, args.patch_size, args.repeat, args.augmentation, args.seed, folders)
    return data, val_set, test_set
