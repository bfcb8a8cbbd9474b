"""Keep the large files a checkpoint left out of git in the content cache, off the hot path.

A checkpoint records a large file's path, size and SHA-256 and leaves it out of the tree; this
module then puts the file in the :class:`~mlvc_jupyter.core.data.cache.ContentCache` so that
reproduction can bring it back. The work runs on one background thread per writer, after the
checkpoint's ref has moved: the checkpoint itself only pays a ``stat`` per large file (is it
cached already?). The thread is not a daemon, so a CLI process finishes caching before it exits.

If the file changes before the thread reaches it, the version in the cache is the new one (it is
stored under its own hash), and the checkpoint's version cannot be restored: the drift report
says so rather than restoring wrong bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all

from mlvc_jupyter.core.data.cache import ContentCache
from mlvc_jupyter.core.records import LargeFile
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.errors import MlvcError

__all__ = ["LargeFileKeeper"]

log = logging.getLogger(__name__)


class LargeFileKeeper:
    """Copy (or hard-link) large files into the content cache on a background thread."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._cache: ContentCache | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future[str | None]] = []

    @property
    def cache(self) -> ContentCache:
        """Return the repository's content cache."""
        if self._cache is None:
            self._cache = ContentCache(self.repo)
        return self._cache

    def keep(self, files: Sequence[LargeFile]) -> None:
        """Queue each file the cache does not hold yet; return at once."""
        missing = [f for f in files if f.sha256 not in self.cache]
        if not missing:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlvc-content")
        self._pending = [p for p in self._pending if not p.done()]
        self._pending += [self._pool.submit(self._add, f) for f in missing]

    def wait(self) -> None:
        """Return once every queued file is in the cache (or has failed, with a warning)."""
        wait_all(list(self._pending))
        self._pending = []

    def _add(self, large: LargeFile) -> str | None:
        try:
            digest = self.cache.add(self.repo.root / large.path, sha256=large.sha256)
        except MlvcError as exc:
            log.warning("'%s' was not kept in the content cache: %s", large.path, exc.message)
            return None
        if digest != large.sha256:
            log.warning(
                "'%s' changed after its checkpoint: the cache keeps the new version only",
                large.path,
            )
        return digest
