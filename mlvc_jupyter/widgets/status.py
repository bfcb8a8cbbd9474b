"""The status panel: branch, HEAD, dirty files, the active experiment, the notebook's state.

Auto-refresh runs on a background thread, so the kernel is never blocked by it.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from mlvc_jupyter.blocks import status_blocks
from mlvc_jupyter.errors import MlvcError
from mlvc_jupyter.render import Block, Row
from mlvc_jupyter.widgets.base import Panel, open_manager
from mlvc_jupyter.widgets.state import StatusState

__all__ = ["StatusPanel"]

_KINDS = ("staged", "modified", "untracked", "conflicted")


class StatusPanel(Panel):
    """The repository's and the kernel's state (``%vc_status --panel``).

    ``session`` is the kernel's :class:`~mlvc_jupyter.kernel.KernelSession` (the magics pass
    theirs): it knows the active experiment and the notebook. ``interval`` is the
    auto-refresh period in seconds.
    """

    def __init__(
        self, path: str | os.PathLike[str] = ".", *, session: Any = None, interval: float = 5.0
    ) -> None:
        super().__init__()
        self.manager = open_manager(path)
        self.session = session
        self.interval = interval
        self.state = StatusState()
        self._status: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.state.observe(self._auto_refresh_changed, names="auto_refresh")
        self.refresh()

    def refresh(self) -> None:
        """Read the status again (the refresh button; the auto-refresh thread)."""
        try:
            status, head = self.manager.status(), self.manager.current_commit()
            active = self.session.active if self.session is not None else None
            last = self.manager.summary(active) if active else None
            notebook = _notebook_state(self.session)
        except MlvcError as exc:
            self.state.error = str(exc)
            return
        self._status = status
        files = [f"{kind}: {path}" for kind in _KINDS for path in getattr(status, kind)]
        with self.state.hold_trait_notifications():
            self.state.branch = status.branch or ("detached HEAD" if status.detached else "")
            self.state.head = f"{head.hash[:8]} {head.message.splitlines()[0]}" if head else ""
            self.state.dirty = len(status.staged) + len(status.modified) + len(status.conflicted)
            self.state.untracked = len(status.untracked)
            self.state.files = files
            self.state.active = active or ""
            self.state.last_checkpoint = (
                f"#{last.checkpoints} {last.commit[:8]} {last.message}" if last else ""
            )
            self.state.notebook = notebook
            self.state.error = ""
            self.state.refreshes += 1

    def close(self) -> None:
        """Stop auto-refreshing."""
        self.state.auto_refresh = False

    def _auto_refresh_changed(self, change: Any) -> None:
        if change["new"] and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="mlvc-status", daemon=True)
            self._thread.start()
        elif not change["new"] and self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.refresh()

    def _build(self) -> Any:
        from mlvc_jupyter.widgets.views import StatusView

        return StatusView(self)

    def blocks(self) -> list[Block]:
        """Return the status table of ``%vc_status``, plus the kernel's rows."""
        if self._status is None:
            return [self.state.error]
        s = self.state
        session: list[Row] = [("active experiment", s.active or "(none: run %vc_start EXP_ID)")]
        if s.last_checkpoint:
            session.append(("last checkpoint", s.last_checkpoint))
        session.append(("notebook", s.notebook))
        return status_blocks(self._status, session=session)


def _notebook_state(session: Any) -> str:
    """Return whether the notebook has runs it has not saved, and whether cells ran out of order."""
    if session is None:
        return "unknown (no kernel session)"
    facts = session.details()
    if facts.get("out_of_order") is None:
        return "unknown (the notebook's path is not known)"
    unsaved = facts.get("unmatched_inputs") or 0
    parts = [f"{unsaved} run{'s' if unsaved != 1 else ''} not saved" if unsaved else "saved"]
    parts.append("cells ran out of order" if facts["out_of_order"] else "in order")
    return ", ".join(parts)
