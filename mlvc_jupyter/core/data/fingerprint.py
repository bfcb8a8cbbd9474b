"""Fingerprints of the data an experiment reads: size, mtime and SHA-256 of files and folders.

A folder's hash is Merkle-style: the SHA-256 of its sorted ``relpath NUL file-sha256 LF``
entries, so two folders with the same files under the same names hash alike wherever they live,
and any one changed, added, removed or renamed file changes it. Symbolic links inside a folder are
entries of their own (the hash of their target text); nothing is read through one, and ``.git``
folders are skipped.

Reading a 5 GB data set on every start would dominate it, so file hashes are cached by the file's
(path, size, mtime_ns, inode, ctime_ns) in a small sqlite file under the runtime folder
(:class:`FingerprintCache`): an unchanged file is not read again. The change time is part of the
key, as in git's index: a rewrite that restores the old mtime (``touch -d``, ``os.utime``) still
sets it. A file modified within the last two seconds is hashed but not cached (as git treats
"racily clean" index entries: a second write within the file system's timestamp granularity
would otherwise go unseen), and neither is one whose stat changed while it was read. Files are
read in parallel: ``hashlib`` releases the GIL on large buffers, so threads keep a disk busy.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlvc_jupyter.core.data.cache import hash_stream
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.errors import MlvcError

__all__ = [
    "DataDrift",
    "DataFingerprint",
    "FingerprintCache",
    "compare_fingerprints",
    "fingerprint",
    "fingerprint_data",
]

log = logging.getLogger(__name__)

_RACY_NS = 2_000_000_000
_SKIPPED_DIRS = frozenset({".git"})
_CACHE_FILE = "data/fingerprints.sqlite"


@dataclass(frozen=True, slots=True)
class DataFingerprint:
    """What a file or folder held when it was fingerprinted.

    ``path`` is relative to the repository root in POSIX form, or absolute when it lies
    outside; ``size`` and ``files`` sum a folder's regular files; ``mtime`` is the newest one's.
    """

    path: str
    kind: str
    size: int
    mtime: float
    sha256: str
    files: int

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape the record stores."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataFingerprint:
        """Return a fingerprint from :meth:`to_dict`'s shape (unknown keys are ignored)."""
        return cls(
            path=str(data["path"]),
            kind=str(data.get("kind", "file")),
            size=int(data.get("size", 0)),
            mtime=float(data.get("mtime", 0.0)),
            sha256=str(data.get("sha256", "")),
            files=int(data.get("files", 1)),
        )


@dataclass(frozen=True, slots=True)
class DataDrift:
    """One data path whose content differs between a record and now (or another record)."""

    path: str
    change: str
    """``"added"``, ``"removed"`` or ``"changed"``."""
    recorded: DataFingerprint | None
    current: DataFingerprint | None

    def describe(self) -> str:
        """Return one line saying what changed, for a drift report."""
        if self.recorded is None or self.current is None:
            return f"{self.path}: {self.change}"
        a, b = self.recorded, self.current
        sizes = f"{a.size:,} -> {b.size:,} bytes"
        if a.kind == "dir" and b.kind == "dir":
            sizes += f", {a.files:,} -> {b.files:,} files"
        return f"{self.path}: changed ({sizes}; sha256 {a.sha256[:12]} -> {b.sha256[:12]})"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "path": self.path,
            "change": self.change,
            "recorded": None if self.recorded is None else self.recorded.to_dict(),
            "current": None if self.current is None else self.current.to_dict(),
        }


def compare_fingerprints(
    recorded: Sequence[DataFingerprint], current: Sequence[DataFingerprint]
) -> list[DataDrift]:
    """Return the paths whose content differs, sorted by path (a touched file is no drift)."""
    before = {f.path: f for f in recorded}
    after = {f.path: f for f in current}
    drifts = []
    for path in sorted(before.keys() | after.keys()):
        a, b = before.get(path), after.get(path)
        if a is None:
            drifts.append(DataDrift(path, "added", None, b))
        elif b is None:
            drifts.append(DataDrift(path, "removed", a, None))
        elif (a.kind, a.sha256) != (b.kind, b.sha256):
            drifts.append(DataDrift(path, "changed", a, b))
    return drifts


@dataclass(slots=True)
class FingerprintCache:
    """File hashes by (path, size, mtime_ns, inode, ctime_ns), in sqlite; ``None`` keeps nothing.

    ``bytes_read`` counts the bytes hashed through this object (what the cache did not save).
    """

    path: Path | None
    bytes_read: int = field(default=0)

    @classmethod
    def for_repository(cls, repo: Repository) -> FingerprintCache:
        """Return the cache kept under ``repo``'s runtime folder."""
        return cls(repo.runtime_dir / _CACHE_FILE)

    @contextlib.contextmanager
    def _open(self) -> Iterator[sqlite3.Connection | None]:
        """Yield a connection, or None when there is no cache or it cannot be used."""
        if self.path is None:
            yield None
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=5.0)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, "
                "mtime_ns INTEGER, inode INTEGER, ctime_ns INTEGER, sha256 TEXT)"
            )
        except (OSError, sqlite3.Error) as exc:
            log.warning("fingerprint cache %s is unusable (%s); hashing everything", self.path, exc)
            yield None
            return
        try:
            yield conn
        finally:
            conn.close()


@dataclass(frozen=True, slots=True)
class _File:
    """One regular file or link to hash: its absolute path, name in its folder, stat."""

    absolute: str
    relative: str
    st: os.stat_result

    @property
    def key(self) -> tuple[int, int, int, int]:
        return (self.st.st_size, self.st.st_mtime_ns, self.st.st_ino, self.st.st_ctime_ns)


def fingerprint(
    paths: Iterable[str | os.PathLike[str]],
    *,
    root: Path,
    cache: FingerprintCache | None = None,
    workers: int | None = None,
) -> list[DataFingerprint]:
    """Return a fingerprint of each path (a file or a folder), in the order given.

    Relative paths are taken from ``root`` (the repository's top folder). ``cache`` serves the
    hashes of unchanged files; ``workers`` threads read the others (default: 8).

    Raises:
        MlvcError: a path does not exist or cannot be read.
    """
    cache = cache or FingerprintCache(None)
    targets = [(_display(Path(p), root), _absolute(Path(p), root)) for p in paths]
    listings = {absolute: _list(absolute, shown) for shown, absolute in targets}
    every = list({f.absolute: f for files in listings.values() for f in files}.values())
    hashes = _hash_all(every, cache, workers or 8)
    return [_summarise(shown, absolute, listings[absolute], hashes) for shown, absolute in targets]


def fingerprint_data(
    repo: Repository, paths: Iterable[str | os.PathLike[str]]
) -> list[DataFingerprint]:
    """Fingerprint ``paths`` for a record of ``repo``, through its cache under the runtime folder.

    Relative paths start at the folder the repository was opened from (the CLI's working folder,
    a notebook's); the fingerprints name them relative to the repository's root.

    Raises:
        MlvcError: a path does not exist or cannot be read.
    """
    absolute = [_absolute(Path(p), repo.base) for p in paths]
    return fingerprint(absolute, root=repo.root, cache=FingerprintCache.for_repository(repo))


def _absolute(path: Path, root: Path) -> str:
    return os.path.abspath(path if path.is_absolute() else root / path)


def _display(path: Path, root: Path) -> str:
    absolute = Path(_absolute(path, root))
    try:
        return absolute.relative_to(os.path.abspath(root)).as_posix() or "."
    except ValueError:
        return absolute.as_posix()


def _list(absolute: str, shown: str) -> list[_File]:
    """Return the files to hash under ``absolute`` (itself when it is a file), sorted."""
    try:
        st = os.lstat(absolute)
    except OSError as exc:
        raise MlvcError(
            f"Cannot fingerprint data '{shown}': {exc.strerror}.",
            hint="Check the path given with --data (relative paths start at the repository root).",
        ) from exc
    if not stat.S_ISDIR(st.st_mode):
        return [_File(absolute, "", os.stat(absolute))]  # a link given by name is followed
    files = []
    for folder, dirs, names in os.walk(absolute, onerror=_raise):
        linked = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and d not in linked)
        for name in [*names, *linked]:
            full = os.path.join(folder, name)
            entry_st = os.lstat(full)
            if stat.S_ISREG(entry_st.st_mode) or stat.S_ISLNK(entry_st.st_mode):
                rel = Path(os.path.relpath(full, absolute)).as_posix()
                files.append(_File(full, rel, entry_st))
    return sorted(files, key=lambda f: f.relative)


def _raise(exc: OSError) -> None:
    raise MlvcError(
        f"Cannot read the data folder '{exc.filename}': {exc.strerror}.",
        hint="Check its permissions.",
    ) from exc


def _hash_all(files: list[_File], cache: FingerprintCache, workers: int) -> dict[str, str]:
    """Return absolute path -> SHA-256, from the cache where the stat matches, else read."""
    hashes: dict[str, str] = {}
    with cache._open() as conn:
        todo = [f for f in files if not _cached(conn, f, hashes)]
        regular = [f for f in todo if not stat.S_ISLNK(f.st.st_mode)]
        for f in todo:
            if stat.S_ISLNK(f.st.st_mode):
                hashes[f.absolute] = _link_hash(f.absolute)
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(regular) or 1))) as pool:
            results = list(pool.map(_read, regular))
        fresh = []
        horizon = time.time_ns() - _RACY_NS
        for f, (digest, size, stable) in zip(regular, results, strict=True):
            hashes[f.absolute] = digest
            cache.bytes_read += size
            if stable and f.st.st_mtime_ns < horizon:
                fresh.append((f.absolute, *f.key, digest))
        _store(conn, fresh)
    return hashes


def _cached(conn: sqlite3.Connection | None, f: _File, hashes: dict[str, str]) -> bool:
    if conn is None or stat.S_ISLNK(f.st.st_mode):
        return False
    row = conn.execute(
        "SELECT sha256 FROM files WHERE path = ? AND size = ? AND mtime_ns = ? AND inode = ? "
        "AND ctime_ns = ?",
        (f.absolute, *f.key),
    ).fetchone()
    if row is None:
        return False
    hashes[f.absolute] = row[0]
    return True


def _store(
    conn: sqlite3.Connection | None, rows: list[tuple[str, int, int, int, int, str]]
) -> None:
    if conn is None or not rows:
        return
    try:
        with conn:
            conn.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)", rows)
    except sqlite3.Error as exc:  # a cache that cannot be written only costs time next run
        log.warning("could not update the fingerprint cache: %s", exc)


def _read(f: _File) -> tuple[str, int, bool]:
    """Hash one file; say whether its stat held still while it was read."""
    try:
        with open(f.absolute, "rb") as handle:
            before = os.fstat(handle.fileno())
            digest, size = hash_stream(handle)
            after = os.fstat(handle.fileno())
    except OSError as exc:
        raise MlvcError(
            f"Cannot read data file '{f.absolute}': {exc.strerror}.",
            hint="Check its permissions, or leave it out of --data.",
        ) from exc
    stable = (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
    seen = (before.st_size, before.st_mtime_ns, before.st_ino, before.st_ctime_ns)
    return digest, size, stable and seen == f.key


def _link_hash(path: str) -> str:
    return hashlib.sha256(b"link\0" + os.fsencode(os.readlink(path))).hexdigest()


def _summarise(
    shown: str, absolute: str, files: list[_File], hashes: Mapping[str, str]
) -> DataFingerprint:
    regular = [f for f in files if not stat.S_ISLNK(f.st.st_mode)]
    size = sum(f.st.st_size for f in regular)
    mtime = max((f.st.st_mtime for f in regular), default=os.lstat(absolute).st_mtime)
    if len(files) == 1 and files[0].relative == "":
        return DataFingerprint(shown, "file", size, mtime, hashes[absolute], 1)
    merkle = hashlib.sha256()
    for f in files:
        merkle.update(f"{f.relative}\0{hashes[f.absolute]}\n".encode("utf-8", "surrogateescape"))
    return DataFingerprint(shown, "dir", size, mtime, merkle.hexdigest(), len(regular))
