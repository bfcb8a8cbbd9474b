"""The history panel: a sortable, filterable, paged table of experiments, with row actions.

Every page comes from :meth:`ExperimentManager.query` (the core query layer), so sorting,
filtering and paging over 10,000 experiments cost what ``%vc_log`` costs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from mlvc_jupyter.blocks import page_blocks
from mlvc_jupyter.core.reading.options import DEFAULT_SORT, SORT_FIELDS
from mlvc_jupyter.core.records import Progress
from mlvc_jupyter.core.reproduction.options import reproduce_cell_text
from mlvc_jupyter.errors import MlvcError
from mlvc_jupyter.render import Block, Table, format_time
from mlvc_jupyter.widgets.base import Panel, open_manager
from mlvc_jupyter.widgets.progress import LISTING_MINIMUM, ProgressBar
from mlvc_jupyter.widgets.state import HistoryState

__all__ = ["COLUMNS", "HistoryPanel", "format_duration"]

COLUMNS = ("id", "name", "status", "created", "duration", "checkpoints", "tags")
"""The fixed columns; each metric on the page adds ``metrics.<name>``."""


def format_duration(seconds: float | None) -> str:
    """Return seconds as ``1h 02m``, ``3m 05s`` or ``4.2s`` ("" when unknown)."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


class HistoryPanel(Panel):
    """Experiments of a repository, a page at a time (``%vc_log`` in a notebook).

    Model methods: :meth:`set_filter`, :meth:`sort_by`, :meth:`show_page`, :meth:`visible_ids`,
    :meth:`select`; row actions: :meth:`details`, :meth:`tag`, :meth:`branch`,
    :meth:`compare`, :meth:`insert_reproduce_cell`. Errors go to ``state.error``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ".",
        page_size: int = 50,
        *,
        search: str | None = None,
        status: str | None = None,
        tag: str | None = None,
        sort: str = DEFAULT_SORT,
        shell: Any = None,
    ) -> None:
        """Open the repository holding ``path`` and read the first page (``search``, ``status``,
        ``tag`` and ``sort`` as :meth:`ExperimentManager.query` takes them; ``shell`` receives the
        reproduce cells, the running IPython by default)."""
        super().__init__()
        self.manager = open_manager(path)
        self.shell = shell
        self.state = HistoryState(
            page_size=page_size, search=search or "", status=status or "", tag=tag or "", sort=sort
        )
        with ProgressBar("listing", minimum=LISTING_MINIMUM) as progress:  # the first load
            self.reload(on_progress=progress)

    # -- the query ------------------------------------------------------------------------------

    def reload(self, on_progress: Progress | None = None) -> None:
        """Read the current page again (after a recording elsewhere, say)."""
        s = self.state
        try:
            page = self.manager.query(
                s.search or None, status=s.status or None, tag=s.tag or None, sort=s.sort,
                offset=s.page * s.page_size, limit=s.page_size, on_progress=on_progress,
            )  # fmt: skip
        except MlvcError as exc:
            s.error = str(exc)
            return
        metrics = sorted({name for item in page.items for name in item.metrics})
        with s.hold_trait_notifications():
            s.error = ""
            s.total = page.total
            s.columns = [*COLUMNS, *(f"metrics.{name}" for name in metrics)]
            s.rows = [_row(item) for item in page.items]
        self._page = page

    def set_filter(
        self, search: str | None = None, status: str | None = None, tag: str | None = None
    ) -> None:
        """Show only experiments matching ``search`` (id, name, message, tags), ``status`` and
        carrying ``tag``."""
        s = self.state
        with s.hold_trait_notifications():
            s.search, s.status, s.tag, s.page = search or "", status or "", tag or "", 0
        self.reload()

    def sort_by(self, column: str, descending: bool = False) -> None:
        """Order by a column (a field, ``duration`` or a metric's name) and show page 1."""
        key = column if column in SORT_FIELDS or column.startswith("metrics.") else None
        if key is None and column in {c.split(".", 1)[-1] for c in self.state.columns}:
            key = f"metrics.{column}"
        if key is None:
            self.state.error = f"Cannot sort by {column!r}: it is not a column of this table."
            return
        with self.state.hold_trait_notifications():
            self.state.sort, self.state.page = f"-{key}" if descending else key, 0
        self.reload()

    def show_page(self, n: int) -> None:
        """Show page ``n`` (0 is the first), kept within the pages there are."""
        last = max(0, -(-self.state.total // self.state.page_size) - 1)
        self.state.page = min(max(0, n), last)
        self.reload()

    @property
    def pages(self) -> int:
        """Return how many pages the matches fill (at least 1)."""
        return max(1, -(-self.state.total // self.state.page_size))

    def visible_ids(self) -> list[str]:
        """Return the ids on the current page, in the order shown."""
        return [row["id"] for row in self.state.rows]

    def select(self, ids: Iterable[str]) -> None:
        """Select rows for the actions (compare takes every selected row)."""
        self.state.selected = list(dict.fromkeys(ids))

    # -- row actions ----------------------------------------------------------------------------

    def details(self, exp_id: str) -> Any:
        """Return the ``%vc_show`` view of an experiment (None and ``state.error`` on failure)."""
        from mlvc_jupyter.display import RecordView

        return self._act(lambda: RecordView(
            self.manager.show(exp_id), curves=self.manager.metric_curves(exp_id)
        ))  # fmt: skip

    def tag(self, exp_id: str, tag: str) -> None:
        """Tag an experiment's last checkpoint; the outcome goes to ``state.message``."""
        made = self._act(lambda: self.manager.tag(exp_id, tag))
        if made is not None:
            self.state.message = f"Tagged {exp_id} as {made}."
            self.reload()

    def branch(self, exp_id: str) -> None:
        """Create branch ``mlvc/<id>`` at the experiment; the outcome goes to ``state.message``."""
        made = self._act(lambda: self.manager.branch(exp_id))
        if made is not None:
            self.state.message = f"Created branch {made} at {exp_id}."

    def compare(self, ids: Iterable[str] | None = None) -> Any:
        """Return a :class:`ComparePanel` of ``ids`` (default: the selected rows)."""
        from mlvc_jupyter.widgets.compare import ComparePanel

        chosen = list(ids) if ids is not None else list(self.state.selected)
        if len(chosen) < 2:
            self.state.error = "Select two or more experiments to compare."
            return None
        self.state.error = ""
        return ComparePanel(self.manager.root, chosen)

    def insert_reproduce_cell(self, exp_id: str) -> None:
        """Put a ready ``%vc_reproduce <id>`` cell below, through the kernel's set_next_input.

        The kernel sends it with the reply of the cell that runs; from a button click it
        arrives with the next cell run, so ``state.message`` also shows the command.
        """
        command = reproduce_cell_text(exp_id)
        shell = self.shell or _current_shell()
        if shell is not None:
            shell.set_next_input(command, replace=False)
        self.state.message = f"Reproduce cell: {command}"

    def _act(self, action: Any) -> Any:
        try:
            result = action()
        except MlvcError as exc:
            self.state.error = str(exc)
            return None
        self.state.error = ""
        return result

    # -- rendering ------------------------------------------------------------------------------

    def _build(self) -> Any:
        from mlvc_jupyter.widgets.views import HistoryView

        return HistoryView(self)

    def table_blocks(self) -> list[Block]:
        """Return the page as one table, the columns of :attr:`state`'s ``columns``."""
        columns = self.state.columns
        headers = [column.removeprefix("metrics.") for column in columns]
        return [Table(None, headers, [[row.get(c) for c in columns] for row in self.state.rows])]

    def blocks(self) -> list[Block]:
        """Return what ``%vc_log`` shows: the page and which matches are shown."""
        page = getattr(self, "_page", None)
        if page is None:
            return [self.state.error] if self.state.error else []
        s = self.state
        return page_blocks(page, filtered=bool(s.search or s.status or s.tag))


def _row(summary: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": summary.id,
        "name": summary.name,
        "status": summary.status,
        "created": format_time(summary.created),
        "duration": format_duration(summary.duration),
        "checkpoints": summary.checkpoints,
        "tags": ", ".join(summary.tags),
    }
    row.update({f"metrics.{k}": v for k, v in summary.metrics.items()})
    return row


def _current_shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()
