"""How ``mlvc`` reports a problem: the one place an error reaches the terminal.

Every error, whether it ends the command (``main``) or only skips one file (``mlvc strip``),
prints as ``error: <what happened>`` and, when there is a fix, ``hint: <the fix>``, on stderr.
"""

from __future__ import annotations

import sys

from mlvc_jupyter.errors import MlvcError

__all__ = ["print_error"]


def print_error(error: MlvcError | OSError, *, subject: str | None = None) -> None:
    """Print ``error`` (an MlvcError with its hint, or a file the user named that failed)."""
    if isinstance(error, MlvcError):
        message, hint = error.message, error.hint
    else:
        where = f": {error.filename}" if error.filename and subject is None else ""
        message, hint = f"{error.strerror or error}{where}", None
    prefix = f"{subject}: " if subject else ""
    print(f"error: {prefix}{message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
