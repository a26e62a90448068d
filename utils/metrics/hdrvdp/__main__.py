"""Score saved predictions with HDR-VDP-2 (2.2.1), as the MATLAB reference would.

    python -m utils.metrics.hdrvdp results/kal ../data/Kal/Test/Test-set --recipe sctnet
    python -m utils.metrics.hdrvdp pred.hdr label.hdr --ppd 30

PRED and LABEL are two .hdr/.exr files, or two folders: each prediction PRED/<name>.hdr (or .exr) is
scored against LABEL/<name>.hdr, LABEL/<name>.exr or LABEL/<name>/<--label_name> (a dataset's scene
folders). Prints Q per prediction and the mean; --csv writes them.
"""

import argparse
import csv
import sys
from pathlib import Path

from tqdm import tqdm

from utils.cli import run_cli
from utils.errors import UserError
from utils.hdr_io import HDR_EXTENSIONS

from .recipes import RECIPES, VERSION, score_files


def pairs(pred: Path, label: Path, label_name: str) -> list[tuple[str, Path, Path]]:
    """(name, prediction, label) for two files or two folders; a prediction without a label is an error."""
    if pred.is_file() and label.is_file():
        return [(pred.stem, pred, label)]
    for path in (pred, label):
        if not path.exists():
            raise UserError(f"{path}: not found")
    if not (pred.is_dir() and label.is_dir()):
        raise UserError(f"{pred}, {label}: give two files or two folders")
    found = []
    for p in sorted(f for f in pred.iterdir() if f.suffix.lower() in HDR_EXTENSIONS):
        candidates = [label / f"{p.stem}{ext}" for ext in HDR_EXTENSIONS] + [label / p.stem / label_name]
        match = next((c for c in candidates if c.is_file()), None)
        if match is None:
            raise UserError(f"{p}: no label for it in {label} (looked for {p.stem}.hdr, {p.stem}.exr, "
                            f"{p.stem}/{label_name})")  # fmt: skip
        found.append((p.stem, p, match))
    if not found:
        raise UserError(f"{pred}: no .hdr or .exr predictions in this folder")
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m utils.metrics.hdrvdp", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("prediction", type=Path, help="a prediction file or a folder of them")
    p.add_argument("label", type=Path, help="its label, or a folder of labels or of scene folders")
    p.add_argument("--recipe", choices=sorted(RECIPES), default="sctnet", help="display model (default: sctnet)")
    p.add_argument("--ppd", type=float, default=None, help="pixels per degree, instead of the recipe's")
    p.add_argument("--label_name", default="HDRImg.hdr", help="label file in a scene folder (default: %(default)s)")
    p.add_argument("--csv", type=Path, default=None, help="also write name,Q rows and the mean here")
    args = p.parse_args(argv)
    found = pairs(args.prediction, args.label, args.label_name)
    rows = []
    for name, pred, label in tqdm(found, desc="HDR-VDP-2", unit="image", disable=len(found) < 2):
        rows.append((name, score_files(pred, label, args.recipe, args.ppd)))
        tqdm.write(f"{name}  Q = {rows[-1][1]:.4f}")
    mean = sum(q for _, q in rows) / len(rows)
    setting = f"ppd {args.ppd}" if args.ppd else f"recipe {args.recipe}"
    print(f"mean Q over {len(rows)}: {mean:.4f}  (HDR-VDP {VERSION}, sRGB-display, {setting})")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["name", "Q"])
            writer.writerows([(n, f"{q:.6f}") for n, q in rows] + [("mean", f"{mean:.6f}")])
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
