"""Kalantari / Hu / Tel presets: folder names and file names of the published layouts."""

import argparse
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Layout:
    """Where a dataset keeps its splits and how a scene folder names its files."""

    name: str
    dataset_dir: str
    train_path: str
    test_path: str
    ldr_prefix: str
    exposure_file_name: str
    label_file_name: str

    def scene_name(self, index: int) -> str:
        """Folder name of the index-th (0-based) scene in this dataset's style."""
        if self.name == "tel":
            return f"scene_{index // 3 + 1:04d}_{index % 3 + 1}"
        return f"{index + 1:03d}"

    def ldr_file_names(self, index: int) -> list[str]:
        """File names of the three exposures of the index-th scene (sorted order = exposure order)."""
        if self.name == "kalantari":
            first = 898 + 3 * index  # camera-style names, e.g. 262A0898.tif
            return [f"262A{first + i:04d}.tif" for i in range(3)]
        suffix = "_aligned" if self.name == "hu" else ""
        return [f"input_{i}{suffix}.tif" for i in (1, 2, 3)]


LAYOUTS = {
    "kalantari": Layout("kalantari", "../data/Kal", "Training", "Test/Test-set", "", "exposure.txt", "HDRImg.hdr"),
    "tel": Layout("tel", "../data/Tel", "Training", "Test", "", "exposure.txt", "HDRImg.hdr"),
    "hu": Layout("hu", "../data/Hu", "Training", "Test", "input", "input_exp.txt", "ref_hdr_aligned_linear.hdr"),
}
FIELDS = ("dataset_dir", "train_path", "test_path", "ldr_prefix", "exposure_file_name", "label_file_name")


def add_dataset_arguments(parser: argparse.ArgumentParser, default: str | None = "kalantari", help: str = "") -> None:
    """--dataset preset plus the official per-dataset arguments, each overriding the preset."""
    g = parser.add_argument_group("dataset (a preset fills these; any of them can be overridden)")
    g.add_argument("--dataset", choices=sorted(LAYOUTS), default=default,
                   help=help or "dataset preset (default: %(default)s)")  # fmt: skip
    for field in FIELDS:
        presets = ", ".join(f"{k}: {getattr(v, field)!r}" for k, v in LAYOUTS.items())
        g.add_argument(f"--{field}", default=None, help=f"preset values: {presets}")


def layout_from_args(args: argparse.Namespace, default: str = "kalantari") -> Layout:
    """The preset named by --dataset (``default`` when none is given) with every explicitly given field replaced."""
    overrides = {f: getattr(args, f) for f in FIELDS if getattr(args, f, None) is not None}
    return replace(LAYOUTS[args.dataset or default], **overrides)
