"""How records read: the text and HTML that both ``mlvc`` and the notebook views show.

A rendering is a list of blocks, each a line of text or a :class:`Table`; :mod:`mlvc_jupyter.blocks`
turns each core record into blocks. :func:`as_text` lays them out for a terminal (``mlvc log``
prints it, ``repr(view)`` returns it) and :func:`as_html` for a notebook
(``view._repr_html_()``), so ``mlvc show`` and ``%vc_show`` list the same fields in the same order.

Every string that reaches HTML goes through :func:`html.escape`: experiment names, messages and
file names come from users and from git, and markup injected into a notebook's output runs as
code. Text drops control characters, so a message cannot send terminal escape sequences.
No IPython here: the command line imports this module.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from mlvc_jupyter.core.records import lower_is_better

__all__ = [
    "Block",
    "Delta",
    "Row",
    "Table",
    "as_html",
    "as_text",
    "format_metrics",
    "format_param",
    "format_time",
    "format_value",
    "html_table",
    "is_number",
    "text_table",
]

MAX_CELL = 80
"""Characters a plain-text cell shows, except in the last column (``MAX_LONG_CELL``)."""
MAX_LONG_CELL = 400
MAX_HTML_CELL = 2000
METRICS_WIDTH = 40
"""Characters of metrics a row of ``mlvc log`` shows."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

Row: TypeAlias = Sequence[Any]


@dataclass(frozen=True)
class Table:
    """A table: an optional title, column headers (none for key/value rows) and rows.

    ``empty`` is the line shown in place of the rows when there are none; without it, a table
    with no rows is left out.
    """

    title: str | None
    headers: Sequence[str]
    rows: Sequence[Row]
    empty: str | None = None
    folded: bool = False
    """In HTML, folded away under its title (a developer's detail, such as timings)."""

    def layout(self) -> tuple[Sequence[str], Sequence[Row]] | None:
        """Return the (headers, rows) to draw, the ``empty`` line as one row, or None."""
        if self.rows:
            return self.headers, self.rows
        return None if self.empty is None else ((), [(self.empty,)])


Block: TypeAlias = str | Table
"""A line of text (a headline or a note) or a table."""


@dataclass(frozen=True)
class Delta:
    """A table cell holding a metric's change; ``better`` says which way it went (None: unknown)."""

    value: float | int | None
    better: bool | None = None

    @classmethod
    def of(cls, metric: str, delta: float | int | None) -> Delta:
        """Return the delta of ``metric``, better when it moved the way the metric wants."""
        if not delta:
            return cls(delta)
        return cls(delta, (delta < 0) == lower_is_better(metric))

    def __str__(self) -> str:
        if self.value is None:
            return ""
        return f"{self.value:+.4g}" if isinstance(self.value, float) else f"{self.value:+}"

    @property
    def css(self) -> str:
        """Return the HTML class of the cell: aligned as a number, coloured by ``better``."""
        if self.better is None:
            return "mlvc-num"
        return "mlvc-num mlvc-better" if self.better else "mlvc-num mlvc-worse"


CSS = (
    ".mlvc{font-family:var(--jp-ui-font-family,sans-serif);"
    "font-size:var(--jp-ui-font-size1,13px);color:var(--jp-ui-font-color1,inherit)}"
    ".mlvc table.mlvc-table{border-collapse:collapse;margin:4px 0 8px}"
    ".mlvc th,.mlvc td{padding:2px 8px;text-align:left;vertical-align:top;"
    "border-bottom:var(--jp-border-width,1px) solid var(--jp-border-color2,#e0e0e0)}"
    ".mlvc th{color:var(--jp-ui-font-color2,inherit);font-weight:600}"
    ".mlvc caption{text-align:left;font-weight:600;padding:4px 0}"
    ".mlvc td.mlvc-num{text-align:right;font-variant-numeric:tabular-nums;"
    "font-family:var(--jp-code-font-family,monospace)}"
    ".mlvc .mlvc-better{color:var(--jp-success-color1,#388e3c)}"
    ".mlvc .mlvc-worse{color:var(--jp-error-color1,#d32f2f)}"
    ".mlvc details summary{cursor:pointer;color:var(--jp-ui-font-color2,inherit)}"
)
"""JupyterLab's CSS variables (light and dark themes alike), with fallbacks elsewhere."""


# -- values --------------------------------------------------------------------------------------


def format_value(value: Any, limit: int = MAX_CELL) -> str:
    """Return one line of at most ``limit`` characters for a table cell (floats: 4 digits)."""
    if value is None:
        return ""
    if isinstance(value, Delta):
        return str(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping):
        text = ", ".join(f"{k}={format_value(v, limit)}" for k, v in value.items())
    elif isinstance(value, list | tuple):
        text = ", ".join(format_value(v, limit) for v in value)
    else:
        text = _line(str(value))
    return _cut(text, limit)


def format_param(value: Any) -> str:
    """Return a config value exactly, as JSON with strings bare: two lrs may differ late."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def format_metrics(metrics: Mapping[str, Any], *, width: int | None = METRICS_WIDTH) -> str:
    """Return ``k=v k=v`` in key order, cut at ``width`` characters (None: never)."""
    text = " ".join(f"{key}={format_value(value)}" for key, value in sorted(metrics.items()))
    return text if width is None else _cut(text, width)


def format_time(iso: str) -> str:
    """Return an ISO timestamp as local 'YYYY-MM-DD HH:MM:SS' (the text itself if unparsable)."""
    try:
        return dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _line(text: str) -> str:
    return _CONTROL.sub(" ", text).strip()


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


# -- tables and blocks ---------------------------------------------------------------------------


def text_table(headers: Sequence[str], rows: Iterable[Row], *, max_width: int = MAX_CELL) -> str:
    """Return rows as columns two spaces apart, under ``headers`` if there are any.

    Cells go through :func:`format_value` and are cut to ``max_width`` characters, except in
    the last column: it is never padded, so a long path or message there is cut only at
    ``MAX_LONG_CELL``.
    """
    table = [list(headers)] if headers else []
    table += [list(row) for row in rows]
    if not table:
        return ""
    last = len(table[0]) - 1
    limits = [max_width] * last + [max(max_width, MAX_LONG_CELL)]
    cells = [[format_value(v, n) for v, n in zip(row, limits, strict=True)] for row in table]
    widths = [max(len(row[i]) for row in cells) for i in range(last + 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def html_table(headers: Sequence[str], rows: Iterable[Row], *, caption: str | None = None) -> str:
    """Return rows as an HTML table; every header, cell and the caption are escaped."""
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_html_cell(v) for v in row) + "</tr>" for row in rows)
    cap = f"<caption>{_esc(caption)}</caption>" if caption else ""
    thead = f"<thead><tr>{head}</tr></thead>" if headers else ""
    return f'<table class="mlvc-table">{cap}{thead}<tbody>{body}</tbody></table>'


def _html_cell(value: Any) -> str:
    """Return a ``<td>``: numbers aligned right, deltas coloured better or worse."""
    text = _esc(format_value(value, MAX_HTML_CELL))
    if isinstance(value, Delta):
        return f'<td class="{value.css}">{text}</td>'
    return f'<td class="mlvc-num">{text}</td>' if is_number(value) else f"<td>{text}</td>"


def as_text(blocks: Iterable[Block]) -> str:
    """Return blocks as plain text, a blank line apart; a titled table is indented under it."""
    return "\n\n".join(filter(None, (_text(block) for block in blocks)))


def _text(block: Block) -> str:
    if isinstance(block, str):
        return _line(block)
    laid_out = block.layout()
    if laid_out is None:
        return ""
    table = text_table(*laid_out)
    if block.title is None:
        return table
    return "\n".join([_line(block.title), *(f"  {line}" for line in table.splitlines())])


def as_html(blocks: Iterable[Block]) -> str:
    """Return blocks as HTML: lines as paragraphs, tables captioned with their titles."""
    parts = []
    for block in blocks:
        if isinstance(block, str):
            parts.append(f"<p>{_esc(_line(block))}</p>" if block else "")
        elif (laid_out := block.layout()) is not None:
            parts.append(_html_block(block, laid_out))
    return f'<div class="mlvc"><style>{CSS}</style>{"".join(parts)}</div>'


def _html_block(block: Table, laid_out: tuple[Sequence[str], Sequence[Row]]) -> str:
    if not block.folded:
        return html_table(*laid_out, caption=block.title)
    title = _esc(block.title or "details")
    return f"<details><summary>{title}</summary>{html_table(*laid_out)}</details>"


def is_number(value: object) -> bool:
    """Return True for an int or float that is not a bool (numbers align right)."""
    return isinstance(value, int | float) and not isinstance(value, bool)
