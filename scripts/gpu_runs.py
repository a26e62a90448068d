"""scripts/gpu_check.py's parts that run the user's commands: train.py on synthesized scenes (part
"training") and merge.py on brackets (part "merge"). Each part is ``fn(check)`` (gpu_check.Check)."""

import contextlib
import io
import json
import math
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from datasets.sources import DEFAULT_SOURCES
from utils.cli import run_cli
from utils.device import peak_memory_mib, sync_device
from utils.hdr_io import read_hdr

ROOT = Path(__file__).resolve().parents[1]
BRACKET = ROOT / "samples" / "brackets"
PAPER_EPOCHS, KALANTARI_SCENES, CROPS_PER_SCENE, PAPER_BATCH = 400, 74, 100, 6  # the paper's recipe
WHEELS = "carry it as a wheel (scripts/gpu_check.py's docstring)"


def synthesize_scenes(check) -> Path | None:
    """Training scenes for part "training" in check.work (None when the budget ran out): from --radiance, else
    from ../shared's maps when present, else procedural."""
    out = check.work / "data"
    sources = check.args.radiance or (DEFAULT_SOURCES if DEFAULT_SOURCES.is_dir() else None)
    cmd = [sys.executable, "-m", "datasets.synthesize", "--out", str(out / "Training"), "--seed", "0",
           "--scenes", str(check.sizes.train_scenes), "--size", check.sizes.scene_size]  # fmt: skip
    cmd += ["--source", str(sources)] if sources else ["--source", "--procedural", "1"]
    code, _ = check.call("training", cmd)
    if code is None:
        return None
    if code != 0:
        raise RuntimeError(f"datasets.synthesize exited with {code} (its output is in the log)")
    check.note("training", f"{check.sizes.train_scenes} scenes of {check.sizes.scene_size} from "
                           f"{sources or 'procedural content'}")  # fmt: skip
    return out


def summarize_run(log: Path) -> dict:
    """Iterations per second (median of the logged intervals after the first), peak memory and the loss's
    first and last quarter means, from a run's log.jsonl."""
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
    train = [r for r in records if r.get("kind") == "train"]
    if not train:
        return {"iterations": 0}
    speeds = [r["it_per_s"] for r in train[1:]] or [train[0]["it_per_s"]]
    quarter = max(1, len(train) // 4)
    first, last = (statistics.mean(r["loss"] for r in part) for part in (train[:quarter], train[-quarter:]))
    it_per_s = statistics.median(speeds)
    paper_iters = PAPER_EPOCHS * math.ceil(KALANTARI_SCENES * CROPS_PER_SCENE / PAPER_BATCH)
    return {"iterations": train[-1]["iteration"], "it_per_s": it_per_s, "samples_per_s": train[-1]["samples_per_s"],
            "peak_mib": train[-1].get("max_memory_mib"), "loss_first": first, "loss_last": last,
            "loss_falls": last < first, "paper_400_epochs_h": paper_iters / it_per_s / 3600}  # fmt: skip


def training(check) -> None:
    """train.py (the paper's recipe: batch 6, 128x128 crops; the official FFT loss in place of VGG-19, whose
    weights cannot be fetched offline) for 300 iterations, in float32 (train.py's default: TF32 allowed) and
    with --amp bf16."""
    data = synthesize_scenes(check)
    s = check.sizes
    for label, extra in (("fp32 (TF32 allowed)", []), ("bf16 autocast", ["--amp", "bf16"])):
        if data is None or not check.enough("training", f"the {label} run"):
            return
        run_dir = check.work / f"run_{extra[-1] if extra else 'fp32'}"
        cmd = [sys.executable, "train.py", "--recipe", "paper", "--loss", "fft", "--dataset_dir", str(data),
               "--batch_size", str(s.batch), "--patch_size", str(s.crop), "--max_iters", str(s.train_iters),
               "--log_every", str(s.train_log_every), "--logdir", str(run_dir), "--device", str(check.device),
               "--num_workers", "4", "--no_tensorboard", *extra]  # fmt: skip
        start = time.monotonic()
        code, _ = check.call("training", cmd)
        if code not in (0, None):
            raise RuntimeError(f"train.py exited with {code} (its output is in the log)")
        row = {"run": label, **summarize_run(run_dir / "log.jsonl"), "seconds": time.monotonic() - start}
        check.row("training", row)
    recipe = f"{PAPER_EPOCHS} epochs of {KALANTARI_SCENES} scenes x {CROPS_PER_SCENE} crops at batch {PAPER_BATCH}"
    check.note("training", f"paper_400_epochs_h: {recipe}, at the measured iterations per second")


def resized_bracket(folder: Path, size: tuple[int, int]) -> Path:
    """The bundled bracket resized to ``size`` (H, W), its EXIF kept, as JPEGs in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for photo in sorted(BRACKET.glob("*.jpg")):
        with Image.open(photo) as im:
            exif = im.info.get("exif", b"")
            im.resize(size[::-1], Image.Resampling.BICUBIC).save(folder / photo.name, quality=95, exif=exif)
    return folder


def merge(check) -> None:
    """merge.py in this process on the bundled bracket and on a 12-megapixel one: time, peak memory, and
    that the result is finite."""
    try:
        import merge as merge_script
        import utils.photos  # noqa: F401 (exifread, imported by merge.py only when it runs)
    except ImportError as e:
        check.part("merge")["status"] = f"skipped: merge.py needs {e.name or e}: {WHEELS}"
        return

    h, w = check.sizes.big_bracket
    cases = [("bundled bracket", BRACKET), (f"bracket resized to {h}x{w}", None)]
    for name, folder in cases:
        if not check.enough("merge", name):
            return
        folder = folder or resized_bracket(check.work / "big_bracket", (h, w))
        out = check.work / f"merged_{len(check.part('merge')['rows'])}.exr"
        argv = [str(folder), "--out", str(out), "--device", str(check.device), "--overwrite"]
        peak_memory_mib(check.device, reset=True)
        printed = io.StringIO()
        start = time.monotonic()
        with contextlib.redirect_stdout(printed):
            code = run_cli(merge_script.main, argv)
        sync_device(check.device)
        seconds = time.monotonic() - start
        check.log_file.write(printed.getvalue())
        if code != 0:
            raise RuntimeError(f"merge.py exited with {code} on the {name} (its output is in the log)")
        result = read_hdr(out)
        how = re.findall(r"\((\d+x\d+ tiles|one pass)\)", printed.getvalue())
        check.row("merge", {"case": name, "megapixels": result.shape[0] * result.shape[1] / 1e6, "seconds": seconds,
                            "peak_mib": peak_memory_mib(check.device), "finite": bool(np.isfinite(result).all()),
                            "how": how[0] if how else None})  # fmt: skip
