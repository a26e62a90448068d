"""The user-facing errors: each is a problem with the user's arguments or files, reported as one line.

``utils.cli.run_cli`` turns any :class:`UserError` into ``error: <message>`` and exit code 1.
"""

import re

import numpy as np


class UserError(Exception):
    """A problem with the user's arguments or files; the message names the file and the problem."""


class ImageIOError(UserError, OSError):
    """A file that cannot be read or written as an image."""


class DatasetError(UserError):
    """Bad input data: a scene folder, its files or their contents."""


class CheckpointError(UserError):
    """A checkpoint that cannot be read or does not fit the model."""


class DeviceError(UserError):
    """A device that does not exist or cannot be used on this machine."""


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def first_line(error: BaseException | str) -> str:
    """The first non-empty line of an error message, without terminal colour codes."""
    text = ANSI_ESCAPE.sub("", str(error))
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def require_finite(values: "np.ndarray", what: str, hint: str = "") -> None:
    """Raise UserError('<what>: N of M values are NaN or infinite<hint>') unless every value is finite."""
    bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
    if bad:
        raise UserError(f"{what}: {bad} of {np.size(values)} values are NaN or infinite{hint}")
