"""Stopping a run cleanly: signals that finish the current step first, and a diverged loss."""

import signal
from typing import Any


class TrainingDiverged(RuntimeError):
    """The loss became NaN or Inf."""


class StopFlag:
    """While active, Ctrl-C / SIGTERM only set a flag: the loop finishes its step, saves and exits."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self) -> "StopFlag":
        self.signal: str | None = None
        self.previous = [signal.signal(sig, self._handle) for sig in self.SIGNALS]
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in zip(self.SIGNALS, self.previous):
            signal.signal(sig, handler)

    def _handle(self, signum: int, _frame: Any) -> None:
        self.signal = signal.Signals(signum).name
