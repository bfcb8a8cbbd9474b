"""Record checkpoints in the background, one worker thread per repository.

``submit`` queues a checkpoint request and returns at once, so a training loop does not wait for
git. The worker takes the oldest request and absorbs every other queued request of the same
experiment into one checkpoint: a burst of 50 requests made while a checkpoint was being written
becomes one checkpoint whose message lists every absorbed message (``"step 100; step 200"``), with
the newest configs and details. Nothing is dropped: each message is in exactly one checkpoint.

``wait`` blocks until the queue is drained and raises the first error a background checkpoint hit
(an :class:`~mlvc_jupyter.errors.MlvcError` of the class it was raised with), so errors never
vanish; at interpreter exit the queues are drained and errors are logged. The thread starts on
demand and ends when the queue is empty, so an idle repository costs no thread.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlvc_jupyter.errors import MlvcError

if TYPE_CHECKING:
    from mlvc_jupyter.core.manager import ExperimentManager

__all__ = ["CommitWorker", "Details", "wait_all", "worker_for"]

log = logging.getLogger(__name__)

Details = Mapping[str, Any] | Callable[[], Mapping[str, Any]]
"""A details mapping, or a function returning one, called on the worker just before committing."""

MESSAGE_SEPARATOR = "; "
EXIT_TIMEOUT = 120.0

_WORKERS: dict[Path, CommitWorker] = {}
_REGISTRY_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class _Request:
    experiment_id: str
    message: str | None
    configs: Any
    details: Details | None


class CommitWorker:
    """A queue of checkpoint requests for one repository, drained by one daemon thread."""

    def __init__(self, manager: ExperimentManager) -> None:
        self.manager = manager
        self._queue: list[_Request] = []
        self._busy = False
        self._thread: threading.Thread | None = None
        self._errors: list[tuple[str, BaseException]] = []
        self._cond = threading.Condition()
        self.recorded = 0
        """How many checkpoints this worker has written (coalesced ones count once)."""

    def submit(
        self,
        experiment_id: str,
        *,
        message: str | None = None,
        configs: Any = None,
        details: Details | None = None,
    ) -> None:
        """Queue a checkpoint of ``experiment_id`` and return at once."""
        with self._cond:
            self._queue.append(_Request(experiment_id, message, configs, details))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"mlvc-commit-worker:{self.manager.root}", daemon=True
                )
                self._thread.start()

    @property
    def pending(self) -> int:
        """Return how many requests are queued or being recorded."""
        with self._cond:
            return len(self._queue) + (1 if self._busy else 0)

    def wait(self, timeout: float | None = None) -> None:
        """Block until every queued checkpoint is recorded; raise the first background error.

        Raises:
            MlvcError: a background checkpoint failed (raised once, then forgotten), or the
                queue was not drained within ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise MlvcError(
                        f"{self.pending} background checkpoint(s) were still being recorded "
                        f"after {timeout:.0f} s.",
                        hint="They continue in the background; wait again, or check for a "
                        "git process that hangs (a held lock, a network filesystem).",
                    )
                self._cond.wait(remaining)
            errors, self._errors = self._errors, []
        if errors:
            raise _summarise(errors)

    # -- the thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    self._thread = None
                    self._cond.notify_all()
                    return
                batch = self._take_batch()
                self._busy = True
            try:
                self._record(batch)
            except BaseException as exc:  # noqa: BLE001 -- kept and re-raised by wait()
                log.warning("background checkpoint of %r failed: %s", batch[0].experiment_id, exc)
                with self._cond:
                    self._errors.append((batch[0].experiment_id, exc))
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _take_batch(self) -> list[_Request]:
        """Pop the oldest request and every later one of the same experiment (lock held)."""
        experiment_id = self._queue[0].experiment_id
        batch = [r for r in self._queue if r.experiment_id == experiment_id]
        self._queue = [r for r in self._queue if r.experiment_id != experiment_id]
        return batch

    def _record(self, batch: list[_Request]) -> None:
        messages = [r.message for r in batch if r.message]
        configs = next((r.configs for r in reversed(batch) if r.configs is not None), None)
        details = next((r.details for r in reversed(batch) if r.details is not None), None)
        self.manager.commit(
            batch[0].experiment_id,
            message=MESSAGE_SEPARATOR.join(messages) if messages else None,
            configs=configs,
            details=details() if callable(details) else details,
        )
        self.recorded += 1


def _summarise(errors: list[tuple[str, BaseException]]) -> MlvcError:
    """Return the error ``wait`` raises: the first one, of its own class, saying where it arose.

    An :class:`MlvcError` keeps its class and attributes (a caller may catch
    ``ExperimentNotFoundError``); only its message gains the context. Anything else is
    wrapped, with the original as the cause.
    """
    experiment_id, first = errors[0]
    context = f"A background checkpoint of '{experiment_id}' failed: "
    more = f" ({len(errors) - 1} more failed after it)" if len(errors) > 1 else ""
    if isinstance(first, MlvcError):
        first.message = f"{context}{first.message}{more}"
        first.args = (first.message,)
        return first
    error = MlvcError(
        f"{context}{type(first).__name__}: {first}{more}",
        hint="Fix the cause and record the checkpoint again (without --async to see it at once).",
    )
    error.__cause__ = first
    return error


def worker_for(manager: ExperimentManager) -> CommitWorker:
    """Return the worker of ``manager``'s repository, creating it (one per repository root).

    Pass the process's one manager of the repository: the worker records through the manager it
    was created with.
    """
    root = manager.root.resolve()
    with _REGISTRY_LOCK:
        worker = _WORKERS.get(root)
        if worker is None:
            if not _WORKERS:
                atexit.register(_drain_at_exit)
            worker = _WORKERS[root] = CommitWorker(manager)
        return worker


def wait_all(timeout: float | None = None) -> None:
    """Wait for every repository's worker; raise the first error (after waiting for all).

    Raises:
        MlvcError: a background checkpoint failed, or a queue was not drained in time.
    """
    with _REGISTRY_LOCK:
        workers = list(_WORKERS.values())
    first: MlvcError | None = None
    for worker in workers:
        try:
            worker.wait(timeout)
        except MlvcError as exc:
            first = first or exc
    if first is not None:
        raise first


def _drain_at_exit() -> None:
    try:
        wait_all(EXIT_TIMEOUT)
    except MlvcError:  # nobody is left to raise to: say it on stderr through logging
        log.exception("mlvc: background checkpoints did not all complete at exit")
