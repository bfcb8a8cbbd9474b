"""Move an experiment's ref by compare-and-swap, waiting out ref locks and clearing stale ones.

``update-ref <ref> <new> <expected>`` moves the ref only if it still points at ``expected``, so
concurrent writers never overwrite each other's checkpoints: the loser is told, re-parents its
commit and retries. git holds ``<ref>.lock`` for the milliseconds an update takes and writes no
pid into it; a lock under ``refs/mlvc/`` older than a few seconds was left by a process killed
mid-update, and is removed. Locks anywhere else are never touched.
"""

from __future__ import annotations

import enum
import logging
import time

from mlvc_jupyter.core.repo.refs import REFS
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.errors import GitOperationError, MlvcError

__all__ = ["STALE_LOCK_SECONDS", "Outcome", "compare_and_swap", "gave_up_error"]

log = logging.getLogger(__name__)

STALE_LOCK_SECONDS = 5.0


class Outcome(enum.Enum):
    """What a compare-and-swap ref update did."""

    MOVED = "moved"
    LOST = "lost"  # another writer moved the ref first
    BUSY = "busy"  # the ref was locked


def compare_and_swap(repo: Repository, ref: str, new: str, expected: str) -> Outcome:
    """Move ``ref`` from ``expected`` (the null id: absent) to ``new``; say what happened.

    Raises:
        GitOperationError: git failed for another reason than a race or a lock.
    """
    try:
        repo.git.run("update-ref", "--no-deref", ref, new, expected)
    except GitOperationError as exc:
        current = repo.ref_exists(ref) or repo.null_oid
        if current != expected:
            return Outcome.LOST  # another writer moved it: re-parent and retry
        if _clear_stale_lock(repo, ref) or "File exists" in exc.stderr:
            return Outcome.BUSY  # a writer holds (or a dead one left) the lock: retry
        raise
    return Outcome.MOVED


def gave_up_error(repo: Repository, experiment_id: str, ref: str, waited: float) -> MlvcError:
    """Return the error for a checkpoint that could not move ``ref`` within ``waited`` s."""
    lock = repo.paths.common_dir / f"{ref}.lock"
    if lock.exists():
        return MlvcError(
            f"Could not record a checkpoint of '{experiment_id}': {lock} has been held "
            f"for {waited:g} s.",
            hint="If no mlvc process is running, delete that file (mlvc removes its own "
            f"ref locks once they are {STALE_LOCK_SECONDS:g} s old) and retry.",
        )
    return MlvcError(
        f"Could not record a checkpoint of '{experiment_id}': other writers kept "
        f"updating it for {waited:g} s.",
        hint="Retry; if it persists, check for a runaway process committing in a loop.",
    )


def _clear_stale_lock(repo: Repository, ref: str) -> bool:
    """Remove ``<ref>.lock`` if it is ours (under refs/mlvc/) and stale; say if it did."""
    lock = repo.paths.common_dir / f"{ref}.lock"
    try:
        age = time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return False
    if not ref.startswith(f"{REFS}/") or age < STALE_LOCK_SECONDS:
        return False
    log.warning("removing stale lock %s (%.0f s old)", lock, age)
    lock.unlink(missing_ok=True)
    return True
