"""How a torchrun rank ends: after a normal end with its status and its output, without tearing down the
process group (whose teardown could hang); after a failure with the message its entry point would give;
a check on rank 0 alone (the run folder) ends every rank with one message."""

import subprocess
import sys
import time

import pytest
from conftest import ROOT, synth_scenes
from test_distributed import launch, train_argv

from utils.engine.distributed import Ranks, exit_rank, fail_rank, on_main
from utils.errors import UserError


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("Kal")
    synth_scenes(root / "Training", scenes=3, size=(40, 48), seed=5)
    return root


def test_a_failed_rank_reports_as_the_entry_point_would_and_a_check_on_rank_0_alone(capsys):
    from utils.cli import report

    assert report(UserError("no data")) == 1 and capsys.readouterr().err == "error: no data\n"
    assert report(KeyboardInterrupt()) == 130 and capsys.readouterr().err == "interrupted\n"
    assert report(SystemExit(1)) == 1 and capsys.readouterr().err == ""  # a rank that leaves quietly
    try:
        raise ValueError("a bug")
    except ValueError as e:
        assert report(e) == 1 and "Traceback" in capsys.readouterr().err
    assert fail_rank(UserError("x"), Ranks()) is None  # one process: the caller re-raises
    calls = []
    on_main(lambda: calls.append(1), Ranks())

    def refuse() -> None:
        raise UserError("refused")

    with pytest.raises(UserError, match="refused"):
        on_main(refuse, Ranks())
    assert calls == [1]


EXIT_SCRIPT = """
import sys, torch.distributed as dist
from utils.engine.distributed import Ranks, exit_rank
dist.init_process_group("gloo", init_method="file://" + sys.argv[1], rank=0, world_size=1)
out = [None]
dist.gather_object({"rng": 1}, out, dst=0)  # a finished gather, as a checkpoint's leaves behind
print("saved", out, end="")  # still in the pipe's buffer
exit_rank(3, Ranks())
print("not reached")
"""


def test_a_finished_rank_leaves_with_its_code_and_its_output_and_one_process_goes_on(tmp_path):
    run = subprocess.run([sys.executable, "-c", EXIT_SCRIPT, str(tmp_path / "init")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert (run.returncode, run.stdout) == (3, "saved [{'rng': 1}]"), run.stderr[-2000:]
    assert exit_rank(0, Ranks()) is None  # no process group here: the caller goes on


@pytest.mark.slow
def test_a_refusal_on_rank_0_is_its_one_line_and_ends_every_rank(data_dir, tmp_path):
    argv = train_argv(data_dir, tmp_path / "run", "--no_tensorboard", "--max_iters", "1")
    assert launch(argv, 2).returncode == 0
    before = (tmp_path / "run" / "latest.pth").read_bytes()
    started = time.time()
    again = launch(argv, 2)  # a fresh run into a folder with checkpoints: rank 0 refuses, rank 1 waits in DDP
    assert again.returncode != 0 and time.time() - started < 120
    assert "error: " + str(tmp_path / "run") + " holds another run's latest.pth" in again.stderr
    assert 'train.py"' not in again.stderr and "utils/" not in again.stderr  # no traceback of ours
    assert (tmp_path / "run" / "latest.pth").read_bytes() == before
