"""scripts/gpu_check.py's parts that check correctness on the device: the device-taking tests, the official
equivalence, and test.py's tables against the committed CPU ones (and the writing of those). Each part is
``fn(check)``; ``check`` is gpu_check.Check (rows, notes, the budget, the device)."""

import hashlib
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from bench_calls import CHECKPOINT, load_ours

from datasets.samples import ensure_samples
from models import DEMO_WEIGHTS
from utils.device import describe_device, set_tf32
from utils.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "fixtures" / "demo_tables_cpu.json"
EQUIVALENCE_TOLERANCE = 1e-4  # float32, TF32 off: ours and the official code against the official outputs
TABLE_TOLERANCE_DB = 0.01  # test.py on the device against the CPU's table, PSNR columns
QUICK_TESTS = "fused_optimiser"  # --quick: one fast device-taking test, to exercise the part


@dataclass
class Sizes:
    """What the timing and training parts run at: the real sizes, or tiny ones (--quick)."""

    inference: list[tuple[int, int]]
    batch: int
    crop: int
    warmup: int
    runs: int
    train_iters: int
    train_log_every: int
    train_scenes: int
    scene_size: str
    big_bracket: tuple[int, int]

    @classmethod
    def full(cls) -> "Sizes":
        return cls([(256, 256), (1000, 1500)], 6, 128, 2, 5, 300, 25, 12, "256x384", (3000, 4000))

    @classmethod
    def quick(cls) -> "Sizes":
        return cls([(24, 40)], 2, 32, 0, 1, 4, 1, 2, "64x96", (128, 192))


def tests(check) -> None:
    """The test suite's tests marked ``device``, run on the check's device (TEST_DEVICE); only their files
    are collected, which import nothing that travels as a wheel."""
    files = sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py") if "pytest.mark.device" in p.read_text()
    )  # fmt: skip (only these: the others may need wheels)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "device", "-rfE", *files]
    cmd += ["-k", QUICK_TESTS] if check.args.quick else []
    start = time.monotonic()
    code, output = check.call("tests", cmd, env={"TEST_DEVICE": str(check.device)})
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|errors?)\b", output)}
    check.row("tests", {"selection": "-m device" + (f" -k {QUICK_TESTS}" if check.args.quick else ""),
                        "passed": counts.get("passed", 0), "failed": counts.get("failed", 0),
                        "errors": counts.get("error", 0) + counts.get("errors", 0),
                        "skipped": counts.get("skipped", 0), "seconds": time.monotonic() - start})  # fmt: skip
    for line in re.findall(r"^(?:FAILED|ERROR) .*$", output, flags=re.M):
        check.note("tests", line)
    if code not in (0, None):
        raise RuntimeError(f"pytest exited with {code} (the failures are listed in the notes and the log)")


def official_model(check, part: str) -> torch.nn.Module | None:
    """The official network from --official on the shipped weights, or None with a note (in part ``part``)
    saying why."""
    from official_compare import load_official

    folder = check.args.official
    if not (folder / "official_afunet.py").is_file():
        check.note(part, f"no official model code in {folder} (official_afunet.py): pass --official DIR")
        return None
    try:
        return load_official(folder)
    except UserError as e:
        check.note(part, str(e))
        return None


def equivalence(check) -> None:
    """Ours and the official code on the shipped official-format checkpoint, each case's output against the
    official network's shipped output, float32 with TF32 off."""
    cases = torch.load(CHECKPOINT.parent / "forward_cases_subset.pt")["cases"]
    models = {"ours": load_ours(), "official": official_model(check, "equivalence")}
    set_tf32(False)
    for name, model in models.items():
        if model is None:
            continue
        model = model.to(check.device)
        for case in cases:
            with torch.inference_mode():
                out = model(case["input"].to(check.device)).float().cpu()
            diff = (out - case["output"]).abs().max().item()
            ok = diff <= EQUIVALENCE_TOLERANCE
            row = {"network": name, "case": case["name"], "max_abs_diff": diff, "tolerance": EQUIVALENCE_TOLERANCE}
            check.row("equivalence", {**row, "ok": ok})
    bad = [r for r in check.part("equivalence")["rows"] if not r["ok"]]
    if bad:
        raise RuntimeError(f"{len(bad)} case(s) beyond {EQUIVALENCE_TOLERANCE:g}")


def scenes_digest(folder: Path) -> str:
    """SHA-256 of every file in the scene folders under ``folder`` (names and bytes; not SOURCES.txt, which
    names where the radiance maps lay): whether two machines score the same scenes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.parent != folder):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def score_demo(call: Callable[[list[str]], int | None], work: Path, network: str, device: torch.device,
               first_only: bool) -> dict | None:  # fmt: skip
    """``python test.py --model network`` on the sample scenes (only the first with ``first_only``) on
    ``device``, run by ``call`` (its exit status, None when stopped) in a fresh process: its results.json
    with "seconds", or None."""
    samples = ensure_samples()
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        cmd = [sys.executable, "test.py", "--model", network, "--device", str(device), "--seed", "0",
               "--save_dir", f"{tmp}/results"]  # fmt: skip
        if first_only:
            (Path(tmp) / "data" / "Test").mkdir(parents=True)
            first = min(p for p in samples.iterdir() if p.is_dir())
            (Path(tmp) / "data" / "Test" / first.name).symlink_to(first)
            cmd += ["--dataset_dir", f"{tmp}/data", "--test_path", "Test"]
        start = time.monotonic()
        code = call(cmd)
        if code is None:
            return None
        if code != 0:
            raise RuntimeError(f"test.py --model {network} exited with {code} (its output is in the log)")
        return {**json.loads((Path(tmp) / "results" / "results.json").read_text()), "seconds": time.monotonic() - start}


def table_of(result: dict) -> dict:
    """{scene: {column: value}} with "mean", from a results.json."""
    keep = ("psnr_mu", "psnr_l", "ssim_mu", "ssim_l")
    table = {r["scene"]: {k: r[k] for k in keep} for r in result["scenes"]}
    return {**table, "mean": {k: result["mean"][k] for k in keep}} if result["mean"] else table


def cpu_table(check, network: str, part: str) -> tuple[dict, str]:
    """The CPU table to compare with: the committed reference (--reference) when it scored these very sample
    scenes, else (synthesized with other library versions, say) test.py on this machine's CPU, with a note."""
    reference = json.loads(check.args.reference.read_text()) if check.args.reference.is_file() else {"networks": {}}
    table = reference["networks"].get(network, {}).get("table")
    if table and reference.get("scenes_sha256") == scenes_digest(ensure_samples()):
        return table, "committed"
    why = "differ from the scenes the reference scored" if table else f"have no {network} table in the reference"
    check.note(part, f"{network}: the sample scenes here {why}: compared with test.py on this machine's CPU")
    result = score_demo(lambda cmd: check.call(part, cmd)[0], check.work, network, torch.device("cpu"),
                        check.args.quick)  # fmt: skip
    return ({} if result is None else table_of(result)), "this CPU"


def demo_table(check, network: str, part: str = "tables") -> None:
    """test.py's table of ``network``'s demo on the device against the CPU's (cpu_table): the largest PSNR
    difference over the scenes (and the mean, when every scene ran) within TABLE_TOLERANCE_DB."""
    cpu, source = cpu_table(check, network, part)
    result = score_demo(lambda cmd: check.call(part, cmd)[0], check.work, network, check.device, check.args.quick)
    if result is None:
        return
    ours = table_of(result)
    shared = [s for s in ours if s in cpu and (s != "mean" or len(ours) == len(cpu))]
    db = max((abs(ours[s][k] - cpu[s][k]) for s in shared for k in ("psnr_mu", "psnr_l")), default=None)
    ssim = max((abs(ours[s][k] - cpu[s][k]) for s in shared for k in ("ssim_mu", "ssim_l")), default=None)
    mean = ours.get("mean") or next(iter(ours.values()))
    check.row(part, {"network": network, "scenes": len(result["scenes"]), **mean, "cpu_table": source,
                     "compared": len(shared), "max_psnr_diff_db": db, "max_ssim_diff": ssim,
                     "ok": db is not None and db <= TABLE_TOLERANCE_DB, "seconds": result["seconds"]})  # fmt: skip
    if db is not None and db > TABLE_TOLERANCE_DB:
        raise RuntimeError(f"{network}: {db:.3g} dB from the CPU table (tolerance {TABLE_TOLERANCE_DB} dB)")


def tables(check) -> None:
    """Part "tables": AFUNet's demo (the other networks' come in part "networks")."""
    demo_table(check, "afunet")


def write_reference() -> int:
    """Score every demo on all sample scenes on the CPU and write REFERENCE (gpu_check.py --write_reference)."""
    networks = {}
    with tempfile.TemporaryDirectory() as work:
        for network in sorted(DEMO_WEIGHTS):
            result = score_demo(lambda cmd: subprocess.run(cmd, cwd=ROOT).returncode, Path(work), network,
                                torch.device("cpu"), first_only=False)  # fmt: skip
            networks[network] = {"checkpoint": DEMO_WEIGHTS[network].name, "table": table_of(result)}
    payload = {"command": "python scripts/gpu_check.py --write_reference", "seed": 0,
               "hardware": describe_device(torch.device("cpu")), "scenes_sha256": scenes_digest(ensure_samples()),
               "networks": networks}  # fmt: skip
    REFERENCE.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {REFERENCE}")
    return 0
