"""The local store plus remote trackers (W&B, MLflow, TensorBoard), fed without blocking training.

A :class:`FanOutTracker` writes every call to its :class:`~.local.LocalTracker` first (the source
of truth for ``history()`` and ``final_metrics()``), then puts a copy on a bounded queue that one
background thread drains into the remote :class:`Bridge` objects, in batches. A slow remote
never slows ``log_metrics``: when the queue is full, points are counted and not sent. A remote
that raises is dropped after its first error, which is logged once (a warning, no traceback) and
kept for the faces to show (:meth:`FanOutTracker.pop_warnings`). :meth:`FanOutTracker.finish`
waits for the queue, up to a timeout, and returns what it could not deliver (the session puts
that into the final checkpoint's warnings).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mlvc_jupyter.core.configs.redact import redact_secrets
from mlvc_jupyter.core.configs.values import flatten
from mlvc_jupyter.core.tracking._values import jsonable_param
from mlvc_jupyter.core.tracking.local import LocalTracker, MetricsListener

__all__ = ["Bridge", "FanOutTracker", "Point", "RunInfo"]

log = logging.getLogger("mlvc_jupyter.tracking")

QUEUE_LIMIT = 100_000
"""Items waiting for the remote trackers; beyond it points are counted, not queued."""
FINISH_TIMEOUT = 30.0
"""Seconds ``finish`` waits for the remote trackers to take what is queued."""
_IDLE_WAIT = 0.1
_BATCH_PAUSE = 0.05
"""Seconds the background thread rests after a batch: larger batches, and the training thread
keeps the interpreter meanwhile."""
_now = time.time
_RawPoint = tuple[dict[str, Any], Any, float]
"""(metrics, step, time) as queued: cheaper to build on the training thread than a Point."""


@dataclass(frozen=True, slots=True)
class Point:
    """One ``log_metrics`` call, as the remote trackers receive it."""

    metrics: dict[str, float]
    step: int | None
    time: float


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What a remote tracker needs to open its run."""

    experiment_id: str
    run_id: str
    project: str
    runtime: Path
    """The repository's runtime folder (``<git-common-dir>/mlvc``): local stores go under it."""


class Bridge(Protocol):
    """A remote tracker. Every method runs on the fan-out's background thread, in order."""

    name: str

    def open(self, run: RunInfo) -> None:
        """Start the remote run (import the library, connect)."""

    def log_points(self, points: Sequence[Point]) -> None:
        """Send metric points, oldest first."""

    def log_params(self, params: Mapping[str, object]) -> None:
        """Send flattened parameters (dotted names; secrets already redacted)."""

    def set_commit(self, commit: str) -> None:
        """Record the experiment's newest checkpoint commit."""

    def close(self, final_metrics: Mapping[str, float], status: str) -> None:
        """Record the final metrics and the outcome (``success``/``failed``), end the run."""


@dataclass(slots=True)
class _Remote:
    """A bridge and what happened to it."""

    bridge: Bridge
    opened: bool = False
    error: str | None = None
    skipped: int = 0  # metric points not sent after its error


@dataclass(slots=True)
class _State:
    """What the background thread shares with the tracker."""

    items: deque[tuple[str, Any]] = field(default_factory=deque)
    wake: threading.Event = field(default_factory=threading.Event)
    stop: bool = False
    dropped: int = 0
    warnings: list[str] = field(default_factory=list)


class FanOutTracker:
    """A local tracker whose calls also reach remote trackers, off the training thread.

    Args:
        local: The local store; it keeps every point whatever the remotes do.
        bridges: The remote trackers.
        run: What the remotes need to open their runs.
    """

    def __init__(self, local: LocalTracker, bridges: Sequence[Bridge], run: RunInfo) -> None:
        self._local = local
        self._remotes = [_Remote(bridge) for bridge in bridges]
        self._run = run
        self._state = _State()
        self._items = self._state.items
        self._finished: list[str] | None = None
        self._used = False  # nothing queued yet: closing need not open the remote runs
        self._thread = threading.Thread(
            target=_drain, args=(self._state, self._remotes, run), daemon=True,
            name=f"mlvc-trackers-{run.experiment_id}",
        )  # fmt: skip
        self._thread.start()
        weakref.finalize(self, _stop, self._state)  # an abandoned tracker ends its thread

    @property
    def experiment_id(self) -> str:
        """The experiment the metrics belong to."""
        return self._local.experiment_id

    @property
    def run_id(self) -> str:
        """The run within the experiment (the remote runs carry it too)."""
        return self._local.run_id

    @property
    def backend(self) -> str:
        """``local`` and the remote backends, comma-separated (``local,mlflow``)."""
        return ",".join(["local", *(remote.bridge.name for remote in self._remotes)])

    @property
    def path(self) -> Path:
        """The local store's JSON-lines file."""
        return self._local.path

    @property
    def local(self) -> LocalTracker:
        """The local store (the source of truth for history and final metrics)."""
        return self._local

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Record ``metrics`` at ``step`` in the local store, then queue them for the remotes.

        Raises:
            MlvcError: As :meth:`LocalTracker.log_metrics` (nothing is queued then).
        """
        self._local.log_metrics(metrics, step)
        self._put("metrics", (dict(metrics), step, _now()))  # a Point, built off this thread

    def log_params(self, params: Mapping[str, object]) -> None:
        """Record ``params`` locally; the remotes get them flattened, secrets redacted."""
        self._local.log_params(params)
        self._put("params", dict(params))

    def log_configs(self, configs: Mapping[str, Any]) -> None:
        """Send the experiment's configs (JSON data) to the remotes as flattened params."""
        self._put("params", dict(configs))

    def on_checkpoint(self, commit: str) -> None:
        """Tell the remotes the experiment's newest checkpoint commit."""
        self._put("commit", commit)

    def flush(self, *, fsync: bool = True) -> None:
        """Make the local record durable (the remotes receive theirs in the background)."""
        self._local.flush(fsync=fsync)

    def history(self) -> list[dict[str, Any]]:
        """Return every local record so far, oldest first."""
        return self._local.history()

    def final_metrics(self) -> dict[str, float]:
        """Return the local store's last value of each metric."""
        return self._local.final_metrics()

    def add_listener(self, listener: MetricsListener) -> None:
        """Call ``listener(metrics, step)`` at each later ``log_metrics`` (see the local one)."""
        self._local.add_listener(listener)

    def remove_listener(self, listener: MetricsListener) -> None:
        """Stop calling ``listener``."""
        self._local.remove_listener(listener)

    def pop_warnings(self) -> list[str]:
        """Return the remote failures not reported yet, and forget them."""
        pending = self._state.warnings[:]
        del self._state.warnings[: len(pending)]
        return pending

    def finish(
        self,
        final_metrics: Mapping[str, float] | None = None,
        *,
        status: str = "success",
        timeout: float = FINISH_TIMEOUT,
    ) -> list[str]:
        """End the remote runs: send what is queued, then the final metrics and the outcome.

        Waits up to ``timeout`` seconds; returns a sentence for each remote that did not get
        everything (the local store has it all). Idempotent: later calls return the same list.
        """
        if self._finished is not None:
            return self._finished
        if not self._used:
            _stop(self._state)
            self._finished = []
            return self._finished
        final = dict(self._local.final_metrics() if final_metrics is None else final_metrics)
        unseen = _unseen(final, self._local.final_metrics())
        if unseen:
            self._put("metrics", (unseen, None, _now()))
        self._put("close", (final, status), force=True)
        _stop(self._state)
        self._thread.join(timeout)
        self._finished = self._undelivered(timeout)
        return self._finished

    def close(self) -> None:
        """Finish the remote runs, logging what they lack (if :meth:`finish` was not called:
        the session puts that into the final checkpoint instead), and close the local store."""
        try:
            if self._finished is None:
                for message in self.finish(status="closed"):
                    log.warning("%s", message)
        finally:
            self._local.close()

    def __enter__(self) -> FanOutTracker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FanOutTracker({self.backend!r}, experiment_id={self.experiment_id!r})"

    def _put(self, kind: str, value: Any, *, force: bool = False) -> None:
        items = self._items
        if self._state.stop:
            return
        self._used = True
        if len(items) >= QUEUE_LIMIT and not force:
            self._state.dropped += kind == "metrics"
            return
        items.append((kind, value))
        if len(items) == 1:
            self._state.wake.set()

    def _undelivered(self, timeout: float) -> list[str]:
        waiting = sum(kind == "metrics" for kind, _ in list(self._items))
        names = ", ".join(remote.bridge.name for remote in self._remotes)
        store = f"the local store ({self._local.path}) has them all"
        messages = [
            f"The {remote.bridge.name} tracker did not receive {remote.skipped:,} metric "
            f"point(s) after it failed ({remote.error}); {store}."
            for remote in self._remotes
            if remote.error is not None and remote.skipped
        ]
        if self._state.dropped:
            messages.append(
                f"{self._state.dropped:,} metric point(s) were not sent to {names}: the queue "
                f"was full (training outpaced them); {store}."
            )
        if self._thread.is_alive():
            messages.append(
                f"{names} did not take {waiting:,} queued metric point(s) within {timeout:g} s "
                f"and may not have ended their runs; {store}."
            )
        return messages


def _unseen(final: Mapping[str, float], logged: Mapping[str, float]) -> dict[str, float]:
    """Return the final metrics that were never logged with that value (end(metrics=...))."""
    return {key: value for key, value in final.items() if logged.get(key) != value}


def _stop(state: _State) -> None:
    state.stop = True
    state.wake.set()


def _drain(state: _State, remotes: list[_Remote], run: RunInfo) -> None:
    """The background thread: send queued items to the remotes until told to stop."""
    items = state.items
    while True:
        if not items:
            if state.stop:
                return
            state.wake.wait(_IDLE_WAIT)
            state.wake.clear()
            continue
        batch = [items.popleft() for _ in range(len(items))]
        for remote in remotes:
            _deliver(remote, batch, run, state)
        if batch[-1][0] == "close":
            return
        if not state.stop:
            time.sleep(_BATCH_PAUSE)


def _deliver(remote: _Remote, batch: list[tuple[str, Any]], run: RunInfo, state: _State) -> None:
    """Send a batch to one remote, grouping consecutive metric points into one call."""
    points: list[_RawPoint] = []
    for kind, value in batch:
        if kind == "metrics":
            points.append(value)
            continue
        _send_points(remote, points, run, state)
        points = []
        _call(remote, _ACTIONS[kind], value, run, state)
    _send_points(remote, points, run, state)


def _send_points(remote: _Remote, points: list[_RawPoint], run: RunInfo, state: _State) -> None:
    if not points:
        return
    if remote.error is not None:
        remote.skipped += len(points)
        return
    if not _call(remote, _send_metrics, points, run, state):
        remote.skipped += len(points)


def _send_metrics(bridge: Bridge, points: list[_RawPoint]) -> None:
    """Send points with plain floats and ints (numpy scalars and 0-d tensors converted)."""
    bridge.log_points(
        [
            Point(
                {key: float(value) for key, value in metrics.items()},
                None if step is None else int(step),
                stamp,
            )
            for metrics, step, stamp in points
        ]
    )


def _send_params(bridge: Bridge, params: dict[str, Any]) -> None:
    """Send params as JSON data (as the local store writes them), flattened and redacted."""
    plain = json.loads(json.dumps(params, default=jsonable_param))
    bridge.log_params(flatten(redact_secrets(plain)))


def _send_commit(bridge: Bridge, commit: str) -> None:
    bridge.set_commit(commit)


def _send_close(bridge: Bridge, value: tuple[dict[str, float], str]) -> None:
    final, status = value
    bridge.close({key: float(number) for key, number in final.items()}, status)


_ACTIONS: dict[str, Callable[[Bridge, Any], None]] = {
    "params": _send_params,
    "commit": _send_commit,
    "close": _send_close,
}


def _call(
    remote: _Remote,
    action: Callable[[Bridge, Any], None],
    value: Any,
    run: RunInfo,
    state: _State,
) -> bool:
    """Open the remote if needed and run ``action``; on its first error, report and drop it."""
    if remote.error is not None:
        return False
    try:
        if not remote.opened:
            remote.bridge.open(run)
            remote.opened = True
        action(remote.bridge, value)
    except Exception as exc:  # noqa: BLE001 -- any remote error must stay off the training loop
        remote.error = f"{type(exc).__name__}: {exc}"[:300]
        message = (
            f"The {remote.bridge.name} tracker of experiment '{run.experiment_id}' failed "
            f"({remote.error}); it gets nothing more from this run, and the local store keeps "
            "every point."
        )
        log.warning("%s", message)
        state.warnings.append(message)
        return False
    return True
