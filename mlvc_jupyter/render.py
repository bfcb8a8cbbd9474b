"""How records read: the text and HTML that both ``mlvc`` and the notebook views show.

A rendering is a list of blocks, each a line of text or a :class:`Table`. The ``*_blocks``
functions turn a core record into blocks; :func:`as_text` lays them out for a terminal (``mlvc
log`` prints it, ``repr(view)`` returns it) and :func:`as_html` for a notebook
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
from typing import TYPE_CHECKING, Any, TypeAlias

from mlvc_jupyter.core.configs.values import flatten
from mlvc_jupyter.core.records import lower_is_better

if TYPE_CHECKING:
    from mlvc_jupyter.core.records import (
        Checkpoint,
        Curves,
        ExperimentComparison,
        ExperimentDiff,
        ExperimentPage,
        ExperimentRecord,
        ExperimentSummary,
        RepoStatus,
    )

__all__ = [
    "Block",
    "Delta",
    "Row",
    "Table",
    "as_html",
    "as_text",
    "checkpoint_blocks",
    "comparison_blocks",
    "curves_blocks",
    "diff_blocks",
    "format_metrics",
    "format_param",
    "format_time",
    "format_value",
    "html_table",
    "log_blocks",
    "page_blocks",
    "record_blocks",
    "status_blocks",
    "text_table",
    "timings_blocks",
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
    return f'<td class="mlvc-num">{text}</td>' if _is_number(value) else f"<td>{text}</td>"


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


# -- records -------------------------------------------------------------------------------------


def status_blocks(status: RepoStatus, *, session: Sequence[Row] = ()) -> list[Block]:
    """Return the branch, HEAD and state, ``session`` rows (a kernel's), then changed files."""
    if status.head is None:
        where = f"{status.branch or '(unborn)'} (no commits yet)"
    elif status.detached:
        where = f"detached HEAD at {status.head[:8]}"
    else:
        where = f"{status.branch} @ {status.head[:8]}"
    rows: list[Row] = [
        ("repository", status.root),
        ("branch", where),
        ("state", status.state.value),
        *session,
    ]
    for label in ("staged", "modified", "untracked", "conflicted"):
        paths: list[str] = getattr(status, label)
        if paths:
            rows.append((label, _file_list(paths)))
    return [Table(None, (), rows)]


def _file_list(paths: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(paths[:limit])
    more = f" ... and {len(paths) - limit} more" if len(paths) > limit else ""
    return f"{len(paths)}: {shown}{more}"


def log_blocks(
    summaries: Sequence[ExperimentSummary], *, total: int | None = None, offset: int = 0
) -> list[Block]:
    """Return experiments as a table and "showing X–Y of N" (they are matches from ``offset``)."""
    total = len(summaries) if total is None else total
    if not total:
        return ["No experiments yet. Start one with `mlvc start <id>` (or `%vc_start <id>`)."]
    named = any(s.name != s.id for s in summaries)
    headers = ["ID", *(["NAME"] if named else []), "STATUS", "CKPT", "UPDATED", "METRICS", "TAGS"]
    rows = [
        (
            s.id,
            *([s.name] if named else []),
            s.status,
            s.checkpoints,
            format_time(s.updated),
            format_metrics(s.metrics),
            s.tags,
        )
        for s in summaries
    ]
    first, last = offset + 1, offset + len(summaries)
    more = f" (--offset {last} for more)" if last < total else ""
    return [Table(None, headers, rows), f"showing {first}–{last} of {total}{more}"]


def page_blocks(page: ExperimentPage, *, filtered: bool = False) -> list[Block]:
    """Return a page of a query as :func:`log_blocks` does (``filtered``: a filter is on)."""
    if not page.items and page.total:
        return [f"No experiments past {page.offset}: {page.total} match."]
    if not page.items and filtered:
        return ["No experiment matches."]
    return log_blocks(page.items, total=page.total, offset=page.offset)


def checkpoint_blocks(checkpoint: Checkpoint) -> list[Block]:
    """Return "Recorded <id> #<seq> (<status>): <message>" and the checkpoint's facts."""
    c = checkpoint
    rows: list[Row] = [
        ("commit", c.commit[:8]),
        ("metrics", format_metrics(c.metrics, width=None) or None),
        ("tags", c.tags or None),
        ("seed", c.extra.get("seed")),
        ("notebook", c.extra.get("notebook")),
    ]
    return [
        f"Recorded {c.experiment_id} #{c.seq} ({c.status}): {c.message}",
        Table(None, (), [row for row in rows if row[1] is not None]),
        *(f"warning: {w}" for w in c.warnings),
    ]


def record_blocks(record: ExperimentRecord) -> list[Block]:
    """Return the summary, metrics, configs (dotted keys), files, notebooks, timings, warnings."""
    s, details = record.summary, record.details
    env = record.environment
    platform = env.get("platform") or {}
    rows: list[Row] = [
        ("experiment", s.id if s.name == s.id else f"{s.id} ({s.name})"),
        ("status", s.status),
        ("checkpoints", s.checkpoints),
        ("created", format_time(s.created)),
        ("updated", format_time(s.updated)),
        ("commit", s.commit[:8]),
        ("started from", f"{s.branch or 'detached'} @ {(s.head or 'no commit')[:8]}"),
        ("tags", s.tags or "-"),
        ("message", s.message),
        ("python", f"{env.get('python_version', '?')} on {platform.get('system', '?')}"),
        ("notebook", details.get("notebook")),
        ("cells run", len(details.get("execution") or []) or None),
        ("out of order", details.get("out_of_order")),
        ("unsaved runs", details.get("unmatched_inputs") or None),
        ("seed", details.get("seed")),
        ("error", _error_text(details.get("error"))),
        ("worktree", record.worktree),
    ]
    large = [(f.path, f"{f.size} B", f.sha256[:12]) for f in record.large_files]
    notebooks = [(n.get("path", "?"), _notebook_state(n)) for n in record.notebooks]
    timings = [(k, _ms(v)) for k, v in record.timings.items() if _is_number(v)]
    return [
        Table(None, (), [row for row in rows if row[1] is not None]),
        Table("metrics", (), sorted(s.metrics.items())),
        Table("configs", (), [(k, format_param(v)) for k, v in flatten(record.configs).items()]),
        Table("changed files (vs. the starting commit)", (), [(p,) for p in record.dirty_files]),
        Table("large files (left out)", (), large),
        Table("notebooks", (), notebooks),
        Table("timings (ms)", (), timings, folded=True),
        Table("warnings", (), [(w,) for w in [*record.warnings, *(details.get("warnings") or [])]]),
    ]


def _error_text(error: Any) -> str | None:
    if not isinstance(error, Mapping):
        return None
    return f"{error.get('type', 'Error')}: {error.get('message', '')}"


def _notebook_state(notebook: Mapping[str, Any]) -> str:
    if notebook.get("warning"):
        return f"stored as is: {notebook['warning']}"
    return "stripped" if notebook.get("stripped") else "stored"


def diff_blocks(diff: ExperimentDiff) -> list[Block]:
    """Return the params (as dotted keys), metrics (with B - A deltas) and files that differ."""
    a, b = diff.a, diff.b
    changed = diff.params_changed.items()
    params: list[Row] = [(k, format_param(old), format_param(new)) for k, (old, new) in changed]
    params += [(k, "", format_param(v)) for k, v in diff.params_added.items()]
    params += [(k, format_param(v), "") for k, v in diff.params_removed.items()]
    metrics: list[Row] = [
        (key, _or_dash(m.get("a")), _or_dash(m.get("b")), Delta.of(key, m.get("delta")))
        for key, m in diff.metrics.items()
    ]
    return [
        f"{a} and {b} do not differ." if diff.is_empty else f"diff {a} -> {b}",
        Table("params", ("PARAM", a, b), params, empty="(same)"),
        Table("metrics", ("METRIC", a, b, "DELTA"), metrics, empty="(none recorded)"),
        Table("files", (), diff.files, empty="(same)"),
    ]


def _or_dash(value: Any) -> Any:
    return "-" if value is None else value


def comparison_blocks(comparison: ExperimentComparison) -> list[Block]:
    """Return params that differ (dotted keys), metrics with deltas against the first
    experiment, and the files that changed from the first, for two or more experiments."""
    ids = comparison.ids
    params: list[Row] = [
        (key, *("" if v is None else format_param(v) for v in values))
        for key, values in comparison.params_diff().items()
    ]
    metrics: list[Row] = [
        (row["metric"], *(_or_dash(v) for v in row["values"]),
         *(Delta.of(row["metric"], d) for d in row["deltas"][1:]))
        for row in comparison.metrics_table()
    ]  # fmt: skip
    deltas = [f"Δ {other}" for other in ids[1:]]
    files: list[Row] = [
        (other, status, path)
        for other, changed in zip(ids[1:], comparison.files, strict=True)
        for status, path in changed
    ]
    return [
        f"compare {', '.join(ids)} (deltas against {ids[0]})",
        Table("params", ("PARAM", *ids), params, empty="(same)"),
        Table("metrics", ("METRIC", *ids, *deltas), metrics, empty="(none recorded)"),
        Table(f"files changed from {ids[0]}", ("IN", "", "PATH"), files, empty="(same)"),
    ]


def curves_blocks(curves: Curves) -> list[Block]:
    """Return each logged metric's history in one row: points, first and last value."""
    rows = [
        (name, len(points), points[0][1], points[-1][1])
        for name, points in sorted(curves.items())
        if points
    ]
    return [Table("metric history (tracker)", ("METRIC", "POINTS", "FIRST", "LAST"), rows)]


_PHASES = ("stage", "strip", "hash", "write_tree", "commit", "ref_update")


def timings_blocks(timings: Sequence[Mapping[str, Any]]) -> list[Block]:
    """Return how long each phase of recent checkpoints took, newest first (oldest given first)."""
    headers = ["WHEN", "EXPERIMENT", "SEQ", *(p.upper().replace("_", "-") for p in _PHASES)]
    rows = [
        (
            format_time(str(t.get("time", ""))),
            t.get("id", "?"),
            t.get("seq", "?"),
            *(_ms(t.get(phase)) for phase in _PHASES),
            _ms(sum(t.get(phase) or 0.0 for phase in _PHASES)),
            t.get("attempts", 1),
        )
        for t in reversed(timings)
    ]
    title = "checkpoint timings (ms), newest first"
    empty = "(none recorded on this machine yet)"
    return [Table(title, [*headers, "TOTAL", "TRIES"], rows, empty=empty)]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"
