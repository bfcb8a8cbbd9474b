"""One running experiment, driven the same way by every face.

An :class:`ExperimentSession` is what the magics, the specification API, the CLI and the REST
server hold while an experiment runs. It owns the experiment's tracker and the order of work
every checkpoint needs: flush the metrics logged so far, let queued background checkpoints land
first, then record. Ending waits for the queue, takes the tracker's last values as the final
metrics when none are given, records a failure with its error, and closes the tracker.
With remote trackers (``backend="local,mlflow"``) the session tells them the configs and each
checkpoint's commit, ends their runs with the final metrics, and puts what they could not
receive into the final checkpoint's warnings.

Faces pass what only they know (a kernel's notebook path and executed cells, a seed) as plain
``details``: a mapping, or a function returning one that runs when the checkpoint is taken (so a
background checkpoint can capture the kernel at once and read git later).
"""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mlvc_jupyter.core.configs.values import serialise_configs
from mlvc_jupyter.core.recording.worker import CommitWorker, Details, worker_for
from mlvc_jupyter.core.reproduction import linking
from mlvc_jupyter.core.tracking.fanout import FanOutTracker

if TYPE_CHECKING:
    from pathlib import Path

    from mlvc_jupyter.core.manager import ExperimentManager
    from mlvc_jupyter.core.records import Checkpoint, ExperimentSummary
    from mlvc_jupyter.core.tracking import Tracker

__all__ = [
    "ExperimentSession",
    "active_experiment",
    "clear_kernel_state",
    "error_details",
    "running_experiments",
    "write_kernel_state",
]

TRACK_KEY = "track"
"""Summary key of the trackers a process recorded for later ones (``mlvc start --track``)."""

KERNELS_DIR = "kernels"
"""Folder of the runtime folder where each kernel names its notebook and active experiment."""

_TRACEBACK_LINES = 20
_MESSAGE_CHARS = 500


class ExperimentSession:
    """A started experiment: its manager, its id and its tracker (if it has one).

    Create one with :meth:`start` (records the first checkpoint) or :meth:`attach` (an
    experiment that is already running, e.g. after a kernel restart or from the REST server).
    """

    def __init__(
        self, manager: ExperimentManager, experiment_id: str, *, tracker: Tracker | None = None
    ) -> None:
        self.manager = manager
        self.experiment_id = experiment_id
        self.tracker = tracker
        self.closed = False

    @classmethod
    def start(
        cls,
        manager: ExperimentManager,
        experiment_id: str,
        *,
        backend: str | None = None,
        details: Details | None = None,
        **options: Any,
    ) -> tuple[ExperimentSession, Checkpoint]:
        """Record the first checkpoint and return the session with it.

        ``backend`` names a metric tracker to create (``"local"``, ``"mlflow"``, ...); the
        ``options`` go to :meth:`ExperimentManager.start` (name, configs, message, resume,
        create_branch). The tracker is closed again if the start fails.
        """
        experiment_id = linking.redirect(experiment_id)  # a re-run records its linked run
        tracker = manager.tracker(experiment_id, backend=backend) if backend else None
        try:
            checkpoint = manager.start(experiment_id, details=_resolve(details), **options)
        except BaseException:
            if tracker is not None:
                tracker.close()
            raise
        session = cls(manager, experiment_id, tracker=tracker)
        session._tell_remotes(checkpoint.commit, options.get("configs"))
        return session, checkpoint

    @classmethod
    def attach(
        cls, manager: ExperimentManager, experiment_id: str, *, tracker: Tracker | None = None
    ) -> ExperimentSession:
        """Return a session for an experiment that is already running (no checkpoint).

        Raises:
            ExperimentNotFoundError: no such experiment.
        """
        manager.summary(experiment_id)
        return cls(manager, experiment_id, tracker=tracker)

    @classmethod
    def reopen(cls, manager: ExperimentManager, experiment_id: str) -> ExperimentSession:
        """Return a session for a running experiment, with the trackers its start recorded.

        For a process that did not start the experiment (``mlvc end`` after ``mlvc start
        --track local,mlflow``): the remote runs open now, get the recorded configs, and end
        with the experiment, so none is left running when the starting process has exited.

        Raises:
            ExperimentNotFoundError: no such experiment.
            MlvcError: a recorded backend's extra is no longer installed.
        """
        summary = manager.summary(experiment_id)
        backend = summary.extra.get(TRACK_KEY)
        if not isinstance(backend, str):
            return cls(manager, experiment_id)
        tracker = manager.tracker(experiment_id, backend=backend)
        session = cls(manager, experiment_id, tracker=tracker)
        remotes = session._remotes()
        configs = manager.show(experiment_id).configs
        if remotes is not None and configs:
            remotes.log_configs(configs)
        return session

    @property
    def worker(self) -> CommitWorker:
        """Return the repository's background checkpoint worker."""
        return worker_for(self.manager)

    def commit(
        self,
        *,
        message: str | None = None,
        configs: Any = None,
        name: str | None = None,
        details: Details | None = None,
        background: bool = False,
    ) -> Checkpoint | None:
        """Record a checkpoint now, or queue it with ``background`` (then None is returned).

        Metrics logged so far are flushed first; queued checkpoints land before this one.
        """
        if background:
            self._flush(fsync=False)
            self.worker.submit(
                self.experiment_id, message=message, configs=configs, details=details
            )
            return None
        self.worker.wait()
        self._flush()
        checkpoint = self.manager.commit(
            self.experiment_id,
            message=message,
            configs=configs,
            name=name,
            details=_resolve(details),
        )
        self._tell_remotes(checkpoint.commit, configs)
        return checkpoint

    def end(
        self,
        *,
        metrics: Mapping[str, Any] | None = None,
        status: str = "success",
        tag: str | None = None,
        configs: Any = None,
        name: str | None = None,
        message: str | None = None,
        details: Details | None = None,
        error: BaseException | None = None,
    ) -> Checkpoint:
        """Record the final checkpoint and close the session.

        Queued checkpoints land first. ``metrics`` default to the tracker's last value of each
        metric. With ``error`` the experiment ends as failed, the error in its details.
        """
        self.worker.wait()
        self._flush()
        if metrics is None and self.tracker is not None:
            metrics = self.tracker.final_metrics()
        facts = dict(_resolve(details) or {})
        if error is not None:
            facts["error"] = error_details(error)
            status = "failed"
            message = message or f"failed: {type(error).__name__}: {error}"[:_MESSAGE_CHARS]
        checkpoint = self.manager.end(
            self.experiment_id, metrics=metrics, status=status, tag=tag, configs=configs,
            name=name, message=message, details=facts,
        )  # fmt: skip
        remotes = self._remotes()
        if remotes is not None:
            self._tell_remotes(checkpoint.commit, configs)
            undelivered = remotes.finish(metrics, status=checkpoint.status)
            checkpoint = replace(checkpoint, warnings=[*checkpoint.warnings, *undelivered])
        self.close()
        return checkpoint

    def flush(self) -> None:
        """Write the metrics logged so far to the experiment's metric file."""
        self._flush()

    def close(self) -> None:
        """Close the tracker; the experiment itself stays as it is (running or ended)."""
        if self.tracker is not None:
            self.tracker.close()
        self.closed = True

    def pop_warnings(self) -> list[str]:
        """Return the remote trackers' failures not reported yet (training went on)."""
        remotes = self._remotes()
        return remotes.pop_warnings() if remotes is not None else []

    def _remotes(self) -> FanOutTracker | None:
        return self.tracker if isinstance(self.tracker, FanOutTracker) else None

    def _tell_remotes(self, commit: str, configs: Any) -> None:
        """Give the remote trackers (if any) the checkpoint's commit and its configs."""
        remotes = self._remotes()
        if remotes is None:
            return
        table = serialise_configs(configs)
        if table:
            remotes.log_configs(table)
        remotes.on_checkpoint(commit)

    def _flush(self, *, fsync: bool = True) -> None:
        if self.tracker is not None:
            self.tracker.flush(fsync=fsync)


def running_experiments(manager: ExperimentManager, notebook: str) -> list[ExperimentSummary]:
    """Return the experiments recorded from ``notebook`` that are still running, newest first.

    ``notebook`` is the path relative to the repository root, as checkpoints record it (the
    summary's ``extra["notebook"]``). A kernel that restarted, or the sidebar, finds here what
    a notebook left running: resume it (``start(..., resume=True)``) and end it.
    """
    running = manager.query(status="running", limit=None).items  # builds only those records
    return [summary for summary in running if summary.extra.get("notebook") == notebook]


def error_details(error: BaseException) -> dict[str, Any]:
    """Return what a failed experiment records about its error: type, message, traceback."""
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    return {
        "type": type(error).__name__,
        "message": str(error),
        "traceback": lines[-_TRACEBACK_LINES:],
    }


def _resolve(details: Details | None) -> Mapping[str, Any] | None:
    return details() if callable(details) else details


# -- which experiment each kernel has active ---------------------------------------------------
#
# A kernel writes ``<runtime>/kernels/<pid>.json`` ({"notebook", "experiment", "pid", "kernel"})
# when an experiment becomes active and removes it when the experiment ends, so the REST server
# can record a checkpoint of a notebook's experiment without asking the kernel (busy training, it
# could not answer). One file per process: kernels never write the same file. "kernel" is the
# Jupyter kernel id: a notebook renamed later keeps its kernel, so the server finds the state
# through its own session manager's path -> kernel map even though "notebook" is the old path.


def write_kernel_state(
    manager: ExperimentManager, *, notebook: str, experiment_id: str, kernel: str | None = None
) -> None:
    """Say that this process (Jupyter kernel ``kernel``, when known) has ``experiment_id``
    active for ``notebook`` (repo-relative)."""
    state = {
        "notebook": notebook,
        "experiment": experiment_id,
        "pid": os.getpid(),
        "kernel": kernel,
    }
    path = _kernel_state_path(manager)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state), encoding="utf-8")
    os.replace(temporary, path)


def clear_kernel_state(manager: ExperimentManager) -> None:
    """Say that this process has no active experiment any more."""
    _kernel_state_path(manager).unlink(missing_ok=True)


def active_experiment(
    manager: ExperimentManager,
    notebook: str,
    kernels: Collection[str] = (),
    elsewhere: Collection[str] = (),
) -> str | None:
    """Return the experiment a live kernel has active for ``notebook`` (repo-relative), or None.

    ``kernels`` are the ids of the Jupyter kernels the server runs for ``notebook``: a state
    naming one of them wins over the notebook path it recorded (the notebook was renamed since).
    ``elsewhere`` are the kernels it runs for other paths: their states never match by path (a
    notebook renamed away leaves its old path to another one).
    States of processes that are gone (a killed kernel) are skipped; unreadable ones too (a
    state file is a hint, never a reason to fail a status request).
    """
    folder = manager.repo.runtime_dir / KERNELS_DIR
    states = [_read_state(path) for path in sorted(folder.glob("*.json"), key=_mtime, reverse=True)]
    live = [state for state in states if state and _alive(state.get("pid"))]
    ours = [state for state in live if _kernel_of(state) in kernels]
    named = [
        state
        for state in live
        if state.get("notebook") == notebook and _kernel_of(state) not in elsewhere
    ]
    experiment = next(iter(ours + named), {}).get("experiment")
    return experiment if isinstance(experiment, str) else None


def _kernel_of(state: Mapping[str, Any]) -> str | None:
    kernel = state.get("kernel")
    return kernel if isinstance(kernel, str) else None


def _kernel_state_path(manager: ExperimentManager) -> Path:
    return manager.repo.runtime_dir / KERNELS_DIR / f"{os.getpid()}.json"


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _read_state(path: Path) -> dict[str, Any] | None:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True
