"""The core's error boundary: the file system's own errors become a clear ``MlvcError``.

Every verb of :class:`~mlvc_jupyter.core.manager.ExperimentManager` runs inside
:func:`file_errors`, so no raw ``OSError`` reaches a face.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

from mlvc_jupyter.errors import MlvcError

__all__ = ["file_errors"]


@contextmanager
def file_errors(verb: str) -> Iterator[None]:
    """Turn the file system's own errors into a clear ``MlvcError`` at the core's boundary.

    Git failures are already ``GitOperationError``s; this catches a folder that cannot be
    written, a file removed while it was being recorded, a full disk.
    """
    try:
        yield
    except OSError as exc:
        where = f" '{exc.filename}'" if exc.filename else ""
        raise MlvcError(
            f"{verb} failed: {exc.strerror or exc}{where}.", hint=_os_hint(exc)
        ) from exc


def _os_hint(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "The disk is full: free some space and retry; nothing was recorded."
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "Check that you may write to the repository and its .git folder."
    if exc.errno == errno.ENOENT:
        return "A file changed or vanished while mlvc read it; retry."
    return "Retry; run with logging at DEBUG (`mlvc --verbose`) to see each step."
