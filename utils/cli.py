"""Command-line entry points: user mistakes become one line on stderr and a non-zero exit, never a traceback."""

import sys
from collections.abc import Callable

from .errors import UserError


def run_cli(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run an entry point; report a :class:`UserError` as 'error: <message>' and return 1, Ctrl-C as 130."""
    try:
        return main(argv)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
