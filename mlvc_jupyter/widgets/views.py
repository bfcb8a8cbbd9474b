"""The panels' ipywidgets views: children built once, kept in step with the state by observers.

Handlers call the panel (the controller); they never compute. This is the one module of
mlvc_jupyter that imports ipywidgets, and only a panel being displayed imports it.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
from IPython.display import Image

from mlvc_jupyter.render import Table, as_html
from mlvc_jupyter.widgets.plots import figure_png

__all__ = ["CompareView", "HistoryView", "LiveView", "StatusView"]

_STATUSES = (("all", ""), ("running", "running"), ("success", "success"), ("failed", "failed"))


def _error_html(text: str) -> str:
    if not text:
        return ""
    style = "color:var(--jp-error-color1,#d32f2f)"
    return f'<div class="mlvc" style="{style}">{html.escape(text)}</div>'


class StatusView(w.VBox):
    """Branch, HEAD, counts, the folded file list, the active experiment, refresh controls."""

    def __init__(self, panel: Any) -> None:
        self.panel, state = panel, panel.state
        self.summary = w.HTML()
        self.files = w.HTML()
        self.folded = w.Accordion(children=[self.files], selected_index=None)
        self.refresh = w.Button(description="Refresh", icon="refresh")
        self.auto = w.Checkbox(description="auto-refresh", value=state.auto_refresh)
        self.error = w.HTML()
        self.refresh.on_click(lambda _: panel.refresh())
        w.link((self.auto, "value"), (state, "auto_refresh"))
        super().__init__([self.summary, self.folded, w.HBox([self.refresh, self.auto]), self.error])
        state.observe(self._render, names=None)
        self._render()

    def _render(self, _: Any = None) -> None:
        s = self.panel.state
        rows = [
            ("branch", s.branch),
            ("HEAD", s.head or "(no commits yet)"),
            ("changed", f"{s.dirty} changed, {s.untracked} untracked"),
            ("active experiment", s.active or "(none)"),
            ("last checkpoint", s.last_checkpoint or "-"),
            ("notebook", s.notebook),
        ]
        self.summary.value = as_html([Table(None, (), rows)])
        self.files.value = as_html([Table(None, (), [(f,) for f in s.files], empty="(clean)")])
        self.folded.set_title(0, f"files ({len(s.files)})")
        self.error.value = _error_html(s.error)


class HistoryView(w.VBox):
    """Filter and status controls, sortable column headers, the page, a pager, row actions."""

    def __init__(self, panel: Any) -> None:
        self.panel, state = panel, panel.state
        self.search = w.Text(value=state.search, placeholder="filter", continuous_update=False)
        self.status = w.Dropdown(options=_STATUSES, value=state.status, description="status")
        self.tag_filter = w.Text(value=state.tag, placeholder="tag", continuous_update=False)
        self.headers = w.HBox()
        self.table = w.HTML()
        self.selection = w.SelectMultiple(options=[], rows=6, description="select")
        self.previous = w.Button(description="‹ previous")
        self.next = w.Button(description="next ›")
        self.where = w.Label()
        self.tag_name = w.Text(placeholder="tag name", layout=w.Layout(width="120px"))
        self.actions = {
            name: w.Button(description=name)
            for name in ("details", "tag", "branch", "compare", "reproduce cell")
        }
        self.message = w.HTML()
        self.output = w.Output()
        self._syncing = False
        self._wire()
        super().__init__([
            w.HBox([self.search, self.status, self.tag_filter]), self.headers, self.table,
            w.HBox([self.previous, self.where, self.next]), self.selection,
            w.HBox([*self.actions.values(), self.tag_name]), self.message, self.output,
        ])  # fmt: skip
        self.add_class("mlvc-history-panel")
        state.observe(self._render_columns, names="columns")
        state.observe(
            self._render, names=["rows", "sort", "total", "page", "error", "message", "tag"]
        )
        state.observe(self._render_selection, names="selected")
        self._render_columns()
        self._render()

    def _wire(self) -> None:
        panel = self.panel
        for control in (self.search, self.status, self.tag_filter):
            control.observe(self._filter_changed, "value")
        self.previous.on_click(lambda _: panel.show_page(panel.state.page - 1))
        self.next.on_click(lambda _: panel.show_page(panel.state.page + 1))
        self.selection.observe(self._selection_changed, "value")
        self.actions["details"].on_click(lambda _: self._for_first(panel.details))
        self.actions["tag"].on_click(
            lambda _: self._for_first(lambda i: panel.tag(i, self.tag_name.value))
        )
        self.actions["branch"].on_click(lambda _: self._for_first(panel.branch))
        self.actions["compare"].on_click(lambda _: self._show(panel.compare()))
        self.actions["reproduce cell"].on_click(
            lambda _: self._for_first(panel.insert_reproduce_cell)
        )

    def _filter_changed(self, _: Any) -> None:
        if not self._syncing:
            self.panel.set_filter(self.search.value, self.status.value, self.tag_filter.value)

    def _for_first(self, action: Any) -> None:
        selected = self.panel.state.selected
        if not selected:
            self.panel.state.error = "Select an experiment first."
            return
        self._show(action(selected[0]))

    def _show(self, view: Any) -> None:
        if view is not None:
            self.output.clear_output()
            self.output.append_display_data(view.widget if hasattr(view, "widget") else view)

    def _render_columns(self, _: Any = None) -> None:
        buttons = []
        for column in self.panel.state.columns:
            button = w.Button(description=column.removeprefix("metrics."), tooltip=column)
            button.on_click(lambda _, c=column: self._header_clicked(c))
            buttons.append(button)
        self.headers.children = buttons
        self._render()

    def _header_clicked(self, column: str) -> None:
        sort = self.panel.state.sort
        self.panel.sort_by(column, descending=sort == column)

    def _render(self, _: Any = None) -> None:
        s, panel = self.panel.state, self.panel
        key, descending = s.sort.lstrip("-"), s.sort.startswith("-")
        for button in self.headers.children:
            arrow = (" ▼" if descending else " ▲") if button.tooltip == key else ""
            button.description = button.tooltip.removeprefix("metrics.") + arrow
        self.table.value = as_html(panel.table_blocks())
        first = s.page * s.page_size + 1 if s.rows else 0
        self.where.value = (
            f"showing {first}–{first + len(s.rows) - 1 if s.rows else 0} of {s.total}"
        )
        self.previous.disabled = s.page == 0
        self.next.disabled = s.page >= panel.pages - 1
        self._syncing = True
        try:
            self.selection.options = [(f"{r['id']} ({r['status']})", r["id"]) for r in s.rows]
        finally:
            self._syncing = False
        self._render_selection()
        self.message.value = _error_html(s.error) or html.escape(s.message)
        self._syncing = True
        try:
            self.search.value, self.status.value, self.tag_filter.value = s.search, s.status, s.tag
        finally:
            self._syncing = False

    def _visible(self) -> set[str]:
        return {value for _, value in self.selection.options}

    def _selection_changed(self, change: Any) -> None:
        """Select the rows picked on this page, keeping those selected on other pages."""
        if self._syncing:
            return
        visible = self._visible()
        elsewhere = [i for i in self.panel.state.selected if i not in visible]
        self.panel.select([*elsewhere, *change["new"]])

    def _render_selection(self, _: Any = None) -> None:
        visible, self._syncing = self._visible(), True
        try:
            self.selection.value = tuple(i for i in self.panel.state.selected if i in visible)
        finally:
            self._syncing = False


class CompareView(w.VBox):
    """Params diff, metric table, the curves (an Output), changed files, notebook diffs."""

    def __init__(self, panel: Any) -> None:
        self.panel = panel
        comparison = panel.state.comparison
        self.tables = w.HTML(as_html(panel.blocks()))
        self.plot = w.Output()
        figure = panel.figure
        if figure is not None:
            self.plot.append_display_data(Image(data=figure_png(figure), format="png"))
        diffs = [
            (f"{other}: {path}", text)
            for other, by_path in zip(comparison.ids[1:] if comparison else [],
                                      comparison.notebook_diffs if comparison else [], strict=True)
            for path, text in by_path.items()
        ]  # fmt: skip
        self.notebooks = w.Accordion(
            children=[w.HTML(f"<pre>{html.escape(text)}</pre>") for _, text in diffs],
            titles=tuple(title for title, _ in diffs),
            selected_index=None,
        )
        super().__init__([self.tables, self.plot, self.notebooks])
        self.add_class("mlvc-compare-panel")


class LiveView(w.VBox):
    """The curves as an image and the recording facts, updated when the panel redraws."""

    def __init__(self, panel: Any) -> None:
        self.panel = panel
        self.facts = w.HTML()
        self.image = w.Image(format="png")
        super().__init__([self.facts, self.image])
        panel.state.observe(self._render, names="redraws")
        self._render()

    def _render(self, _: Any = None) -> None:
        s = self.panel.state
        self.facts.value = as_html(self.panel.blocks()[:1]) + _error_html(s.error)
        if s.png:
            self.image.value = s.png
