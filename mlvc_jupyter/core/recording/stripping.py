"""Notebooks as a checkpoint stores them: read whole, stripped, cached by their stat.

A notebook is read only when its stat is not in the cache, and then until one read is whole: a
Jupyter save writes the file in place (a read can see it half written), an atomic save renames
a new file over it. A torn read does not parse, so it is retried rather than stored: until the
checkpoint's deadline while the file is still being written (a busy machine can make every read of
a notebook saved in a loop land mid-save), and a notebook that never reads whole is refused, never
stored torn. Only a settled file that does not parse is stored as it is, with a warning. The cache
(``<runtime>/strip-cache.json``, shared by the kernel and the CLI) trusts a stat only when the
file was last written more than two seconds before it was read: the clock that stamps files
ticks coarsely, so a later write of the same size could leave the stat unchanged, as with git's
racily clean entries.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mlvc_jupyter.core.files import atomic_write
from mlvc_jupyter.core.notebooks.strip import strip_bytes
from mlvc_jupyter.core.recording.workfiles import (
    FileRead,
    IsSymlinkError,
    WorkingFiles,
    display_path,
)
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.errors import MlvcError, UnreadableNotebookError

__all__ = ["NotebookStripper", "StrippedNotebook"]

# Pauses between reads of a notebook that is being saved; the last repeats until the deadline.
_READ_PAUSES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3)
# A file untouched for this long is not being written, and its stat identifies its content.
_SETTLED_NS = 2 * 10**9


@dataclass(slots=True)
class StrippedNotebook:
    """One notebook's stored form: a cached blob id, or content still to be written."""

    path: str
    oid: str | None = None
    content: bytes | None = None
    read: FileRead | None = None
    warning: str | None = None
    gone: bool = False
    skipped: bool = False

    def to_dict(self) -> dict[str, object]:
        """Return the notebook's entry in the record."""
        return {"path": display_path(self.path), "stripped": self.warning is None,
                "warning": self.warning}  # fmt: skip


class NotebookStripper:
    """Strip one repository's notebooks, keeping stripped blob ids by the file's stat."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._strip_cache: dict[str, list[object]] | None = None
        self._strip_cache_dirty = False

    def strip(self, path: str, files: WorkingFiles, deadline: float) -> StrippedNotebook:
        """Return a notebook's stored form: from the cache when its stat is known, else read.

        Raises:
            MlvcError: the notebook kept changing for the whole time it was read.
        """
        st = files.lstat(path)
        if st is None:
            return StrippedNotebook(path, gone=True)
        cached = self._load_cache().get(path)
        if cached is not None and cached[:5] == self._key(st):
            return StrippedNotebook(path, oid=str(cached[5]), warning=_opt_str(cached[6]))
        try:
            return self._read_and_strip(path, files, deadline)
        except IsSymlinkError:  # became a link: the index keeps what git staged for it
            return StrippedNotebook(path, skipped=True)

    def _read_and_strip(self, path: str, files: WorkingFiles, deadline: float) -> StrippedNotebook:
        """Read a notebook until one read is whole (a save can be under way), then strip it."""
        unparseable: tuple[FileRead, UnreadableNotebookError] | None = None
        for pause in _pauses():
            got = files.read(path)
            if got is None:
                return StrippedNotebook(path, gone=True)
            if got.stable:
                try:
                    return StrippedNotebook(path, content=self._strip_bytes(got.data), read=got)
                except UnreadableNotebookError as error:
                    unparseable = (got, error)
                    if _is_settled(got.stat):  # not being written: it is broken, not torn
                        break
            else:
                unparseable = None
            if time.monotonic() + pause > deadline:
                break
            time.sleep(pause)
        if unparseable is None or not _is_settled(unparseable[0].stat):  # torn to the end
            raise MlvcError(
                f"The notebook '{display_path(path)}' kept changing while the checkpoint read it.",
                hint="Retry the checkpoint once the notebook has been saved.",
            )
        got, problem = unparseable
        warning = f"stored as it is: {problem.message}"
        return StrippedNotebook(path, content=got.data, read=got, warning=warning)

    def _strip_bytes(self, raw: bytes) -> bytes:
        settings = self.repo.settings
        return strip_bytes(
            raw, extra_keys=settings.strip_extra_keys, keep_output_tag=settings.keep_output_tag
        )

    def remember(self, stripped: StrippedNotebook, oid: str) -> None:
        """Cache a stripped blob by the stat it was read with, unless that stat may lie.

        A file written in the last moments can change again without its stat changing (the
        clock ticks coarsely): such a read is not cached, as git does with racy entries.
        """
        got = stripped.read
        if got is None or not _is_settled(got.stat):
            return
        self._load_cache()[stripped.path] = [*self._key(got.stat), oid, stripped.warning]
        self._strip_cache_dirty = True

    def forget(self) -> None:
        """Drop the stripped-notebook cache (a cached blob was pruned by gc, say)."""
        self._strip_cache = {}
        self._strip_cache_dirty = True

    # -- the stripped-notebook cache ------------------------------------------------------------

    def _key(self, st: os.stat_result) -> list[object]:
        """Return what identifies a file's content and the stripping of it."""
        settings = self.repo.settings
        strip = json.dumps([list(settings.strip_extra_keys), settings.keep_output_tag])
        return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, strip]

    def _cache_file(self) -> Path:
        return self.repo.runtime_dir / "strip-cache.json"

    def _load_cache(self) -> dict[str, list[object]]:
        if self._strip_cache is None:
            try:
                loaded = json.loads(self._cache_file().read_text())
                self._strip_cache = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):  # a missing or torn cache is only a slower snapshot
                self._strip_cache = {}
        return self._strip_cache

    def save(self) -> None:
        """Write the cache back if it changed (atomically: a torn cache is only ignored)."""
        if not self._strip_cache_dirty or self._strip_cache is None:
            return
        # A cache: a write lost in a crash only costs time, so it is not flushed to disk.
        atomic_write(self._cache_file(), json.dumps(self._strip_cache), fsync=False)
        self._strip_cache_dirty = False


def _pauses() -> Iterator[float]:
    """Yield the pauses between reads: short ones first, then the longest until the deadline."""
    yield from _READ_PAUSES
    while True:
        yield _READ_PAUSES[-1]


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _is_settled(st: os.stat_result) -> bool:
    return time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > _SETTLED_NS
