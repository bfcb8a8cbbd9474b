"""Tell, without running git, whether the refs a listing was read from have changed since.

A listing of every experiment reads loose refs under ``refs/mlvc/experiments/`` and ``refs/tags/``
(tags are attached to experiments) and the ``packed-refs`` file, all in the repository's common
folder, which linked worktrees share. Git changes each of them by writing a lock file and renaming
it into place (or unlinking it), so every change to a loose ref changes the stat of the folder
holding it, and every rewrite of ``packed-refs`` gives that file a new stat. Checking a state is
one ``stat`` per folder and file: microseconds, whatever the number of refs.

Stats can lie within one tick of the file system's clock (4 ms here on ext4, 1-2 s on FAT or
HFS+): two updates in the same tick may leave a folder with the same mtime, and a reused inode
with the same size (a ref file is always 41 bytes) makes the ref file look unchanged too. So, as
git does for its index ("racily clean" entries), whatever was modified shortly before the capture
is not trusted by its stat: such a folder is compared entry by entry (a ``stat`` each), and such
a file by its content. "Shortly" is ``FINE_RACY_NS`` where the file system keeps sub-second
times, else ``COARSE_RACY_NS``; only checks within that window after a write pay for it.

Reftable repositories keep refs in ``reftable/``, whose ``tables.list`` is replaced on every
update; it is watched the same way.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["COARSE_RACY_NS", "FINE_RACY_NS", "REMOTES_FOLDER", "RefsState", "capture"]

FINE_RACY_NS = 250_000_000
"""Changes this recent (ns) are checked by content, where mtimes have sub-second precision:
a clock tick (at most 10 ms on Linux) plus room for a busy scheduler."""
COARSE_RACY_NS = 3_000_000_000
"""The same where every mtime is a whole second (FAT keeps 2 s, HFS+ and ext3 1 s)."""

_FOLDERS = ("refs/mlvc/experiments", "refs/tags")
REMOTES_FOLDER = "refs/mlvc/remotes"
"""Where pull keeps remote-tracking experiments: watched by listings that include them."""
_FILES = ("packed-refs", "reftable/tables.list")

Stamp = tuple[int, int, int]
"""(inode, mtime in ns, size) of a file or folder."""
Entry = tuple[str, Stamp, bytes | None]
"""(name, stamp, content if the file was racy) of a folder's entry."""


@dataclass(frozen=True, slots=True)
class _Folder:
    path: str
    stamp: Stamp | None  # None: the folder did not exist
    entries: tuple[Entry, ...] | None  # recorded only when the folder itself was racy


@dataclass(frozen=True, slots=True)
class _File:
    path: str
    stamp: Stamp | None
    content: bytes | None  # recorded only when the file was racy


@dataclass(frozen=True, slots=True)
class RefsState:
    """The stat of every folder and file a listing depends on, taken before it was read."""

    folders: tuple[_Folder, ...]
    files: tuple[_File, ...]
    horizon: int
    """Anything modified at or after this time (ns) was racy when the state was captured."""
    complete: bool = True
    """False when the capture met an error: such a state is never current."""

    def is_current(self) -> bool:
        """Return True if no watched ref changed since the capture (a few ``stat`` calls)."""
        if not self.complete:
            return False
        try:
            for folder in self.folders:
                stamp = _stamp(folder.path)
                if stamp != folder.stamp:
                    return False
                if folder.entries is not None and _entries(folder.path, self.horizon) != (
                    folder.entries
                ):
                    return False
            return all(_file(f.path, self.horizon) == f for f in self.files)
        except OSError:
            return False


def capture(common_dir: Path, *, remotes: bool = False) -> RefsState:
    """Return the refs' state under ``common_dir`` (capture it *before* reading the refs).

    ``remotes`` watches the remote-tracking experiments too.

    A change made while the refs are read then shows as a difference at the next check, so
    the listing is read again rather than served stale.
    """
    now = time.time_ns()
    try:
        horizon = now - _racy_window(common_dir)
        watched = (*_FOLDERS, REMOTES_FOLDER) if remotes else _FOLDERS
        folders = [
            folder for rel in watched for folder in _walk(os.path.join(common_dir, rel), horizon)
        ]
        files = [_file(os.path.join(common_dir, rel), horizon) for rel in _FILES]
    except OSError:
        return RefsState((), (), now, complete=False)
    return RefsState(tuple(folders), tuple(files), horizon)


def _racy_window(common_dir: Path) -> int:
    """Return how recent a change must be to be checked by content, from the mtimes' precision.

    Raises:
        OSError: the common folder cannot be read.
    """
    paths = [os.path.join(common_dir, rel) for rel in (*_FOLDERS, *_FILES, "refs", ".")]
    stamps = [stamp for stamp in map(_stamp, paths) if stamp is not None]
    fine = any(stamp[1] % 1_000_000_000 for stamp in stamps)
    return FINE_RACY_NS if fine else COARSE_RACY_NS


def _stamp(path: str) -> Stamp | None:
    try:
        st = os.stat(path, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _walk(root: str, horizon: int) -> list[_Folder]:
    """Return ``root`` and every folder below it, each with its stamp (and entries if racy)."""
    result = []
    stack = [root]
    while stack:
        path = stack.pop()
        stamp = _stamp(path)  # before listing: a change in between shows at the next check
        if stamp is None:
            result.append(_Folder(path, None, None))
            continue
        with os.scandir(path) as listing:
            stack.extend(e.path for e in listing if e.is_dir(follow_symlinks=False))
        racy = stamp[1] >= horizon
        result.append(_Folder(path, stamp, _entries(path, horizon) if racy else None))
    return result


def _entries(path: str, horizon: int) -> tuple[Entry, ...]:
    """Return every entry of a folder with its stamp, and the content of racy files."""
    entries = []
    with os.scandir(path) as listing:
        for entry in listing:
            st = entry.stat(follow_symlinks=False)
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
            racy = st.st_mtime_ns >= horizon and entry.is_file(follow_symlinks=False)
            entries.append((entry.name, stamp, _read(entry.path) if racy else None))
    entries.sort()
    return tuple(entries)


def _file(path: str, horizon: int) -> _File:
    stamp = _stamp(path)
    racy = stamp is not None and stamp[1] >= horizon
    return _File(path, stamp, _read(path) if racy else None)


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
