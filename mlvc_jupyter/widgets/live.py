"""The live panel: a running experiment's metric curves, redrawn as ``log_metrics`` is called.

The tracker calls :meth:`LivePanel._logged` in the training loop: it queues the values and
wakes the drawing thread, nothing more (well under a microsecond). The drawing thread redraws at
most once per ``interval`` (0.5 s: 2 a second), after the last draw, so a burst of logging is
drawn once and its last values are always drawn. ``clock`` and ``sleep`` are injectable so a
test can check the throttle without waiting.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from mlvc_jupyter.blocks import curves_blocks
from mlvc_jupyter.core.reading.compare import curves_of
from mlvc_jupyter.errors import MlvcError
from mlvc_jupyter.render import Block, Row, Table, format_time
from mlvc_jupyter.widgets.base import Panel, open_manager
from mlvc_jupyter.widgets.plots import curves_figure, figure_png, has_matplotlib
from mlvc_jupyter.widgets.state import LiveState

__all__ = ["INTERVAL", "LivePanel"]

INTERVAL = 0.5
"""Seconds between redraws at least (2 a second at most)."""


class LivePanel(Panel):
    """The active experiment's curves, checkpoint count, last checkpoint and queue depth."""

    def __init__(
        self,
        tracker: Any,
        *,
        path: str | os.PathLike[str] = ".",
        interval: float = INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        if not hasattr(tracker, "add_listener"):
            raise MlvcError(
                f"The {getattr(tracker, 'backend', type(tracker).__name__)} tracker cannot "
                "notify a live panel.",
                hint="Use the local tracker (`%vc_start EXP_ID --track local --live`).",
            )
        self.manager = open_manager(path)
        self.tracker = tracker
        self.interval, self._clock, self._sleep = interval, clock, sleep
        self.state = LiveState(experiment=tracker.experiment_id)
        self._records: list[dict[str, Any]] = list(tracker.history())
        self._queued: deque[dict[str, Any]] = deque()
        self._wake, self._idle, self._closed = threading.Event(), threading.Event(), False
        self._last = float("-inf")
        self._thread = threading.Thread(target=self._loop, name="mlvc-live", daemon=True)

    @classmethod
    def attach(cls, tracker: Any, **options: Any) -> LivePanel:
        """Return a panel redrawn at each ``tracker.log_metrics`` (options: see the class)."""
        panel = cls(tracker, **options)
        tracker.add_listener(panel._logged)
        panel._thread.start()
        panel._wake.set()  # a first drawing of what was logged before
        return panel

    def detach(self) -> None:
        """Stop following the tracker and stop the drawing thread."""
        self.tracker.remove_listener(self._logged)
        self._closed = True
        self._wake.set()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until everything logged so far is drawn; return False on timeout."""
        return self._idle.wait(timeout)

    def _logged(self, metrics: Mapping[str, Any], step: int | None) -> None:
        """The tracker's listener: queue the values, wake the drawing thread (training loop)."""
        self._queued.append({"step": step, "metrics": dict(metrics)})
        self._idle.clear()
        self._wake.set()

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            if self._closed:
                return
            wait = self._last + self.interval - self._clock()
            if wait > 0:
                self._sleep(wait)
            self._wake.clear()
            self.redraw()
            self._last = self._clock()
            if not self._queued and not self._wake.is_set():
                self._idle.set()

    def redraw(self) -> None:
        """Draw everything queued so far and read the experiment's recording facts."""
        while self._queued:
            self._records.append(self._queued.popleft())
        curves = curves_of(self._records)
        try:
            summary = self.manager.summary(self.state.experiment)
            depth = self._queue_depth()
            png = _png(self.state.experiment, curves)
        except MlvcError as exc:
            self.state.error = str(exc)
            return
        with self.state.hold_trait_notifications():
            self.state.curves = curves
            self.state.points = sum(len(points) for points in curves.values())
            self.state.checkpoints = summary.checkpoints
            self.state.last_checkpoint = format_time(summary.updated)
            self.state.queue_depth = depth
            self.state.png = png
            self.state.error = ""
            self.state.redraws += 1

    def _queue_depth(self) -> int:
        from mlvc_jupyter.core.recording.worker import worker_for

        return worker_for(self.manager).pending

    def _build(self) -> Any:
        from mlvc_jupyter.widgets.views import LiveView

        return LiveView(self)

    def blocks(self) -> list[Block]:
        """Return the recording facts and each metric's history in one row."""
        s = self.state
        rows: list[Row] = [
            ("experiment", s.experiment),
            ("checkpoints", s.checkpoints),
            ("last checkpoint", s.last_checkpoint),
            ("queued checkpoints", s.queue_depth),
        ]
        return [Table(None, (), rows), *curves_blocks(s.curves)]


def _png(experiment: str, curves: dict[str, Any]) -> bytes:
    if not has_matplotlib():
        return b""
    figure = curves_figure({experiment: curves})
    return figure_png(figure) if figure is not None else b""
