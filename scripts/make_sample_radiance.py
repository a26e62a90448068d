"""Cut the held-out radiance maps that the sample scenes are made from (samples/radiance/).

    python scripts/make_sample_radiance.py --shared ../shared/data/hdr-radiance

Five real HDR images are held out from every training set of this project (the demo checkpoint's
included); crops of them, downscaled where large, ship with the repository under their licences so
that `python test.py` can synthesize the sample scenes on a fresh clone.
"""

import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datasets.samples import RADIANCE_DIR  # noqa: E402
from datasets.sources import HELD_OUT  # noqa: E402
from utils.cli import Parser, run_cli  # noqa: E402
from utils.errors import UserError  # noqa: E402
from utils.hdr_io import read_hdr, write_hdr  # noqa: E402

# held-out file -> (rows as fractions of the height, columns as fractions of the width, scale)
CROPS = {
    "pfstools-gallery/mpi_atrium_3.hdr": ((0.0, 1.0), (0.0, 1.0), 0.6),
    "openexr-images/ScanLines/Desk.exr": ((0.15, 0.85), (0.0, 1.0), 0.75),
    "polyhaven-3d-demo-data/hdri/chinese_garden_1k.hdr": ((0.22, 0.8), (0.35, 0.85), 1.0),
    "polyhaven-drei-assets/hdri/venice_sunset_1k.hdr": ((0.22, 0.8), (0.1, 0.6), 1.0),
    "polyhaven-3d-demo-data/hdri/st_peters_square_night_1k.hdr": ((0.22, 0.8), (0.4, 0.9), 1.0),
}
LICENCES = {
    "openexr-images": "BSD-3-Clause, Copyright (c) 2004 Industrial Light & Magic; see LICENSE-openexr-images",
    "pfstools-gallery": "CC BY 3.0, (c) Rafal Mantiuk, pfstools HDR image gallery "
    "(http://creativecommons.org/licenses/by/3.0/)",
    "polyhaven-3d-demo-data": "CC0 1.0, Poly Haven (polyhaven.com)",
    "polyhaven-drei-assets": "CC0 1.0, Poly Haven (polyhaven.com)",
}


def main(argv: list[str] | None = None) -> int:
    p = Parser(__doc__)
    p.add_argument("--shared", type=Path, default=Path("../shared/data/hdr-radiance"), help="the radiance-map folder")
    args = p.parse_args(argv)
    assert sorted(CROPS) == sorted(HELD_OUT), "CROPS and datasets.sources.HELD_OUT must name the same files"
    RADIANCE_DIR.mkdir(parents=True, exist_ok=True)
    lines = ["# Radiance maps of the sample scenes", "",
             "Crops of real HDR images, held out from every training set of this project. Values are the source's",
             "linear radiance (negatives set to 0), downscaled with area averaging where the scale",
             "is below 1; all narrower than 1.9:1, so the generator treats them as ordinary photographs.", "",
             "| file | source (../shared/data/hdr-radiance/...) | rows, columns kept | scale | licence |",
             "|---|---|---|---|---|"]  # fmt: skip
    for rel, (rows, cols, scale) in CROPS.items():
        src = args.shared / rel
        if not src.is_file():
            raise UserError(f"{src}: held-out radiance map not found")
        img = np.maximum(np.nan_to_num(read_hdr(src)), 0)
        h, w = img.shape[:2]
        img = img[int(rows[0] * h) : int(rows[1] * h), int(cols[0] * w) : int(cols[1] * w)]
        if scale != 1.0:
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        out = RADIANCE_DIR / (Path(rel).stem.removesuffix("_1k") + ".hdr")
        write_hdr(out, img)
        folder = rel.split("/")[0]
        lines.append(f"| {out.name} | {rel} | {rows}, {cols} | {scale} | {LICENCES[folder]} |")
        print(f"wrote {out} ({img.shape[1]}x{img.shape[0]}, {out.stat().st_size / 1e6:.2f} MB)")
    shutil.copy(args.shared / "openexr-images" / "LICENSE", RADIANCE_DIR / "LICENSE-openexr-images")
    (RADIANCE_DIR / "SOURCES.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
