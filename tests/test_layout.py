"""The code map holds: one direction of dependencies, no import cycles, no import-time side effects,
small files, and README's code map names every package."""

import ast
import graphlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGES = ("models", "datasets", "utils")
MAX_LINES = 300


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}
SCRIPTS = sorted([*ROOT.glob("*.py"), *(ROOT / "scripts").rglob("*.py")])


def layer(module: str) -> str:
    """floor (utils without utils.engine), models, datasets or engine (utils.engine)."""
    if module == "utils.engine" or module.startswith("utils.engine."):
        return "engine"
    return "floor" if module.split(".")[0] == "utils" else module.split(".")[0]


ALLOWED = {  # layer -> the layers it may import
    "floor": {"floor"},
    "models": {"floor", "models"},
    "datasets": {"floor", "datasets"},
    "engine": {"floor", "models", "datasets", "engine"},
}


def imports_of(path: Path, module: str) -> set[str]:
    """Project modules imported anywhere in the file (functions included), relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    found.discard(module)
    return found


GRAPH = {m: imports_of(p, m) for m, p in MODULES.items()}


def test_every_package_imports_only_the_layers_below_it():
    wrong = [f"{m} ({layer(m)}) imports {d} ({layer(d)})" for m, deps in GRAPH.items() for d in sorted(deps)
             if layer(d) not in ALLOWED[layer(m)]]  # fmt: skip
    assert not wrong, "\n".join(wrong)
    assert layer("utils.metrics.psnr_ssim") == "floor" and layer("utils.engine.trainer") == "engine"
    assert "models.common" in GRAPH["utils.engine.inference"]  # the checker sees real edges


def test_no_import_cycles():
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(GRAPH[m]):
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path[path.index(d) :], d]))
            if d not in state:
                visit(d, [*path, d])
        state[m] = 2

    for m in GRAPH:
        if m not in state:
            visit(m, [m])


def test_scripts_import_each_other_in_one_direction():
    """scripts/*.py that import one another (inside functions too) form no loop."""
    stems = {p.stem: p for p in (ROOT / "scripts").glob("*.py")}
    graph = {}
    for stem, path in stems.items():
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
        graph[stem] = names & set(stems)
    assert graph["benchmark"] and graph["official_compare"], "the checker sees real edges"
    list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError on a loop


SIDE_EFFECT_PROBE = """
import importlib, io, json, os, sys
import cv2, numpy, skimage, torch, tqdm  # third-party imports first: OpenCV's own loader edits LD_LIBRARY_PATH
env, cwd, out = dict(os.environ), sorted(os.listdir()), io.StringIO()
sys.stdout = out
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
sys.stdout = sys.__stdout__
changed = sorted(k for k in set(env) | set(os.environ) if env.get(k) != os.environ.get(k))
print(json.dumps({"env": changed, "files": sorted(set(os.listdir()) - set(cwd)), "printed": out.getvalue()}))
"""


def test_importing_any_module_has_no_side_effect():
    run = subprocess.run([sys.executable, "-c", SIDE_EFFECT_PROBE, json.dumps(sorted(MODULES))], cwd=ROOT,
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert json.loads(run.stdout) == {"env": [], "files": [], "printed": ""}


def test_openexr_is_enabled_at_first_use_even_after_cv2_was_imported(tmp_path):
    probe = (
        "import cv2, numpy as np, sys\n"
        "from utils.hdr_io import read_hdr, write_hdr\n"
        f"write_hdr('{tmp_path}/x.exr', np.full((4, 6, 3), 3.5, np.float32))\n"
        f"print(read_hdr('{tmp_path}/x.exr').shape, read_hdr('{tmp_path}/x.exr').max())\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "OPENCV_IO_ENABLE_OPENEXR"}
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "(4, 6, 3) 3.5"


@pytest.mark.parametrize("path", [*MODULES.values(), *SCRIPTS, *sorted((ROOT / "tests").glob("*.py"))],
                         ids=lambda p: str(p.relative_to(ROOT)))  # fmt: skip
def test_files_stay_small(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_readme_code_map_names_every_package():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Code map", 1)[1].split("\n## ", 1)[0]
    folders = sorted({p.parent.relative_to(ROOT).as_posix() for p in MODULES.values()})
    assert folders == ["datasets", "models", "models/lfdiff", "models/sthdr", "utils", "utils/engine", "utils/losses",
                       "utils/metrics", "utils/metrics/hdrvdp"]  # fmt: skip
    for folder in [*folders, "scripts", "tests"]:
        assert f"`{folder}/`" in section, f"README's code map does not name {folder}/"


DISTRIBUTIONS = {"cv2": "opencv-python-headless", "skimage": "scikit-image", "PIL": "Pillow"}  # import -> package
DEV_ONLY = {"pytest"}
OPTIONAL = {"torchvision"}  # a test compares with torchvision.ops where it imports, skipped elsewhere


def test_requirements_list_exactly_the_imported_packages():
    imported = set()
    for path in [*MODULES.values(), *SCRIPTS, *(ROOT / "tests").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    local = {
        *PACKAGES,
        "test",
        "train",
        "merge",
        *(p.stem for p in SCRIPTS),
        *(p.stem for p in (ROOT / "tests").glob("*.py")),
    }
    local.add("official_afunet")  # the official model, imported from its own folder by benchmark --compare_official
    third_party = {DISTRIBUTIONS.get(m, m) for m in imported - set(sys.stdlib_module_names) - local}
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    listed = {re.split(r"[<>=!~ ]", line)[0] for line in lines if line.strip() and not line.startswith("#")}
    assert listed == third_party - DEV_ONLY - OPTIONAL
    dev = (ROOT / "requirements-dev.txt").read_text()
    assert "-r requirements.txt" in dev and all(name in dev for name in DEV_ONLY | {"ruff"})
