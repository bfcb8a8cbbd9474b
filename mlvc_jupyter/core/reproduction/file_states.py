"""The exact state of working-tree files, read and written back without following a symlink.

An in-place restore keeps, for each path it touches, what was there before: nothing, a regular
file (its bytes and permission bits) or a symbolic link (its target). Undo writes that back byte
for byte. Paths come from git trees and from mlvc's own journal; each is checked before use, and
nothing is read or written through a symlinked folder, so nothing outside the project is touched.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mlvc_jupyter.core.files import atomic_write
from mlvc_jupyter.core.recording.workfiles import IsSymlinkError, WorkingFiles, display_path
from mlvc_jupyter.errors import MlvcError

__all__ = [
    "LINK_MODE",
    "FileState",
    "blob_oid",
    "check_path",
    "fingerprint",
    "read_state",
    "remove_file",
    "remove_new_dirs",
    "write_state",
]

LINK_MODE = "120000"


@dataclass(frozen=True, slots=True)
class FileState:
    """A path's content as git would store it: ``mode`` (100644, 100755, 120000), raw blob id,
    and the permission bits to give it back."""

    mode: str
    oid: str
    perm: int

    def to_dict(self) -> dict[str, object]:
        """Return the JSON form kept in the journal."""
        return {"mode": self.mode, "oid": self.oid, "perm": self.perm}

    @classmethod
    def from_dict(cls, data: object) -> FileState | None:
        """Read the journal's form back (None for "no file was there")."""
        if not isinstance(data, dict):
            return None
        return cls(str(data["mode"]), str(data["oid"]), int(data["perm"]))


def check_path(path: str) -> str:
    """Return ``path`` if it is a safe relative path inside the working tree.

    Raises:
        MlvcError: the path is absolute, empty, has a '.', '..' or '.git' part, or a NUL.
    """
    parts = path.split("/")
    bad = (
        not path
        or "\0" in path
        or "\\" in path
        or path.startswith("/")
        or any(p in ("", ".", "..") or p.casefold() in (".git", "git~1") for p in parts)
    )
    if bad:
        raise MlvcError(
            f"Refusing the path '{display_path(path)}': it is not a plain path inside the "
            "working tree.",
            hint="The checkpoint or mlvc's journal holds a hostile path; nothing was written.",
        )
    return path


def blob_oid(data: bytes, oid_length: int) -> str:
    """Return git's id of a blob of ``data`` (SHA-1, or SHA-256 for 64-digit repositories)."""
    digest = hashlib.sha256() if oid_length == 64 else hashlib.sha1()  # noqa: S324  # git's id
    digest.update(b"blob %d\0" % len(data))
    digest.update(data)
    return digest.hexdigest()


def read_state(files: WorkingFiles, path: str, oid_length: int) -> tuple[FileState, bytes] | None:
    """Return the state and bytes of ``path`` (a link's target), or None when nothing is there.

    Raises:
        MlvcError: the path is a folder, or something other than a file or a link.
        OSError: it cannot be read.
    """
    st = files.lstat(path)
    if st is None:
        return None
    if stat.S_ISLNK(st.st_mode):
        data = os.fsencode(os.readlink(files.root / path))
        return FileState(LINK_MODE, blob_oid(data, oid_length), 0o777), data
    if not stat.S_ISREG(st.st_mode):
        raise MlvcError(
            f"'{display_path(path)}' is a folder or a special file where the experiment has "
            "a file.",
            hint="Move it out of the way (nothing was written), then retry.",
        )
    try:
        read = files.read(path)
    except IsSymlinkError:  # swapped for a link meanwhile: read it as one
        return read_state(WorkingFiles(files.root), path, oid_length)
    if read is None:
        return None
    mode = "100755" if read.stat.st_mode & stat.S_IXUSR else "100644"
    perm = stat.S_IMODE(read.stat.st_mode)
    return FileState(mode, blob_oid(read.data, oid_length), perm), read.data


def fingerprint(root: Path, path: str, oid_length: int) -> str | None:
    """Return ``<mode>:<perm>:<blob id>`` of what is at ``path`` now (None: nothing)."""
    found = read_state(WorkingFiles(root), path, oid_length)
    if found is None:
        return None
    state = found[0]
    return f"{state.mode}:{state.perm:o}:{state.oid}"


def fingerprint_of(state: FileState | None) -> str | None:
    """Return the fingerprint a path has once ``state`` is written back."""
    return None if state is None else f"{state.mode}:{state.perm:o}:{state.oid}"


def _real_parents(root: Path, path: str, *, create: bool) -> Path:
    """Return ``root/path`` after checking each folder above it is a real folder (or creating
    the missing ones with ``create``).

    Raises:
        MlvcError: a folder on the way is a symbolic link or a file.
    """
    current = root
    for part in path.split("/")[:-1]:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            if not create:
                return root / path
            os.mkdir(current)
            continue
        if not stat.S_ISDIR(mode):
            raise MlvcError(
                f"Cannot write '{display_path(path)}': '{current}' is a link or a file, not a "
                "folder, and mlvc never writes through one.",
                hint="Move it aside, then retry.",
            )
    return root / path


def write_state(root: Path, path: str, state: FileState, data: bytes) -> None:
    """Put ``data`` at ``path`` as ``state`` says (a file with its permissions, or a link)."""
    target = _real_parents(root, check_path(path), create=True)
    if stat.S_ISDIR(_lmode(target)):
        raise MlvcError(
            f"Cannot write back '{display_path(path)}': a folder is there now.",
            hint="Move the folder aside, then retry.",
        )
    if state.mode == LINK_MODE:
        if _lmode(target):
            os.unlink(target)
        os.symlink(os.fsdecode(data), target)
        return
    # Replaces a link at the path, never writes through it. No fsync per file, as git's own
    # checkout: the bytes stay in the safety ref until the journal says the undo is done.
    atomic_write(target, data, fsync=False)
    os.chmod(target, state.perm)


def remove_file(root: Path, path: str) -> bool:
    """Remove the file or link at ``path`` (never a folder); return True if one was there."""
    target = _real_parents(root, check_path(path), create=False)
    mode = _lmode(target)
    if not mode or stat.S_ISDIR(mode):
        return False
    os.unlink(target)
    return True


def remove_new_dirs(root: Path, folders: Iterable[str]) -> None:
    """Remove the given folders (deepest first) where they are empty; keep any that is not."""
    for folder in sorted(folders, key=lambda f: f.count("/"), reverse=True):
        target = root / check_path(folder)
        if stat.S_ISDIR(_lmode(target)):
            try:
                target.rmdir()
            except OSError:  # not empty: something new lives there, keep it
                continue


def _lmode(path: Path) -> int:
    try:
        return os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return 0
