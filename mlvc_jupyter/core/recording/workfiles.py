"""Look at working-tree files the way git does: never through a symbolic link.

git stores a symlink as a link (mode 120000, the blob is its target) and treats a path below a
symlinked folder as gone. A checkpoint reads notebooks and measures large files itself, so it
must do the same, or ``ln -s /etc/passwd passwd.ipynb`` would put a file from outside the
project into the repository. Reads walk the path one folder at a time with ``O_NOFOLLOW``, so a
folder swapped for a link while a checkpoint runs is refused too.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import logging
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "sweep_dead",
    "FileRead",
    "IsSymlinkError",
    "WorkingFiles",
    "display_path",
    "unique_suffix",
]

log = logging.getLogger(__name__)

_COUNTER = itertools.count()
_GONE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class IsSymlinkError(Exception):
    """The path itself is a symbolic link (or not a regular file): git stores it as it is."""


@dataclass(frozen=True, slots=True)
class FileRead:
    """A file's bytes and its stat; ``stable`` when nothing wrote to it during the read."""

    data: bytes
    stat: os.stat_result
    stable: bool


class WorkingFiles:
    """Stat and read files under ``root`` without following any symlink on the way.

    Which folders are real (not links) is remembered for the life of the object: make one per
    checkpoint.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._real_dirs: dict[str, bool] = {"": True}

    def lstat(self, path: str) -> os.stat_result | None:
        """Return the stat of ``path`` (a link's own), or None if it is gone as git sees it.

        A path below a symlinked folder (or below a file) is gone: git would record it deleted.
        """
        if not self._is_real_dir(_parent(path)):
            return None
        try:
            return os.lstat(self.root / path)
        except OSError as exc:
            if exc.errno in _GONE:
                return None
            raise

    def read(self, path: str) -> FileRead | None:
        """Read a regular file whole; None if it is gone (vanished, or below a symlink).

        Raises:
            IsSymlinkError: ``path`` is a symlink, a folder or another special file.
            OSError: the file exists but cannot be read (permissions, I/O).
        """
        fd = self._open(path)
        if fd is None:
            return None
        try:
            before = os.fstat(fd)
            if not stat.S_ISREG(before.st_mode):
                raise IsSymlinkError(path)
            data = _read_all(fd, before.st_size)
            after = os.fstat(fd)
        finally:
            os.close(fd)
        stable = _same(before, after) and len(data) == after.st_size
        return FileRead(data=data, stat=after, stable=stable)

    def sha256(self, path: str) -> str | None:
        """Return the SHA-256 of a regular file, read in chunks; None if it is gone.

        Raises:
            IsSymlinkError: ``path`` is not a regular file.
        """
        fd = self._open(path)
        if fd is None:
            return None
        digest = hashlib.sha256()
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise IsSymlinkError(path)
            while chunk := os.read(fd, 1 << 20):
                digest.update(chunk)
        finally:
            os.close(fd)
        return digest.hexdigest()

    def _open(self, path: str) -> int | None:
        parts = path.split("/")
        dir_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for part in parts[:-1]:
                next_fd = os.open(part, _OPEN_FLAGS | os.O_DIRECTORY, dir_fd=dir_fd)
                os.close(dir_fd)
                dir_fd = next_fd
            return os.open(parts[-1], _OPEN_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP and self._is_real_dir(_parent(path)):
                raise IsSymlinkError(path) from exc
            if exc.errno in _GONE:
                return None
            raise
        finally:
            os.close(dir_fd)

    def _is_real_dir(self, folder: str) -> bool:
        known = self._real_dirs.get(folder)
        if known is None:
            known = self._is_real_dir(_parent(folder)) and _lstat_is_dir(self.root / folder)
            self._real_dirs[folder] = known
        return known


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def _lstat_is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _read_all(fd: int, size_hint: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, max(size_hint + 1, 1 << 16)):
        chunks.append(chunk)
    return b"".join(chunks)


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_size, a.st_mtime_ns, a.st_ctime_ns) == (b.st_size, b.st_mtime_ns, b.st_ctime_ns)


def display_path(path: str) -> str:
    """Return a path as valid Unicode: bytes that are not UTF-8 become ``\\xNN`` escapes.

    git stores names as bytes; paths here carry such bytes as surrogate escapes, which no JSON
    encoder or terminal accepts.
    """
    if path.isascii():
        return path
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def unique_suffix() -> str:
    """Return ``<pid>.<n>``, unique across the threads of this process, for temporary names."""
    return f"{os.getpid()}.{next(_COUNTER)}"


def sweep_dead(tmp_dir: Path) -> None:
    """Remove temporary files left by mlvc processes that died (killed mid-checkpoint, say).

    Only names mlvc writes here (``<kind>.<pid>.<n>``) whose process no longer exists are
    touched; files of live processes are left alone.
    """
    for entry in tmp_dir.iterdir():
        parts = entry.name.split(".")
        if len(parts) < 3 or not parts[1].isdigit() or _is_alive(int(parts[1])):
            continue
        log.info("removing %s, left by a process that died", entry)
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True
