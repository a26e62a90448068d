"""How a torchrun rank ends: after a normal end with its status and its output, without tearing down the
process group (whose teardown could hang); after a failure with the message its entry point would give;
a check on rank 0 alone (the run folder) ends every rank with one message (its torchrun test is in
test_distributed.py)."""

import subprocess
import sys

import pytest
from conftest import ROOT

from utils.engine.distributed import Ranks, exit_rank, fail_rank, on_main
from utils.errors import UserError


def test_a_failed_rank_reports_as_the_entry_point_would_and_a_check_on_rank_0_alone(capsys):
    from utils.cli import report

    assert report(UserError("no data")) == 1 and capsys.readouterr().err == "error: no data\n"
    assert report(KeyboardInterrupt()) == 130 and capsys.readouterr().err == "interrupted\n"
    assert report(SystemExit(1)) == 1 and capsys.readouterr().err == ""  # a rank that leaves quietly
    try:
        raise ValueError("a bug")
    except ValueError as e:
        assert report(e) == 1 and "Traceback" in capsys.readouterr().err
    assert fail_rank(UserError("x")) is None  # one process: the caller re-raises
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
