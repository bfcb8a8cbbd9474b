"""Keep loose objects bounded while recording: git's own ``gc --auto``, in the background.

mlvc pins ``gc.auto=0`` on its own git calls, so a checkpoint never waits for a repack, and
without anything else 10,000 experiments leave some 80,000 loose objects. So, after the first
checkpoint a process records and after every ``gc-auto-every``-th one (a setting, default 100;
0 turns this off), a daemon thread makes git's own estimate of the loose objects (it counts
one of the 256 object folders, ``objects/17``) and, past ``gc-auto-limit`` (default 6700, git's
``gc.auto``), runs ``git -c gc.auto=<limit> gc --auto --quiet``, which packs them incrementally
(``repack -d -l``) as it would after a user's own ``git commit``. The checkpoint
only counts and, now and then, starts that thread; at most one runs per repository and process.
``gc --auto`` prunes nothing younger than git's grace period, so objects a checkpoint is
writing are never at risk.
"""

from __future__ import annotations

import logging
import os
import threading

from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.errors import MlvcError

__all__ = ["AutoGc"]

log = logging.getLogger("mlvc_jupyter.gc")


class AutoGc:
    """Count one repository's checkpoints and now and then start git's ``gc --auto``."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self.checkpoints = 0
        self.runs = 0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def checkpoint_landed(self) -> None:
        """Note a recorded checkpoint; start a background ``gc --auto`` when it is due."""
        every = self.repo.settings.gc_auto_every
        with self._lock:
            self.checkpoints += 1
            due = every > 0 and (self.checkpoints - 1) % every == 0
            if not due or (self._thread is not None and self._thread.is_alive()):
                return
            self._thread = threading.Thread(target=self._run, name="mlvc-auto-gc", daemon=True)
            self._thread.start()

    def is_due(self, limit: int) -> bool:
        """Return True when git's own estimate (the loose objects of folder ``17``, times 256)
        passes ``limit``: the same test ``gc --auto`` makes, without starting a process."""
        folder = self.repo.paths.common_dir / "objects" / "17"
        try:
            loose = sum(1 for entry in os.scandir(folder) if len(entry.name) >= 38)
        except FileNotFoundError:
            return False
        return loose > -(-limit // 256)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a running background ``gc --auto`` (tests, benchmarks, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        limit = self.repo.settings.gc_auto_limit
        if not self.is_due(limit):
            return
        try:
            self.repo.git.run(
                "-c", f"gc.auto={limit}", "-c", "gc.autoDetach=false", "gc", "--auto", "--quiet"
            )
        except MlvcError as exc:  # background housekeeping: a failure must not stop recording
            log.warning("automatic git gc failed: %s", exc)
        self.runs += 1
