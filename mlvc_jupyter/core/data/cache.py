"""A local content-addressed cache of files kept out of git, so reproduction can bring them back.

Entries live under ``<git-common-dir>/mlvc/content/ab/cdef…`` (the SHA-256 of the content, split
after two hex digits as git splits its loose objects), so linked worktrees share one cache and
``git status`` never sees it. A file is added by a copy-on-write clone where the file system has
one, else by a hard link (same device), else by a copy, always through a temporary name and a
rename, so a reader never sees half an entry.

A hard link shares the user's inode: a program that later rewrites that file *in place* (opening
it with ``"wb"`` truncates the same inode) changes the cached bytes too. That is why an entry is
never trusted blindly: :meth:`ContentCache.restore` verifies the SHA-256 while it copies, drops an
entry whose bytes no longer match its name, and reports it absent. Restored files are copies, so
editing one never reaches the cache.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mlvc_jupyter.core.recording.workfiles import sweep_dead, unique_suffix
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.errors import DirtyWorkingTreeError, MlvcError

__all__ = ["CONTENT_DIR", "ContentCache", "PruneResult", "hash_stream"]

log = logging.getLogger(__name__)

CONTENT_DIR = "content"
"""Folder of the runtime folder that holds the cache."""
_CHUNK = 1 << 20
_FICLONE = 0x40049409  # linux/fs.h: clone a whole file (btrfs, XFS, bcachefs: copy-on-write)


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What :meth:`ContentCache.prune` removed: how many entries, and their bytes."""

    count: int
    bytes: int

    def to_dict(self) -> dict[str, int]:
        """Return ``{"count", "bytes"}``."""
        return {"count": self.count, "bytes": self.bytes}


def hash_stream(source: BinaryIO, sink: BinaryIO | None = None) -> tuple[str, int]:
    """Return (SHA-256, byte count) of what ``source`` holds, copying it to ``sink`` if given."""
    digest, total = hashlib.sha256(), 0
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    while n := source.readinto(buffer):  # type: ignore[attr-defined]  # raw and buffered files have it
        digest.update(view[:n])
        if sink is not None:
            sink.write(view[:n])
        total += n
    return digest.hexdigest(), total


class ContentCache:
    """Files addressed by their SHA-256 under ``<git-common-dir>/mlvc/content/``."""

    def __init__(self, repo: Repository) -> None:
        self.root = repo.runtime_dir / CONTENT_DIR
        self._swept = False

    @classmethod
    def for_repository(cls, repo: Repository) -> ContentCache:
        """Return the cache of ``repo`` (same as ``ContentCache(repo)``)."""
        return cls(repo)

    def path_of(self, sha256: str) -> Path:
        """Return where the entry for ``sha256`` lives (whether or not it exists)."""
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise MlvcError(
                f"'{sha256}' is not a SHA-256 (64 lowercase hex digits).",
                hint="Pass the sha256 recorded for the file (`mlvc show <id>` lists them).",
            )
        return self.root / sha256[:2] / sha256[2:]

    def __contains__(self, sha256: object) -> bool:
        return isinstance(sha256, str) and _is_file(self.path_of(sha256))

    def entries(self) -> Iterator[tuple[str, Path]]:
        """Yield (sha256, path) of every entry."""
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if len(folder.name) != 2 or not folder.is_dir():
                continue
            for entry in sorted(folder.iterdir()):
                if len(entry.name) == 62:
                    yield folder.name + entry.name, entry

    # -- adding ---------------------------------------------------------------------------------

    def add(self, path: Path, *, sha256: str | None = None) -> str:
        """Put the file at ``path`` in the cache and return its SHA-256.

        ``sha256``, when the caller hashed the file already, lets an entry that exists return at
        once. Otherwise the file is cloned, linked or copied to a temporary name, hashed there
        (what is stored is exactly what is named) and renamed into place.

        Raises:
            MlvcError: ``path`` is not a readable regular file, or the cache cannot be written.
        """
        if sha256 is not None and sha256 in self:
            return sha256
        tmp = self._tmp_dir() / f"add.{unique_suffix()}"
        try:
            digest = self._place(Path(path), tmp)
            final = self.path_of(digest)
            if not _is_file(final):
                final.parent.mkdir(exist_ok=True)
                os.replace(tmp, final)
        except OSError as exc:
            raise MlvcError(
                f"Cannot put '{path}' in the content cache: {exc.strerror or exc}.",
                hint=f"Check that '{path}' is a readable file and that {self.root} is writable.",
            ) from exc
        finally:
            tmp.unlink(missing_ok=True)
        return digest

    def _place(self, source: Path, tmp: Path) -> str:
        """Clone, link or copy ``source`` to ``tmp``; return the SHA-256 of what ``tmp`` holds."""
        with open(source, "rb") as src:
            if not _is_regular(src):
                raise OSError(errno.EINVAL, "not a regular file", str(source))
            if _clone(src, tmp):
                return _hash_file(tmp)
        with contextlib.suppress(OSError):  # another device, or links unsupported: copy
            os.link(source, tmp, follow_symlinks=False)
            return _hash_file(tmp)
        with open(source, "rb") as src, open(tmp, "xb") as sink:
            digest, _ = hash_stream(src, sink)
        return digest

    def _tmp_dir(self) -> Path:
        folder = self.root / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        if not self._swept:
            sweep_dead(folder)
            self._swept = True
        return folder

    # -- restoring ------------------------------------------------------------------------------

    def restore(self, sha256: str, dest: Path, *, overwrite: bool = False) -> bool:
        """Copy the entry ``sha256`` to ``dest``; return False when the cache does not hold it.

        The copy is verified against ``sha256`` on the way (an entry whose bytes changed, which a
        hard link allows, is dropped and counts as absent). A ``dest`` that already holds those
        bytes is left as it is.

        Raises:
            DirtyWorkingTreeError: ``dest`` exists with other content and ``overwrite`` is False.
            MlvcError: ``dest`` cannot be written.
        """
        entry = self.path_of(sha256)
        if not _is_file(entry):
            return False
        dest = Path(dest)
        if dest.exists() and _same_content(dest, sha256):
            return True
        if (dest.exists() or dest.is_symlink()) and not overwrite:
            raise DirtyWorkingTreeError(
                f"'{dest}' exists with other content, so the cached file {sha256[:12]} was not "
                "restored over it.",
                paths=[str(dest)],
                hint="Move the file away (or commit it) and restore again.",
            )
        try:
            return self._copy_verified(entry, sha256, dest)
        except OSError as exc:
            raise MlvcError(
                f"Cannot restore '{dest}' from the content cache: {exc.strerror or exc}.",
                hint=f"Check that {dest.parent} is writable and the disk has room.",
            ) from exc

    def _copy_verified(self, entry: Path, sha256: str, dest: Path) -> bool:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.mlvc-{unique_suffix()}.tmp")
        try:
            with open(entry, "rb") as src, open(tmp, "xb") as sink:
                digest, _ = hash_stream(src, sink)
            if digest != sha256:
                log.warning("cache entry %s was changed in place; dropping it", sha256)
                entry.unlink(missing_ok=True)
                return False
            os.replace(tmp, dest)
            return True
        finally:
            tmp.unlink(missing_ok=True)

    # -- pruning --------------------------------------------------------------------------------

    def prune(self, keep: set[str]) -> PruneResult:
        """Remove every entry not in ``keep``; return how many and how many bytes went."""
        count = size = 0
        for sha256, entry in list(self.entries()):
            if sha256 in keep:
                continue
            with contextlib.suppress(FileNotFoundError):
                size += entry.stat().st_size
                entry.unlink()
                count += 1
        for folder in self.root.glob("??"):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only empty ones go
        return PruneResult(count=count, bytes=size)


def _is_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _is_regular(handle: BinaryIO) -> bool:
    return stat.S_ISREG(os.fstat(handle.fileno()).st_mode)


def _clone(src: BinaryIO, tmp: Path) -> bool:
    """Make ``tmp`` a copy-on-write clone of ``src`` when the file system can; else False."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return False
    with open(tmp, "xb") as sink:
        try:
            fcntl.ioctl(sink.fileno(), _FICLONE, src.fileno())
        except OSError:
            cloned = False
        else:
            cloned = True
    if not cloned:
        tmp.unlink()
    return cloned


def _hash_file(path: Path) -> str:
    with open(path, "rb") as handle:
        return hash_stream(handle)[0]


def _same_content(path: Path, sha256: str) -> bool:
    if not _is_file(path):
        return False
    return _hash_file(path) == sha256
