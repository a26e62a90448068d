"""Make the bundled hand-held bracket (samples/brackets/) and its README figure (readme-img/brackets.png).

    python scripts/make_brackets.py              # the three JPEGs with EXIF, and the ground truth
    python scripts/make_brackets.py --figure     # also: inputs, unaligned merge, merge.py without and
                                                 # with its clip guard, ground truth, a close-up

A scene from the held-out radiance map samples/radiance/chinese_garden.hdr (CC0) with moving objects
(datasets.synthesize), camera shake as a small homography on the short and long frames, a camera with
gamma 2.2 at -2/0/+2 EV (1/400, 1/100, 1/25 s at f/8, ISO 100), saved as JPEGs with EXIF under names
that do not sort by exposure, as a camera numbers its shots.
"""

import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, TiffImagePlugin

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datasets.inputs import make_input  # noqa: E402
from datasets.samples import RADIANCE_DIR, SAMPLES_DIR  # noqa: E402
from datasets.synthesize import SceneSynthesizer, camera  # noqa: E402
from utils.cli import Parser, run_cli  # noqa: E402
from utils.hdr_io import read_hdr, write_hdr  # noqa: E402
from utils.metrics import psnr_l, psnr_mu  # noqa: E402
from utils.tonemap import mu_law_8bit  # noqa: E402

BRACKETS = SAMPLES_DIR / "brackets"
SOURCE = RADIANCE_DIR / "chinese_garden.hdr"
SIZE, SEED = (256, 384), 7
SHOTS = {"IMG_2041.jpg": (1 / 100, 4.0), "IMG_2042.jpg": (1 / 25, 16.0), "IMG_2043.jpg": (1 / 400, 1.0)}
CAMERA = ("AFUNet", "synthetic camera")


def shake(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A hand-held wobble: rotation up to 0.6 degrees, scale 1 +- 0.5%, shift up to 6 px, about the centre."""
    h, w = size
    angle, scale = rng.uniform(-0.6, 0.6), 1 + rng.uniform(-0.005, 0.005)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += rng.uniform(-6, 6, 2)
    return np.vstack([m, [0, 0, 1]])


def exif(exposure_time: float) -> Image.Exif:
    data = Image.Exif()
    data[0x010F], data[0x0110], data[0x0112] = *CAMERA, 1  # Make, Model, Orientation
    ifd = data.get_ifd(0x8769)
    ifd[0x829A] = TiffImagePlugin.IFDRational(1, round(1 / exposure_time))  # ExposureTime
    ifd[0x829D] = TiffImagePlugin.IFDRational(8, 1)  # FNumber
    ifd[0x8827] = 100  # ISOSpeedRatings
    return data


def make_brackets() -> None:
    rng = np.random.default_rng(SEED)
    frames, label, _ = SceneSynthesizer([SOURCE], 0.0).scene(*SIZE, rng)
    BRACKETS.mkdir(parents=True, exist_ok=True)
    for k, (name, (seconds, t)) in enumerate(sorted(SHOTS.items(), key=lambda s: s[1][0])):  # short, ref, long
        radiance = frames[k]
        if k != 1:
            radiance = cv2.warpPerspective(radiance, shake(rng, SIZE), SIZE[::-1], borderMode=cv2.BORDER_REFLECT)
        codes = camera(radiance, t, 10**-4, 10**-3.5, rng)  # 16-bit codes, gamma 2.2
        rgb = np.round(codes.astype(np.float64) / 257).astype(np.uint8)
        Image.fromarray(rgb).save(BRACKETS / name, quality=92, exif=exif(seconds))
        print(f"wrote {BRACKETS / name} ({seconds:.4g} s)")
    write_hdr(BRACKETS / "ground_truth.hdr", label)  # the reference's geometry, the shortest exposure at 1


def clipped_region(folder: Path) -> np.ndarray:
    """Where merge.py's aligned shortest exposure clips, per channel (H, W, 3), as merge.py finds it."""
    from utils.engine import merge as engine
    from utils.engine.clip_guard import CLIPPED

    frames = engine.choose_three(engine.exposures(engine.collect([folder]), None, None))
    engine.load_frames(frames)
    engine.align_frames(frames, "auto")
    return frames[0].ldr >= CLIPPED


def close_up(images: list[np.ndarray], region: np.ndarray) -> np.ndarray:
    """128x64 crops around the clipped region, shown linearly (no tone curve) and enlarged 2x, side by side."""
    ys, xs = np.nonzero(region.any(axis=2)) if region.any() else ([SIZE[0] // 2], [SIZE[1] // 2])
    y = int(np.clip(np.mean(ys) - 64, 0, SIZE[0] - 128))
    x = int(np.clip(np.mean(xs) - 32, 0, SIZE[1] - 64))
    crops = [np.clip(img[y : y + 128, x : x + 64], 0, 1) ** (1 / 2.2) for img in images]
    return np.repeat(np.repeat(np.hstack(crops), 2, axis=0), 2, axis=1)[: SIZE[0], : SIZE[1]]


def make_figure(out: Path) -> None:
    """Inputs (short, reference, long), a triangle merge without alignment, merge.py without and with its
    clip guard, the truth, and a linear close-up of where every photo clipped."""
    import torch

    from merge import main as merge_main
    from models.baselines import ReferenceOnly, TriangleMerge

    shots = sorted(SHOTS.items(), key=lambda s: s[1][0])
    ldrs = np.stack([cv2.cvtColor(cv2.imread(str(BRACKETS / n)), cv2.COLOR_BGR2RGB) / 256.0 for n, _ in shots])
    x = torch.from_numpy(make_input(ldrs.astype(np.float32), np.array([t for _, (_, t) in shots])))[None]
    naive = TriangleMerge()(x)[0].numpy().transpose(1, 2, 0)
    with tempfile.TemporaryDirectory() as tmp:
        merge_main([str(BRACKETS), "--out", str(Path(tmp) / "m.exr"), "--float32"])
        merge_main([str(BRACKETS), "--out", str(Path(tmp) / "raw.exr"), "--float32", "--no_clip_guard"])
        ours, raw = read_hdr(Path(tmp) / "m.exr"), read_hdr(Path(tmp) / "raw.exr")
    truth = read_hdr(BRACKETS / "ground_truth.hdr")
    reference_only = ReferenceOnly()(x)[0].numpy().transpose(1, 2, 0)
    for name, img in (
        ("merge.py (AFUNet)", ours),
        ("merge.py --no_clip_guard", raw),
        ("unaligned triangle merge", naive),
        ("reference only", reference_only),
    ):
        chw = [np.asarray(a, np.float32).transpose(2, 0, 1) for a in (img, truth)]
        print(f"{name}: PSNR-mu {psnr_mu(*chw):.2f} dB, PSNR-l {psnr_l(*chw):.2f} dB against the ground truth")
    region = clipped_region(BRACKETS)
    for name, img in (("merge.py --no_clip_guard", raw), ("merge.py (AFUNet)", ours)):
        v = img[region]
        print(f"{name}: where the shortest exposure clips ({region.any(axis=2).sum()} px), mean {v.mean():.3f} "
              f"and 10th percentile {np.percentile(v, 10):.3f} of the clipping level")  # fmt: skip
    tiles = [*ldrs, mu_law_8bit(naive), mu_law_8bit(raw), mu_law_8bit(ours), mu_law_8bit(truth),
             close_up([raw, ours, truth], region)]  # fmt: skip
    titles = ["short (-2 EV)", "reference", "long (+2 EV)", "unaligned merge", "--no_clip_guard",
              "merge.py (AFUNet)", "ground truth", "linear: before|after|truth"]  # fmt: skip
    panels = []
    for img, title in zip(tiles, titles):
        panel = np.ascontiguousarray((np.clip(img, 0, 1) * 255).astype(np.uint8)[:, :, ::-1])
        cv2.putText(panel, title, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
        panels.append(panel)
    grid = np.vstack([np.hstack(panels[:4]), np.hstack(panels[4:])])
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), grid)
    print(f"wrote {out}")


def main(argv: list[str] | None = None) -> int:
    p = Parser(__doc__)
    p.add_argument("--figure", action="store_true", help="also draw readme-img/brackets.png")
    p.add_argument("--figure_only", action="store_true", help="only the figure, from the bundled brackets")
    args = p.parse_args(argv)
    if not args.figure_only:
        make_brackets()
    if args.figure or args.figure_only:
        make_figure(ROOT / "readme-img" / "brackets.png")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
