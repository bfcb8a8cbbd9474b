"""Write files so that a reader (or a crash) never sees half of one."""

from __future__ import annotations

import contextlib
import itertools
import os
from pathlib import Path

__all__ = ["atomic_write"]

_COUNTER = itertools.count()


def atomic_write(path: Path, data: bytes | str, *, fsync: bool = True) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8) in one step.

    The bytes go to a temporary file next to ``path`` whose name carries this process's id (so
    concurrent writers never share one, and a sweep can tell a dead process's leftovers), are
    flushed to disk (unless ``fsync`` is False: for caches, where a lost write only costs time),
    and the file is renamed over ``path``. An existing file keeps its permissions; a new one gets
    the umask's. On failure the temporary file is removed and ``path`` is untouched.

    Raises:
        OSError: the folder cannot be written (missing, read-only, full disk, ...).
    """
    content = data.encode("utf-8") if isinstance(data, str) else data
    temp = path.with_name(f".{path.name}.mlvc-{os.getpid()}.{next(_COUNTER)}.tmp")
    try:
        with temp.open("xb") as handle:
            handle.write(content)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        with contextlib.suppress(FileNotFoundError):  # a new file: the umask decides
            os.chmod(temp, path.stat().st_mode & 0o7777)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
