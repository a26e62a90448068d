"""Command-line entry points: user mistakes become one line on stderr and a non-zero exit, never a traceback.

:class:`Parser` reports a bad argument in one line; :func:`number` makes the ``type=`` of a numeric option
that checks its range at parse time, so that each option's valid range lives where the option is declared.
"""

import argparse
import math
import sys
import traceback
from collections.abc import Callable
from typing import NoReturn

from .errors import UserError


class Parser(argparse.ArgumentParser):
    """The scripts' argument parser: ``description`` kept as written, and a bad argument reported as one
    line (``error: argument --lr: must be a number > 0, got '-1' (see train.py --help)``), exit status 2."""

    def __init__(self, description: str | None = None, **kwargs) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(description=description, **kwargs)

    def error(self, message: str) -> NoReturn:
        print(f"error: {message.splitlines()[0]} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def number(kind: type = int, low: float | None = None, high: float | None = None,
           above: bool = False) -> Callable[[str], float]:  # fmt: skip
    """An argparse ``type=``: a finite ``kind`` (int or float) that is at least ``low`` (more than ``low``
    with ``above``) and at most ``high``; anything else is one line naming the range and the value."""
    bounds = [f"{'>' if above else '≥'} {low:g}"] if low is not None else []
    bounds += [f"≤ {high:g}"] if high is not None else []
    wanted = f"{'an integer' if kind is int else 'a number'}{' ' + ' and '.join(bounds) if bounds else ''}"

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            value = None
        below = value is not None and low is not None and (value <= low if above else value < low)
        beyond = value is not None and high is not None and value > high
        if value is None or (kind is float and not math.isfinite(value)) or below or beyond:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
        return value

    parse.__name__ = wanted  # what argparse calls the type
    parse.bounds = (kind, low, high, above)  # for tests: a value outside them
    return parse


POSITIVE_INT, COUNT = number(int, 1), number(int, 0)  # >= 1; >= 0
POSITIVE, NON_NEGATIVE = number(float, 0, above=True), number(float, 0)
FRACTION, SEED = number(float, 0, 1), number(int, 0, 2**32 - 1)  # NumPy's seeds are 32-bit


def run_cli(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run an entry point; report a :class:`UserError` as 'error: <message>' and return 1, Ctrl-C as 130."""
    try:
        return main(argv)
    except (UserError, KeyboardInterrupt) as e:
        return report(e)


def report(error: BaseException) -> int:
    """Print ``error`` as an entry point does and return its exit status: a :class:`UserError` as
    'error: <message>' (1), Ctrl-C as 'interrupted' (130), SystemExit as its status, anything else as its
    traceback (1)."""
    if isinstance(error, UserError):
        print(f"error: {error}", file=sys.stderr)
        return 1
    if isinstance(error, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        return 130
    if isinstance(error, SystemExit):
        return error.code if isinstance(error.code, int) else 1
    traceback.print_exception(error)
    return 1
