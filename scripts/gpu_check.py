"""The GPU check: one command showing, on a CUDA machine, that the repository works there, matches the CPU
and the official network, and how fast and lean it is (README, "The GPU check").

    python scripts/gpu_check.py OUT_DIR [--budget_s 420]        # on a CUDA machine
    python scripts/gpu_check.py OUT_DIR --device cpu --quick    # every part at tiny sizes, on the CPU (CI)
    python scripts/gpu_check.py --write_reference               # the CPU tables that part "tables" compares to

The parts, in this order; each stops cleanly when the time budget is spent, and OUT_DIR is rewritten after
every row, so a run cut short still leaves what it measured:
  tests         the test suite's device-taking tests on the device (TEST_DEVICE=cuda pytest -m device)
  equivalence   the official-equivalence cases in float32, TF32 off: ours and the official code against
                the shipped official outputs, max |diff| <= 1e-4
  tables        python test.py on the sample scenes on the device against the committed CPU tables (0.01 dB)
  side_by_side  ours beside the official network, one process, alternating, synchronised medians:
                inference 256x256 and 1000x1500 and a training step (batch 6, 128x128) in fp32, TF32 and
                bf16 autocast, each one's peak memory, and which attention kernels run
  training      300 iterations of train.py on synthesized scenes, batch 6, fp32 and --amp bf16: iterations
                per second, peak memory, the loss falling, the implied time of the paper's 400 epochs
  merge         merge.py on the bundled bracket and on a 12-megapixel one (the bundled one resized)
  networks      every other network that models.build_model knows: the same timing rows, and its demo's
                test.py table against the CPU's
OUT_DIR receives gpu_check.json, gpu_check.md and gpu_check.log, nothing else.

Outside paths are options, since ../shared does not travel to a GPU machine: --official DIR (the official
model code; default ../shared/reference/official-model), --radiance DIR (maps for the training scenes;
default ../shared/data/hdr-radiance if present, else procedural scenes). The GPU machine's image has torch,
OpenCV, scikit-image, SciPy, tifffile, tqdm, TensorBoard, pytest and einops and cannot install anything;
pyrtools, exifread and rawpy travel as wheels (only part "merge" needs one, exifread; the rest runs
without them). Here, in the repository (both folders are ignored through .git/info/exclude):

    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \\
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \\
        -d .whl pyrtools exifread rawpy
    cp -r ../shared/reference/official-model .official

and there (carrying .whl and .official; the sample scenes are synthesized there, and where they differ
from those the committed CPU tables scored, part "tables" scores them on that machine's CPU too):

    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
    python3 scripts/gpu_check.py $OUT --official .official
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from gpu_parts import REFERENCE, Sizes, equivalence, tables, tests, write_reference  # noqa: E402
from gpu_runs import merge, training  # noqa: E402
from gpu_timing import networks, side_by_side  # noqa: E402

from utils.cli import POSITIVE, Parser, run_cli  # noqa: E402
from utils.device import describe_device, resolve_device  # noqa: E402
from utils.errors import UserError  # noqa: E402

FILES = ("gpu_check.json", "gpu_check.md", "gpu_check.log")
PARTS = {"tests": tests, "equivalence": equivalence, "tables": tables, "side_by_side": side_by_side,
         "training": training, "merge": merge, "networks": networks}  # fmt: skip


class Check:
    """One run: its options, device, deadline and results; every row rewrites OUT_DIR's JSON and Markdown."""

    def __init__(self, args: argparse.Namespace, device: torch.device, out_dir: Path) -> None:
        self.args, self.device, self.out = args, device, out_dir
        self.sizes = Sizes.quick() if args.quick else Sizes.full()
        self.deadline = time.monotonic() + args.budget_s
        self.started = time.monotonic()
        self.work = Path(tempfile.mkdtemp(prefix="gpu_check-"))
        out_dir.mkdir(parents=True, exist_ok=True)
        self.log_file = open(out_dir / "gpu_check.log", "w")  # noqa: SIM115 (open for the whole run)
        command = "python scripts/gpu_check.py " + " ".join(sys.argv[1:])
        self.results = {"command": command, "hardware": describe_device(device), "budget_s": args.budget_s,
                        "quick": args.quick, "parts": {}}  # fmt: skip

    def left(self) -> float:
        """Seconds of the budget left."""
        return self.deadline - time.monotonic()

    def say(self, message: str) -> None:
        """Print a line and keep it in the log."""
        print(message, flush=True)
        self.log_file.write(message + "\n")
        self.log_file.flush()

    def part(self, name: str) -> dict:
        """The record of part ``name``."""
        return self.results["parts"].setdefault(name, {"status": "running", "rows": [], "notes": []})

    def row(self, name: str, row: dict) -> None:
        """Add a measured row to part ``name`` and write the results at once."""
        self.part(name)["rows"].append(row)
        self.say(f"[{name}] " + ", ".join(f"{k} {format_value(v)}" for k, v in row.items()))
        self.save()

    def note(self, name: str, text: str) -> None:
        self.part(name)["notes"].append(text)
        self.say(f"[{name}] note: {text}")
        self.save()

    def enough(self, name: str, what: str) -> bool:
        """Whether budget is left for ``what``; if not, part ``name`` is marked stopped there."""
        if self.left() > 0:
            return True
        self.part(name)["status"] = f"stopped: the budget was spent before {what}"
        self.save()
        return False

    def call(self, name: str, cmd: list[str], env: dict | None = None) -> tuple[int | None, str]:
        """Run ``cmd`` in the repository within the budget; (exit status or None if stopped, its output)."""
        self.say(f"[{name}] $ {' '.join(cmd)}")
        try:
            done = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                                  timeout=max(1.0, self.left()))  # fmt: skip
            code, output = done.returncode, done.stdout + done.stderr
        except subprocess.TimeoutExpired as e:
            code, output = None, "".join(s.decode() if isinstance(s, bytes) else s or "" for s in (e.stdout, e.stderr))
            self.part(name)["status"] = f"stopped: the budget was spent during {Path(cmd[1]).name}"
        self.log_file.write(output)
        return code, output

    def run(self, name: str, fn: Callable[["Check"], None]) -> None:
        """Run one part; an exception fails that part only (one line in the results, the traceback in the log)."""
        record = self.part(name)
        if not self.enough(name, "it started"):
            return
        self.say(f"== {name} ({self.left():.0f} s left)")
        start = time.monotonic()
        try:
            fn(self)
            if record["status"] == "running":
                record["status"] = "done"
        except Exception as e:  # a CUDA-only failure in one part must not hide the others' numbers
            record["status"] = f"failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            self.log_file.write(traceback.format_exc())
        record["seconds"] = time.monotonic() - start
        self.save()

    def save(self) -> None:
        self.results["elapsed_s"] = time.monotonic() - self.started
        (self.out / "gpu_check.json").write_text(json.dumps(self.results, indent=2) + "\n")
        (self.out / "gpu_check.md").write_text(markdown(self.results))

    def close(self) -> None:
        self.save()
        self.log_file.close()
        shutil.rmtree(self.work, ignore_errors=True)


def format_value(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1e-2 and v != 0 else f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"
    if isinstance(v, list):
        return ", ".join(map(str, v)) or "none"
    return "" if v is None else str(v)


def markdown(results: dict) -> str:
    """gpu_check.md: the machine, the command, then one table per part with its status and notes."""
    hw = results["hardware"]
    lines = [
        "# GPU check", "",
        f"{hw['name']} ({hw['device']}), torch {hw['torch']}, CUDA {hw['cuda']}, cuDNN {hw['cudnn']}; "
        f"`{results['command']}`; {results['elapsed_s']:.0f} s of a {results['budget_s']:.0f} s budget"
        + (" (--quick: tiny sizes, a test of the script)" if results["quick"] else ""),
    ]  # fmt: skip
    for name, part in results["parts"].items():
        lines += ["", f"## {name}: {part['status']}", ""]
        rows = part["rows"]
        keys = list(dict.fromkeys(k for r in rows for k in r))
        if rows:
            lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
            lines += ["| " + " | ".join(format_value(r.get(k)) for k in keys) + " |" for r in rows]
        lines += [f"- {note}" for note in part["notes"]]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = Parser(__doc__)
    p.add_argument("out_dir", type=Path, nargs="?", help="folder for gpu_check.json, gpu_check.md, gpu_check.log")
    p.add_argument("--budget_s", type=POSITIVE, default=420.0, help="seconds for all parts (default: %(default)s)")
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:1, ... or cpu (with --quick: CI)")
    p.add_argument("--quick", action="store_true", help="every part at tiny sizes: tests the script, measures nothing")
    p.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS), help="only these parts")
    p.add_argument("--official", type=Path, default=ROOT.parent / "shared" / "reference" / "official-model",
                   help="folder of the official model code (default: %(default)s)")  # fmt: skip
    p.add_argument("--reference", type=Path, default=REFERENCE,
                   help="the CPU tables part 'tables' compares to (default: %(default)s)")  # fmt: skip
    p.add_argument("--radiance", type=Path, default=None,
                   help="radiance maps for part training's scenes (default: ../shared/data/hdr-radiance if "
                        "present, else procedural scenes)")  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help="replace an earlier check's files in OUT_DIR")
    p.add_argument("--write_reference", action="store_true",
                   help="instead: score every demo on the sample scenes on the CPU and write the reference "
                        "tables part 'tables' compares to")  # fmt: skip
    args = p.parse_args(argv)
    if args.budget_s <= 0:
        p.error("--budget_s must be positive")
    if args.out_dir is None and not args.write_reference:
        p.error("give OUT_DIR (or --write_reference)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.write_reference:
        return write_reference()
    device = resolve_device(args.device)  # one line when there is no CUDA
    taken = [f for f in FILES if (args.out_dir / f).exists()]
    if taken and not args.overwrite:
        raise UserError(f"{args.out_dir} already holds {', '.join(taken)}: choose another folder or add --overwrite")
    check = Check(args, device, args.out_dir)
    try:
        for name in (n for n in PARTS if n in args.parts):
            check.run(name, PARTS[name])
    finally:
        check.close()
    failed = [n for n, p in check.results["parts"].items() if p["status"].startswith("failed")]
    print(f"wrote {', '.join(FILES)} to {args.out_dir}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
