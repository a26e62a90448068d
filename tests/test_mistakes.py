"""A user's mistakes end in one line before any work: option ranges at parse time, and no command replaces
work it was not asked to replace (synthesize into an existing dataset, train.py into a run folder with
checkpoints, merge.py over its own photos)."""

import argparse

import pytest

from datasets import synthesize
from utils.cli import COUNT, FRACTION, POSITIVE, POSITIVE_INT, SEED, Parser, number, run_cli


@pytest.mark.parametrize("kind, text, ok", [
    (POSITIVE_INT, "1", True), (POSITIVE_INT, "0", False), (POSITIVE_INT, "2.5", False), (COUNT, "0", True),
    (COUNT, "-1", False), (POSITIVE, "1e-9", True), (POSITIVE, "0", False), (POSITIVE, "nan", False),
    (POSITIVE, "inf", False), (FRACTION, "1", True), (FRACTION, "1.01", False), (SEED, str(2**32), False),
    (SEED, str(10**400), False), (number(float, -64, 64), "-inf", False), (number(float), "x", False),
])  # fmt: skip
def test_numeric_options_check_their_range(kind, text, ok):
    if ok:
        assert kind(text) == float(text)
    else:
        with pytest.raises(argparse.ArgumentTypeError, match=f"must be .*, got '{text}'"):
            kind(text)


def test_a_bad_argument_is_one_line_that_points_at_help(capsys):
    p = Parser(prog="tool.py")
    p.add_argument("--batch_size", type=POSITIVE_INT)
    with pytest.raises(SystemExit) as e:
        p.parse_args(["--batch_size", "0"])
    err = capsys.readouterr().err
    assert (
        e.value.code == 2
        and err == "error: argument --batch_size: must be an integer ≥ 1, got '0' (see tool.py --help)\n"
    )


def test_synthesize_into_an_existing_dataset_is_refused_unless_asked(tmp_path, capsys):
    argv = ["--out", str(tmp_path), "--scenes", "2", "--size", "16x16", "--source", "--procedural", "1"]
    assert run_cli(synthesize.main, argv) == 0
    before = (tmp_path / "001" / "HDRImg.hdr").read_bytes()
    capsys.readouterr()
    assert run_cli(synthesize.main, [*argv, "--seed", "5"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already holds scene 001" in err and "--start 2" in err and "--overwrite" in err
    assert (tmp_path / "001" / "HDRImg.hdr").read_bytes() == before  # nothing replaced
    assert run_cli(synthesize.main, [*argv, "--start", "2"]) == 0 and (tmp_path / "004").is_dir()
    assert run_cli(synthesize.main, [*argv, "--seed", "5", "--overwrite"]) == 0
    assert (tmp_path / "001" / "HDRImg.hdr").read_bytes() != before


@pytest.mark.parametrize("extra, message", [
    (["--ev", "0", "0", "2"], "the ladder must increase"), (["--ev", "0", "nan", "2"], "got 'nan'"),
    (["--procedural", "2"], "≥ 0 and ≤ 1"), (["--scenes", "0"], "integer ≥ 1"),
])  # fmt: skip
def test_synthesize_options_are_checked_before_any_scene(tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit):
        synthesize.main(["--out", str(tmp_path / "new"), *extra])
    assert message in capsys.readouterr().err and not (tmp_path / "new").exists()
