"""merge.py's work: three photos of a bracket -> exposures from EXIF, the network's LDR domain, alignment
to the reference, AFUNet (one pass, or tiles for large images), a linear HDR file and a preview."""

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from datasets.inputs import GAMMA, make_input
from models import DEMO_WEIGHTS, load_model, needs_label, set_sampling
from utils import align
from utils.checkpoint import check_writable
from utils.device import is_out_of_memory, resolve_device, set_tf32
from utils.errors import UserError, require_finite
from utils.hdr_io import write_hdr, write_png
from utils.photos import PHOTO_EXTENSIONS, PhotoInfo, read_info, read_photo
from utils.tonemap import mu_law_8bit

from .clip_guard import clipped_fraction, guard_clipped
from .inference import predict_full, predict_tiled

ROOT = Path(__file__).resolve().parents[2]
OFFICIAL, DEMO = ROOT / "pretrain_model" / "Kalantari.pth", DEMO_WEIGHTS["afunet"]
OUTPUT_EXTENSIONS, PREVIEW_EXTENSIONS = (".exr", ".hdr"), (".jpg", ".jpeg", ".png")
AUTO_TILE_PIXELS, AUTO_TILE, MIN_TILE = 3_000_000, 1024, 128
BLACK = 0.01


@dataclass
class Frame:
    """One photo of the bracket: its EXIF, relative exposure, EV to the reference, and pixels."""

    info: PhotoInfo
    exposure: float
    ev: float = 0.0
    ldr: np.ndarray | None = None


def warn(message: str) -> None:
    print(f"warning: {message}")


def collect(inputs: list[Path]) -> list[Path]:
    """The photos named, a folder's photos in place of the folder; at least three."""
    paths = []
    for p in inputs:
        if p.is_dir():
            paths += sorted(f for f in p.iterdir() if f.suffix.lower() in PHOTO_EXTENSIONS)
        elif not p.exists():
            raise UserError(f"{p}: file not found")
        else:
            paths.append(p)
    if len(paths) < 3:
        raise UserError(f"need at least three exposures, got {len(paths)}: {', '.join(map(str, paths)) or 'none'}")
    return paths


def exposures(paths: list[Path], ev: list[float] | None, times: list[float] | None) -> list[Frame]:
    """Each photo with its relative exposure: t * ISO / N^2 from EXIF, or 2**EV / the time given."""
    infos = [read_info(p) for p in paths]
    given = ev if ev is not None else times
    if given is not None:
        if len(given) != len(paths):
            flag = "--ev" if ev is not None else "--times"
            raise UserError(
                f"{flag} has {len(given)} values for {len(paths)} photos (one per photo, in the order given)"
            )
        if any(v <= 0 for v in given) and times is not None:
            raise UserError("--times must be positive (seconds)")
        return [Frame(i, 2.0**v if ev is not None else v) for i, v in zip(infos, given)]
    missing = [f"{i.path.name} ({', '.join(i.missing)})" for i in infos if i.missing]
    if missing:
        raise UserError(f"EXIF exposure data missing in {'; '.join(missing)}: give the exposures with --ev "
                        f"(e.g. --ev -2 0 2) or --times")  # fmt: skip
    cameras = {i.camera for i in infos if i.camera}
    if len(cameras) > 1:
        raise UserError("photos from different cameras: " + ", ".join(f"{i.path.name} ({i.camera})" for i in infos))
    return [Frame(i, i.exposure) for i in infos]


def choose_three(frames: list[Frame]) -> list[Frame]:
    """Short to long; the middle one is the reference; from more than three, the nearest to -2/0/+2 EV."""
    frames = sorted(frames, key=lambda f: f.exposure)
    for a, b in zip(frames, frames[1:]):
        if math.isclose(a.exposure, b.exposure, rel_tol=1e-3):
            raise UserError(f"{a.info.path.name} and {b.info.path.name} have the same exposure; a bracket needs "
                            f"three different ones")  # fmt: skip
    ref = frames[len(frames) // 2]
    if len(frames) > 3:
        pick = [nearest(frames, ref, target) for target in (-2, 0, 2)]
        if len({id(f) for f in pick}) < 3:
            pick = [frames[0], ref, frames[-1]]
        names = ", ".join(f.info.path.name for f in pick)
        print(f"{len(frames)} photos: using the three nearest to -2/0/+2 EV: {names}")
        frames = pick
    for f in frames:
        f.ev = math.log2(f.exposure / frames[1].exposure)
    steps = (-frames[0].ev, frames[2].ev)
    if not all(1.5 <= s <= 3.5 for s in steps) or abs(steps[0] - steps[1]) > 0.5:
        warn(f"EV spacing {-steps[0]:+.1f}/0/{steps[1]:+.1f} is far from the training data's symmetric 2-3 stops; "
             f"expect a weaker merge")  # fmt: skip
    return frames


def nearest(frames: list[Frame], ref: Frame, ev: float) -> Frame:
    """The frame whose exposure is nearest to ``ev`` stops from the reference's."""
    return min(frames, key=lambda f: abs(math.log2(f.exposure / ref.exposure) - ev))


def load_frames(frames: list[Frame]) -> None:
    """Decode each photo in the network's domain; all must have one size."""
    for f in frames:
        f.ldr = read_photo(f.info, GAMMA)
        if f.info.path.suffix.lower() in (".jpg", ".jpeg") and f is frames[0]:
            warn("JPEGs are read with gamma 2.2 as the network expects; phone JPEGs with local tone mapping "
                 "break that assumption (RAW or camera JPEGs work best)")  # fmt: skip
    sizes = {f.ldr.shape[:2] for f in frames}
    if len(sizes) > 1:
        raise UserError("photos differ in size: " + ", ".join(f"{f.info.path.name} {f.ldr.shape[1]}x{f.ldr.shape[0]}"
                                                               for f in frames))  # fmt: skip
    ref = frames[1].ldr
    if clipped_fraction(ref) > 0.9 or (ref.max(axis=2) <= BLACK).mean() > 0.9:
        warn(f"the reference {frames[1].info.path.name} is almost all clipped or black; the merge has little to go on")


def align_frames(frames: list[Frame], mode: str) -> list[str]:
    """Warp the short and long frames onto the reference (never the reference); -> a line per frame."""
    ref = frames[1]
    ref_grey = align.equalise(ref.ldr, 1.0, GAMMA)
    lines = []
    for f in (frames[0], frames[2]):
        if mode == "none":
            lines.append(f"{f.info.path.name}: not aligned (--align none)")
            continue
        found = align.estimate(align.equalise(f.ldr, ref.exposure / f.exposure, GAMMA), ref_grey, mode)
        f.ldr = align.warp(f.ldr, found)
        lines.append(f"{f.info.path.name}: {found.describe(ref.ldr.shape[:2])}")
        if found.method == "none":
            warn(f"{f.info.path.name}: no reliable alignment found ({found.note}); merged unaligned")
    return lines


def predict(model: torch.nn.Module, x: torch.Tensor, tile: int | None) -> tuple[torch.Tensor, int | None]:
    """One pass, or tiles with a progress bar; running out of GPU memory (the allocator's error or a cuDNN /
    cuBLAS "out of memory") retries with tiles half the size. -> (prediction, the tile size used or None)."""
    while True:
        try:
            return (predict_tiled(model, x, tile, progress=True) if tile else predict_full(model, x)), tile
        except RuntimeError as e:  # torch.cuda.OutOfMemoryError is one
            if not is_out_of_memory(e):
                raise
        if torch.cuda.is_available():  # here, the failed pass's tensors are released: the cache can empty
            torch.cuda.empty_cache()
        tile = min(tile or max(x.shape[-2:]), max(x.shape[-2:])) // 2
        if tile < MIN_TILE:
            raise UserError("out of GPU memory even with 128x128 tiles; use --device cpu")
        warn(f"out of GPU memory; retrying with {tile}x{tile} tiles")


def auto_tile(h: int, w: int, device: torch.device) -> int | None:
    """The tile size merge.py uses without --tile. On a GPU, one pass (predict() halves tiles on each
    out-of-memory error, so a frame that does not fit still merges); on a CPU, where running out of memory
    ends the process instead of raising, AUTO_TILE tiles above AUTO_TILE_PIXELS."""
    return AUTO_TILE if device.type == "cpu" and h * w > AUTO_TILE_PIXELS else None


def describe_weights(ckpt: dict[str, Any]) -> str:
    """What the weights are: the official release, or our run's note."""
    meta = ckpt.get("meta") or {}
    if "state_dict" in ckpt:
        return "official release weights"
    return meta.get("note") or f"trained with train.py ({meta.get('iteration', '?')} iterations)"


def table(frames: list[Frame]) -> str:
    rows = ["| file | exposure time | f-number | ISO | EV | % clipped |", "|---|---|---|---|---|---|"]
    for f in frames:
        i = f.info
        t = (
            ""
            if i.exposure_time is None
            else (f"1/{1 / i.exposure_time:.0f} s" if i.exposure_time < 1 else f"{i.exposure_time:g} s")
        )
        clipped = 100 * clipped_fraction(f.ldr)
        rows.append(f"| {i.path.name}{' (reference)' if f is frames[1] else ''} | {t} | "
                    f"{'' if i.f_number is None else f'f/{i.f_number:g}'} | {'' if i.iso is None else f'{i.iso:g}'} | "
                    f"{f.ev:+.2f} | {clipped:.1f} |")  # fmt: skip
    return "\n".join(rows)


def run_merge(args: Any) -> int:
    """merge.py: check the outputs, read and order the bracket, align, merge, write HDR and preview."""
    out = Path(args.out)
    if out.suffix.lower() not in OUTPUT_EXTENSIONS:
        raise UserError(f"{out}: the output must be .exr (OpenEXR) or .hdr (Radiance)")
    preview = Path(args.preview) if args.preview else out.with_name(f"{out.stem}_preview.jpg")
    if preview.suffix.lower() not in PREVIEW_EXTENSIONS:
        raise UserError(f"{preview}: the preview must be .jpg or .png")
    photos = collect(args.inputs)
    for path, flag in ((out, "--out"), (preview, "--preview")):
        if any(path.resolve() == photo.resolve() for photo in photos):
            raise UserError(f"{path}: is one of the photos to merge; give {flag} another file (even --overwrite "
                            f"never replaces an input)")  # fmt: skip
        if path.is_dir():
            raise UserError(f"{path}: is a folder; give {flag} a file name")
        if path.exists() and not args.overwrite:
            raise UserError(f"{path}: exists; pass --overwrite to replace it")
        problem = check_writable(path.parent, 0, "output folder")
        if problem:
            raise UserError(problem)
    device = resolve_device(args.device)
    set_tf32(False)  # full float32, as test.py
    weights = Path(args.pretrained_model) if args.pretrained_model else (OFFICIAL if OFFICIAL.is_file() else DEMO)
    frames = choose_three(exposures(photos, args.ev, args.times))
    load_frames(frames)
    model, ckpt = load_model(weights)
    if needs_label(model):
        raise UserError(f"{weights}: LF-Diff stage 1 reads its prior from the label, which photos do not have "
                        f"(merge with a stage-2 checkpoint)")  # fmt: skip
    sampling = set_sampling(model, args.seed)
    seeded = f"; sampling seed {sampling['seed']}, {sampling['ddim_steps']} DDIM steps" if sampling else ""
    print(f"weights: {weights} ({describe_weights(ckpt)}){seeded}")
    report = align_frames(frames, args.align)
    print(table(frames))
    print("\n".join(f"aligned {line}" for line in report))
    h, w = frames[1].ldr.shape[:2]
    tile = args.tile or auto_tile(h, w, device)
    times = np.array([f.exposure / frames[0].exposure for f in frames])  # shortest = 1, as in training
    x = torch.from_numpy(make_input(np.stack([f.ldr for f in frames]), times))[None].to(device)
    start = time.perf_counter()
    hdr, tile = predict(model.to(device).eval(), x, tile)
    hdr = hdr[0].float().cpu().numpy().transpose(1, 2, 0)
    require_finite(hdr, "the merged image", f" (weights {weights} or the photos are broken); nothing written")
    seconds = time.perf_counter() - start
    if not args.no_clip_guard:
        hdr = guard_clipped(hdr, frames[0].ldr)  # the shortest exposure is the unit (times[0] = 1)
        share = clipped_fraction(frames[0].ldr)
        if share:
            print(f"clip guard: {100 * share:.2f}% of the pixels clipped even in {frames[0].info.path.name}; "
                  f"kept at least the value it implies there (--no_clip_guard turns this off)")  # fmt: skip
    write_hdr(out, hdr, half=out.suffix.lower() == ".exr" and not args.float32)
    write_png(preview, mu_law_8bit(hdr))
    how = f"{tile}x{tile} tiles" if tile else "one pass"
    print(f"merged {w}x{h} on {device} ({how}) in {seconds:.1f} s; wrote {out} (linear, the shortest exposure "
          f"at 1) and {preview}")  # fmt: skip
    return 0
