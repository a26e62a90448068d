"""The regression guard: every option of train.py, test.py and merge.py, given a value it cannot take, ends
with exit status != 0 and one line on stderr, no traceback, before any work. Numeric options get a value
outside their declared range, choices a value outside them, paths one that cannot work; an option added
without a case here fails the guard."""

from pathlib import Path

import pytest
from conftest import ROOT, synth_scenes

import merge as merge_script
import test as test_script
import train as train_script
from utils.cli import Parser, run_cli

SCRIPTS = {"train": train_script, "test": test_script, "merge": merge_script}
NOT_A_FILE = "/nonexistent/x.pth"
# path and name options: (bad value, extra arguments it needs to matter), or None with the reason it has none
PATHS = {
    "train": {
        "--dataset_dir": ("/nonexistent", []), "--train_path": ("absent", []), "--ldr_prefix": ("zz", []),
        "--test_path": ("absent", ["--eval_test_every", "1"]), "--exposure_file_name": ("absent.txt", []),
        "--label_file_name": ("absent.hdr", []), "--vgg_weights": (NOT_A_FILE, ["--loss", "vgg"]),
        "--device": ("gpu9", []), "--init_weights": (NOT_A_FILE, []), "--logdir": ("FILE", []),
        "--resume": (NOT_A_FILE, []), "--val_path": ("/nonexistent", []),
    },
    "test": {
        "--dataset_dir": ("/nonexistent", []), "--test_path": ("absent", []), "--ldr_prefix": ("zz", []),
        "--exposure_file_name": ("absent.txt", []), "--pretrained_model": (NOT_A_FILE, []),
        "--save_dir": ("FILE", []), "--device": ("gpu9", []),
        "--train_path": None,  # test.py reads no training set
        "--label_file_name": None,  # a scene without its label is predicted, not scored (by design)
    },
    "merge": {
        "inputs": ("/nonexistent.jpg", []), "--out": ("out.txt", []), "--preview": ("preview.txt", []),
        "--pretrained_model": (NOT_A_FILE, []), "--device": ("gpu9", []),
    },
}  # fmt: skip


class _Stop(Exception):
    pass


def parser_of(build) -> Parser:
    """The Parser that ``build(argv)`` (a script's parse_args, or a tool's main) makes and parses with."""
    captured = {}

    def grab(self, *args, **kwargs):
        captured["parser"] = self
        raise _Stop

    original, Parser.parse_args = Parser.parse_args, grab
    try:
        build([])
    except _Stop:
        pass
    finally:
        Parser.parse_args = original
    return captured["parser"]


def outside(parse) -> str:
    """A value just outside a number() type's range."""
    kind, low, high, above = parse.bounds
    if low is not None:
        return str(low if above else (low - 1 if kind is int else low - 1e-3))
    return str(high + 1) if high is not None else "nan"


def cases() -> list[tuple[str, str, str, list[str]]]:
    """(script, option, bad value, extra arguments) for every option that takes a value."""
    out = []
    for name, script in SCRIPTS.items():
        for action in parser_of(script.parse_args)._actions:
            if action.nargs == 0:
                continue  # flags
            option = action.option_strings[0] if action.option_strings else action.dest
            if hasattr(action.type, "bounds"):
                out.append((name, option, outside(action.type), []))
                if action.type.bounds[0] is float:
                    out.append((name, option, "nan", []))
            elif action.choices:
                out.append((name, option, "bogus", []))
            else:
                assert option in PATHS[name], f"{name}.py {option}: add a bad value to the guard"
                if PATHS[name][option] is not None:
                    out.append((name, option, *PATHS[name][option]))
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("Kal")
    synth_scenes(root / "Training", scenes=2, size=(24, 32), seed=1)
    synth_scenes(root / "Test" / "Test-set", scenes=1, size=(24, 32), seed=2)
    return root


def base_argv(name: str, data: Path, tmp_path: Path) -> list[str]:
    """Arguments that would run (briefly) without the bad one."""
    return {
        "train": ["--dataset_dir", str(data), "--logdir", str(tmp_path / "run"), "--loss", "l1", "--device", "cpu",
                  "--num_workers", "0", "--patch_size", "16", "--batch_size", "1", "--repeat", "1", "--epochs", "1",
                  "--max_iters", "1", "--no_tensorboard"],
        "test": ["--dataset_dir", str(data), "--save_dir", str(tmp_path / "out"), "--device", "cpu"],
        "merge": [str(ROOT / "samples" / "brackets"), "--out", str(tmp_path / "m.exr"), "--device", "cpu"],
    }[name]  # fmt: skip


@pytest.mark.parametrize("name, option, value, extra", cases(), ids=lambda v: v if isinstance(v, str) else None)
def test_every_option_refuses_a_value_it_cannot_take_in_one_line(name, option, value, extra, data, tmp_path, capsys):
    (tmp_path / "FILE").write_text("a file where a folder belongs")
    value = str(tmp_path / "FILE") if value == "FILE" else value
    argv = base_argv(name, data, tmp_path)
    if option == "inputs":
        argv[0] = value
    else:
        argv += [option, value]
    try:
        code = run_cli(SCRIPTS[name].main, [*argv, *extra])
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert code not in (0, None), f"{name}.py {option} {value} was accepted"
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert not (tmp_path / "run" / "latest.pth").exists() and not (tmp_path / "m.exr").exists()
