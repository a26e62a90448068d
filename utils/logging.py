"""Console helpers: user mistakes become one line on stderr and a non-zero exit, never a traceback."""

import sys
from collections.abc import Callable

from datasets.scene import DatasetError
from models.official import CheckpointError

from .hdr_io import ImageIOError


class UserError(Exception):
    """A problem with the user's arguments or files, reported as one line."""


USER_ERRORS = (DatasetError, CheckpointError, ImageIOError, UserError)


def run_cli(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run a command-line entry point; report user errors as 'error: <message>' and return 1."""
    try:
        return main(argv)
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
