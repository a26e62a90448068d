"""Synthetic multi-exposure scenes with motion, written in the Kalantari, Hu or Tel layout.

    python -m datasets.synthesize --out DIR --layout kalantari --scenes 8 --seed 0 --size 256x384

A scene is a linear radiance map (a crop of a real HDR image, or procedural content) with moving
textured foreground objects. The reference exposure and the label share one geometry; the short and
long exposures see the objects displaced and the camera slightly shifted. A camera model turns each
frame into a 16-bit LDR: exposure t = 2**EV, shot and read noise, clipping, gamma 2.2, quantisation.
The label is the noise-free radiance as seen at t = 1 (the scale of the network's output).
"""

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from utils.cli import COUNT, FRACTION, POSITIVE_INT, SEED, Parser, number, run_cli
from utils.errors import UserError
from utils.hdr_io import write_hdr, write_ldr16

from .inputs import GAMMA
from .layouts import LAYOUTS, Layout
from .scene import MAX_EV
from .sources import DEFAULT_SOURCES, find_sources, load_radiance, training_sources

EV_LADDERS = ((0.0, 2.0, 4.0), (0.0, 3.0, 6.0))
MARGIN = 40  # pixels rendered around the frame so that shifted content never runs out
CODES = 65535  # 16-bit quantisation: code = round(65535 * ldr); the readers divide by 65536


def smooth_field(h: int, w: int, cells: int, rng: np.random.Generator, channels: int = 1) -> np.ndarray:
    """Gaussian noise on a coarse grid, upsampled bicubically: (h, w, channels)."""
    grid = rng.standard_normal((cells, max(2, cells * w // h), channels)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC).reshape(h, w, channels)


def procedural_radiance(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Log-domain smooth fields, fine texture, stripes and a few light sources: (h, w, 3) radiance."""
    log2 = 1.5 * smooth_field(h, w, 3, rng) + 0.8 * smooth_field(h, w, 12, rng) + 0.3 * smooth_field(h, w, 4, rng, 3)
    log2 += 0.15 * rng.standard_normal((h, w, 1)).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle, period = rng.uniform(0, np.pi), rng.uniform(4, 24)
    stripes = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
    region = smooth_field(h, w, 2, rng)[..., 0] > 0.3
    log2 += (0.7 * stripes * region)[..., None]
    for _ in range(rng.integers(1, 4)):  # light sources several stops above the scene
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.3, 1.0) * max(3.0, 0.08 * min(h, w))
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        log2 += (rng.uniform(5, 9) * blob)[..., None]
    return np.exp2(log2).astype(np.float32)


def resample_radiance(src: np.ndarray, nh: int, nw: int) -> np.ndarray:
    """Resize radiance (h, w, 3) to (nh, nw, 3) without ringing: every output pixel is a weighted mean of
    source pixels with non-negative weights (area averaging to shrink, bilinear to enlarge), so a light
    source 10^5 times its surround leaves no negative lobe (a cubic kernel's) that would become black."""
    shrink = nh * nw < src.shape[0] * src.shape[1]
    return cv2.resize(src, (nw, nh), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def crop_source(src: np.ndarray, h: int, w: int, panorama: bool, rng: np.random.Generator) -> np.ndarray:
    """A random (h, w) crop of a source (finite, non-negative radiance), rescaled at random; panoramas
    are cut near the horizon."""
    sh, sw = src.shape[:2]
    usable_h = 0.6 * sh if panorama else sh
    scale = max(h / usable_h, w / sw, rng.uniform(0.5, 1.0))
    nh, nw = int(np.ceil(sh * scale)), int(np.ceil(sw * scale))
    src = resample_radiance(src, nh, nw)
    lo, hi = (int(0.2 * nh), int(0.8 * nh) - h) if panorama else (0, nh - h)
    y = int(rng.integers(lo, max(lo, hi) + 1))
    x = int(rng.integers(0, nw - w + 1))
    crop = np.maximum(src[y : y + h, x : x + w], 0)
    return crop[:, ::-1] if rng.random() < 0.5 else crop


def normalise(radiance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scale so that the 99.9th luminance percentile sits at 0.5-0.95 of the short exposure's range."""
    lum = radiance.mean(axis=-1)
    ref = np.percentile(lum[lum > 0], 99.9) if np.any(lum > 0) else 1.0
    return radiance * np.float32(rng.uniform(0.5, 0.95) / max(ref, 1e-12))


def object_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A soft-edged random ellipse or polygon, (h, w) in [0, 1]."""
    mask = np.zeros((h, w), np.float32)
    cy, cx = h / 2, w / 2
    if rng.random() < 0.5:
        axes = (int(rng.uniform(0.25, 0.48) * w), int(rng.uniform(0.25, 0.48) * h))
        cv2.ellipse(mask, (int(cx), int(cy)), axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1, cv2.LINE_AA)
    else:
        n = int(rng.integers(3, 8))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = rng.uniform(0.25, 0.48, n) * min(h, w)
        pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], axis=1).astype(np.int32)
        cv2.fillPoly(mask, [pts], 1.0, cv2.LINE_AA)
    return cv2.GaussianBlur(mask, (0, 0), 1.0)


class SceneSynthesizer:
    """Renders the three radiance frames and the label of one scene, then the camera's LDRs."""

    def __init__(self, sources: list[Path], procedural_fraction: float) -> None:
        self.sources, self.procedural_fraction = sources, procedural_fraction

    def content(self, h: int, w: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        """A radiance crop and where it came from."""
        if self.sources and rng.random() >= self.procedural_fraction:
            path = self.sources[int(rng.integers(len(self.sources)))]
            src = load_radiance(path)
            panorama = src.shape[1] >= 1.9 * src.shape[0]
            return crop_source(src, h, w, panorama, rng), str(path)
        return procedural_radiance(h, w, rng), "procedural"

    def scene(self, h: int, w: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """-> radiance frames (3, h, w, 3) (short, reference, long), label (h, w, 3), content origins."""
        big_h, big_w = h + 2 * MARGIN, w + 2 * MARGIN
        background, origin = self.content(big_h, big_w, rng)
        origins = [origin]
        background = normalise(background, rng)
        objects = []
        for _ in range(int(rng.integers(1, 4))):
            oh, ow = (int(rng.uniform(0.25, 0.5) * min(h, w)) for _ in range(2))
            texture, origin = self.content(oh, ow, rng)
            origins.append(origin)
            texture = normalise(texture, rng) * np.float32(2.0 ** rng.uniform(-3, 1))
            pos = np.array([rng.uniform(MARGIN, MARGIN + h - oh), rng.uniform(MARGIN, MARGIN + w - ow)])
            motion = [rng.uniform(4, 30) * _unit(rng) for _ in range(2)]  # frames 1 and 3
            objects.append((texture, object_mask(oh, ow, rng), pos, motion))
        frames = []
        for f in range(3):
            camera = np.zeros(2) if f == 1 else rng.uniform(-3, 3, 2)
            frame = _translate(background, camera)
            for texture, mask, pos, motion in objects:
                offset = pos + camera + (0 if f == 1 else motion[f // 2])
                frame = _composite(frame, texture, mask, offset)
            frames.append(np.clip(frame[MARGIN : MARGIN + h, MARGIN : MARGIN + w], 0, 1))
        return np.stack(frames), frames[1].copy(), origins


def camera(radiance: np.ndarray, t: float, shot: float, read: float, rng: np.random.Generator) -> np.ndarray:
    """Linear radiance at t = 1 -> 16-bit LDR codes: exposure, shot + read noise, clipping, gamma, quantisation."""
    x = radiance * np.float32(t)
    x = x + np.sqrt(shot * np.clip(x, 0, 1) + read**2).astype(np.float32) * rng.standard_normal(x.shape, np.float32)
    ldr = np.power(np.clip(x, 0, 1), np.float32(1 / GAMMA))
    return np.round(ldr * CODES).astype(np.uint16)


def write_scene(folder: Path, layout: Layout, index: int, codes: np.ndarray, ev: tuple, label: np.ndarray) -> None:
    """Write one scene folder in the layout's naming: three 16-bit TIFFs, the exposure file, the label."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, c in zip(layout.ldr_file_names(index), codes):
        write_ldr16(folder / name, c)
    newline = "\r\n" if layout.name == "kalantari" else "\n"  # real Kalantari files use CRLF
    (folder / layout.exposure_file_name).write_bytes("".join(f"{v:.6f}{newline}" for v in ev).encode())
    write_hdr(folder / layout.label_file_name, label)


def synthesize(
    out: Path, layout: Layout, scenes: int, seed: int, size: tuple[int, int], sources: list[Path],
    procedural_fraction: float = 0.2, ev: tuple | None = None, start: int = 0,
) -> list[str]:  # fmt: skip
    """Write ``scenes`` scene folders into ``out`` and append one provenance line per scene to
    out/SOURCES.txt; return those lines."""
    synth = SceneSynthesizer(sources, procedural_fraction)
    lines = []
    for i in tqdm(range(start, start + scenes), desc=f"synthesizing {layout.name} scenes", unit="scene"):
        rng = np.random.default_rng((seed, i))
        frames, label, origins = synth.scene(*size, rng)
        ladder = ev or EV_LADDERS[int(rng.random() < 0.25)]
        shot, read = 10 ** rng.uniform(-4.5, -3.5), 10 ** rng.uniform(-4, -3)
        codes = np.stack([camera(fr, 2.0**e, shot, read, rng) for fr, e in zip(frames, ladder)])
        name = layout.scene_name(i)
        write_scene(out / name, layout, i, codes, ladder, label)
        lines.append(f"{name}\tEV {ladder}\t" + "; ".join(origins))
    with open(out / "SOURCES.txt", "a") as f:
        f.write("".join(line + "\n" for line in lines))
    return lines


def _unit(rng: np.random.Generator) -> np.ndarray:
    a = rng.uniform(0, 2 * np.pi)
    return np.array([np.sin(a), np.cos(a)])


def _translate(img: np.ndarray, dyx: np.ndarray) -> np.ndarray:
    m = np.float32([[1, 0, dyx[1]], [0, 1, dyx[0]]])
    return cv2.warpAffine(img, m, img.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _composite(frame: np.ndarray, texture: np.ndarray, mask: np.ndarray, yx: np.ndarray) -> np.ndarray:
    """Paste texture with alpha mask at sub-pixel top-left yx into frame."""
    h, w = frame.shape[:2]
    m = np.float32([[1, 0, yx[1]], [0, 1, yx[0]]])
    alpha = cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    tex = cv2.warpAffine(texture, m, (w, h), flags=cv2.INTER_LINEAR)
    return frame * (1 - alpha) + tex * alpha


def parse_size(text: str) -> tuple[int, int]:
    """'256x384' -> (256, 384) = (height, width)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 256x384 (HxW), got {text!r}") from None
    if h < 16 or w < 16:
        raise argparse.ArgumentTypeError(f"size must be at least 16x16, got {text!r}")
    return h, w


def main(argv: list[str] | None = None) -> int:
    p = Parser(__doc__.split("\n\n")[0], prog="python -m datasets.synthesize")
    p.add_argument("--out", type=Path, required=True, help="folder that receives the scene folders")
    p.add_argument("--layout", choices=sorted(LAYOUTS), default="kalantari", help="file naming (default: %(default)s)")
    p.add_argument("--scenes", type=POSITIVE_INT, default=8, help="number of scenes (default: %(default)s)")
    p.add_argument("--seed", type=SEED, default=0, help="random seed; same seed, same scenes (default: %(default)s)")
    p.add_argument("--start", type=COUNT, default=0, help="index of the first scene (names and seeds follow it)")
    p.add_argument("--size", type=parse_size, default=(256, 384), help="HxW of each scene (default: 256x384)")
    p.add_argument("--source", type=Path, nargs="*", default=None,
                   help=f".hdr/.exr files or folders (default: {DEFAULT_SOURCES} if present, "
                        "without the maps held out for the sample scenes)")  # fmt: skip
    p.add_argument("--procedural", type=FRACTION, default=0.2,
                   help="share of procedural content, 0 to 1 (default: %(default)s)")  # fmt: skip
    p.add_argument("--ev", type=number(float, -MAX_EV, MAX_EV), nargs=3, default=None,
                   help="fixed EV ladder, increasing, e.g. 0 2 4 (default: random)")  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help="replace scene folders that exist (default: refuse)")
    args = p.parse_args(argv)
    if args.ev and not args.ev[0] < args.ev[1] < args.ev[2]:
        p.error(f"--ev {' '.join(f'{v:g}' for v in args.ev)}: the ladder must increase (short, reference, long)")
    layout = LAYOUTS[args.layout]
    exists = [(args.out / layout.scene_name(i)).exists() for i in range(args.start, args.start + args.scenes)]
    if any(exists) and not args.overwrite:
        free = args.start
        while any((args.out / layout.scene_name(i)).exists() for i in range(free, free + args.scenes)):
            free += 1
        raise UserError(f"{args.out} already holds scene {layout.scene_name(args.start + exists.index(True))} "
                        f"(of the {args.scenes} asked for): add new ones with --start {free}, or pass --overwrite "
                        f"to replace them")  # fmt: skip
    sources = find_sources(args.source) if args.source is not None else training_sources()
    lines = synthesize(args.out, layout, args.scenes, args.seed, args.size, sources,
                       args.procedural, tuple(args.ev) if args.ev else None, args.start)  # fmt: skip
    print(f"wrote {len(lines)} {args.layout} scenes to {args.out} ({len(sources)} radiance maps available)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
