"""CPU inference on the cores other processes leave free (utils/threads.py) and the benchmark's competitors."""

import subprocess
import sys
import time

import pytest
import torch
from conftest import ROOT

from models import AFUNet
from utils import threads

sys.path.insert(0, str(ROOT / "scripts"))
import contend  # noqa: E402


def test_busy_seconds_sums_the_busy_fields_of_the_given_cores(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  9 9 9 9 9 9 9 9\ncpu0 100 1 10 500 7 2 3 4 0 0\ncpu1 50 0 5 600 0 0 0 0\nintr 5 6\n")
    hz = threads.os.sysconf("SC_CLK_TCK")
    assert threads.busy_seconds({0}, str(stat)) == pytest.approx((100 + 1 + 10 + 2 + 3 + 4) / hz)
    assert threads.busy_seconds({0, 1}, str(stat)) == pytest.approx((120 + 55) / hz)
    assert threads.busy_seconds({0}, str(tmp_path / "absent")) is None


def fake_clock(monkeypatch, others_per_s: float, own_per_s: float = 0.5):
    """A machine whose other processes keep ``others_per_s`` cores busy while this one uses ``own_per_s``."""
    now = [0.0]
    monkeypatch.setattr(threads.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(threads.time, "process_time", lambda: own_per_s * now[0])
    monkeypatch.setattr(threads.time, "sleep", lambda s: now.__setitem__(0, now[0] + s))
    monkeypatch.setattr(threads, "busy_seconds", lambda cpus: (others_per_s + own_per_s) * now[0])
    return now


@pytest.mark.parametrize("others, expected", [(0.0, 4), (0.2, 4), (0.5, 3), (1.0, 3), (2.6, 1), (7.0, 1)])
def test_threads_follow_the_cores_others_leave_free(monkeypatch, others, expected):
    now = fake_clock(monkeypatch, others)
    free = threads.FreeCores()
    free.cpus = {0, 1, 2, 3}
    assert free.threads(4) == expected
    now[0] += 1.0
    assert free.threads(4) == expected and free.threads(2) == min(2, expected)
    monkeypatch.setenv(threads.FIXED_ENV, "fixed")
    assert free.threads(4) == 4


def test_the_inference_forward_runs_on_the_chosen_threads_and_restores_the_count(monkeypatch):
    torch.manual_seed(0)
    model, x = AFUNet(stages=1).eval(), torch.rand(1, 18, 24, 32)
    seen = []
    model.conv_out.register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    monkeypatch.setattr(threads.FREE_CORES, "threads", lambda requested: 1)
    with torch.inference_mode():
        one = model(x)
    monkeypatch.setattr(threads.FREE_CORES, "threads", lambda requested: requested)
    with torch.inference_mode():
        all_ = model(x)
    assert seen == [1, before] and torch.get_num_threads() == before
    torch.testing.assert_close(one, all_, rtol=0, atol=1e-5)
    model.train()
    model(x).sum().backward()  # training keeps torch's count and asks nothing
    assert seen[-1] == before


def test_a_spinning_process_is_seen_as_a_busy_core():
    free = threads.FreeCores()
    if threads.busy_seconds(free.cpus) is None:
        pytest.skip("no /proc/stat on this system: the thread count stays as torch has it")
    with contend.competing("busy", 1):
        free.measure()
        time.sleep(0.5)
        assert free.measure() <= len(free.cpus) - 0.5


def test_a_competitor_starts_and_is_stopped():
    with contend.competing("busy", 1):
        spinners = subprocess.run(["pgrep", "-f", "contend.py busy"], capture_output=True, text=True).stdout.split()
        assert spinners
    time.sleep(0.2)
    assert not subprocess.run(["pgrep", "-f", "contend.py busy"], capture_output=True, text=True).stdout.split()
