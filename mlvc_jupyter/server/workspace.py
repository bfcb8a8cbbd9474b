"""What the handlers share: the server root, its repositories' managers, a thread pool, jobs.

Every request names a ``path`` relative to the server root; :meth:`Workspace.locate` resolves it
and refuses anything that lands outside the root (``..``, an absolute path, a symlink out).
Managers are kept per repository, so the query layer's in-memory listing stays warm across
requests. Git work runs on :attr:`Workspace.pool`, never on the event loop.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.errors import MlvcError
from mlvc_jupyter.server.payloads import BadRequestError, JobReply, JobState

__all__ = ["Job", "Workspace"]

POOL_THREADS = 4
MAX_JOBS = 100
"""Finished jobs kept for ``GET jobs/{id}``; the oldest finished ones are forgotten first."""


@dataclass
class Job:
    """A long core call (a reproduction) run on the pool; ``GET jobs/{id}`` reports it."""

    kind: str
    experiment: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: float = field(default_factory=time.time)
    finished: float | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    def to_dict(self) -> JobReply:
        """Return the job's JSON shape."""
        state: JobState = "running" if self.finished is None else "failed" if self.error else "done"
        return {
            "id": self.id,
            "kind": self.kind,
            "experiment": self.experiment,
            "state": state,
            "started": self.started,
            "elapsed": (self.finished or time.time()) - self.started,
            "result": self.result,
            "error": self.error,
        }


class Workspace:
    """The server root's repositories, as the REST handlers see them."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.pool = ThreadPoolExecutor(POOL_THREADS, thread_name_prefix="mlvc-server")
        self._managers: dict[Path, ExperimentManager] = {}
        self._by_folder: dict[Path, ExperimentManager] = {}
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    # -- paths ---------------------------------------------------------------------------------

    def locate(self, path: str) -> Path:
        """Return the absolute, resolved ``path`` (relative to the root; "" is the root).

        Raises:
            BadRequestError: 400 for an absolute path, ``..`` or a NUL; 403 when it resolves
                outside the root (a symlink out); 404 when nothing is there.
        """
        pure = PurePosixPath(path)
        if "\x00" in path or pure.is_absolute() or ".." in pure.parts or "\\" in path:
            raise BadRequestError(
                f"Path '{path}' is not a plain path inside the server's root folder.",
                hint="Pass a path relative to the folder Jupyter was started in, without '..'.",
            )
        target = (self.root / pure).resolve()
        if not target.is_relative_to(self.root):
            raise BadRequestError(
                f"Path '{path}' leads outside the server's root folder.",
                hint="Open the project from a folder inside Jupyter's root.",
                status=403,
            )
        if not target.exists():
            raise BadRequestError(
                f"Path '{path}' does not exist.", hint="Check the path; it may have been moved.",
                status=404,
            )  # fmt: skip
        return target

    def relative(self, path: Path) -> str:
        """Return ``path`` relative to the root when inside it, else as it is."""
        resolved = path.resolve()
        if resolved.is_relative_to(self.root):
            return resolved.relative_to(self.root).as_posix()
        return str(path)

    def manager(self, path: str) -> ExperimentManager:
        """Return the manager of the repository holding ``path`` (kept for later requests)."""
        target = self.locate(path)
        folder = target if target.is_dir() else target.parent
        with self._lock:
            known = self._by_folder.get(folder)
        if known is not None:
            return known
        opened = ExperimentManager(folder)
        with self._lock:
            manager = self._managers.setdefault(opened.root.resolve(), opened)
            self._by_folder[folder] = manager
        return manager

    # -- jobs ----------------------------------------------------------------------------------

    def submit(self, job: Job, work: Any) -> Job:
        """Run ``work()`` (returning a dict) on the pool as ``job``; return the job at once."""
        with self._lock:
            self._forget_old_jobs()
            self._jobs[job.id] = job
        self.pool.submit(self._run, job, work)
        return job

    def job(self, job_id: str) -> Job:
        """Return the job ``job_id``.

        Raises:
            BadRequestError: 404, no such job (or forgotten).
        """
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise BadRequestError(
                f"No job '{job_id}'.",
                hint="Jobs live in the server's memory: start the action again.",
                status=404,
            )
        return job

    def _run(self, job: Job, work: Any) -> None:
        try:
            job.result = work()
        except MlvcError as exc:
            job.error = exc.to_dict()
        except Exception as exc:  # a bug: the job must still end, with what went wrong
            job.error = {"type": type(exc).__name__, "message": str(exc), "hint": None}
        finally:
            job.finished = time.time()

    def _forget_old_jobs(self) -> None:
        finished = [job for job in self._jobs.values() if job.finished is not None]
        for job in sorted(finished, key=lambda j: j.started)[: max(0, len(self._jobs) - MAX_JOBS)]:
            del self._jobs[job.id]

    def close(self) -> None:
        """Stop the pool (running work finishes)."""
        self.pool.shutdown(wait=False, cancel_futures=True)
