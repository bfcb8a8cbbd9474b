"""How results look: HTML tables in a notebook, aligned plain-text tables elsewhere.

Each view wraps one core record: attribute access passes through to it, ``to_dict()`` returns its
JSON shape, ``_repr_html_`` renders it for Jupyter and ``__repr__``/``_repr_pretty_`` as text.
Every string that reaches HTML goes through :func:`html.escape`: experiment names, messages and
file names come from users and from git, and markup injected into a notebook's output runs as
code. Text output drops control characters, so a message cannot send terminal escape sequences.

:func:`text_table` and :func:`html_table` are plain functions a CLI can reuse.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "CheckpointView",
    "DiffView",
    "ExperimentListView",
    "Notice",
    "RecordView",
    "StatusView",
    "format_value",
    "html_table",
    "text_table",
]

MAX_CELL = 80
"""Characters a plain-text cell shows (single-column tables show up to ``MAX_LONG_CELL``)."""
MAX_LONG_CELL = 400
MAX_HTML_CELL = 2000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def format_value(value: Any, limit: int = MAX_CELL) -> str:
    """Return one line of at most ``limit`` characters for a table cell (floats: 4 digits)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping):
        text = ", ".join(f"{k}={format_value(v, limit)}" for k, v in value.items())
    elif isinstance(value, list | tuple):
        text = ", ".join(format_value(v, limit) for v in value)
    else:
        text = _CONTROL.sub(" ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text_table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], *, max_width: int = MAX_CELL
) -> str:
    """Return rows as an aligned plain-text table under a dashed header line.

    Cells are cut to ``max_width`` characters; the last column is never padded.
    """
    cells = [[format_value(h, max_width) for h in headers]]
    cells += [[format_value(v, max_width) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def html_table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], *, caption: str | None = None
) -> str:
    """Return rows as an HTML table; every header, cell and the caption are escaped."""
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{_esc(format_value(v, MAX_HTML_CELL))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    cap = f"<caption>{_esc(caption)}</caption>" if caption else ""
    return (
        f'<table class="mlvc-table">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _width(headers: Sequence[str]) -> int:
    return MAX_LONG_CELL if len(headers) == 1 else MAX_CELL


def _line(text: str) -> str:
    return _CONTROL.sub(" ", text).strip()


Section = tuple[str, Sequence[str], list[Sequence[Any]]]
"""A table of a view: (title, headers, rows)."""


class _View:
    """A record with text and HTML renderings; attributes pass through to ``record``."""

    __slots__ = ("record",)

    def __init__(self, record: Any) -> None:
        self.record = record

    def __getattr__(self, name: str) -> Any:
        # Private names stay ours, so IPython's _repr_*_ probes and copy/pickle never reach
        # the record; "record" itself is missing only while unpickling.
        if name.startswith("_") or name == "record":
            raise AttributeError(name)
        return getattr(self.record, name)

    def to_dict(self) -> Any:
        """Return the wrapped record's JSON shape."""
        return self.record.to_dict()

    def headline(self) -> str | None:
        """Return the line shown above the tables, if any."""
        return None

    def sections(self) -> list[Section]:
        """Return (title, headers, rows) of each table this view shows."""
        return []

    def __repr__(self) -> str:
        headline = self.headline()
        parts = [_line(headline)] if headline else []
        parts += [
            f"{_line(title)}\n{text_table(headers, rows, max_width=_width(headers))}"
            for title, headers, rows in self.sections()
            if rows
        ]
        return "\n\n".join(parts) or f"<{type(self).__name__}: empty>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self) if not cycle else f"<{type(self).__name__}>")

    def _repr_html_(self) -> str:
        headline = self.headline()
        parts = [f"<p>{_esc(_line(headline))}</p>"] if headline else []
        parts += [
            html_table(headers, rows, caption=title)
            for title, headers, rows in self.sections()
            if rows
        ]
        return f'<div class="mlvc">{"".join(parts)}</div>'


_KV = ("field", "value")


class StatusView(_View):
    """The working tree's status, the active experiment and its summary (last checkpoint)."""

    __slots__ = ("active", "experiment")

    def __init__(self, status: Any, *, active: str | None = None, last: Any = None) -> None:
        super().__init__(status)
        self.active = active
        self.experiment = last

    def to_dict(self) -> dict[str, Any]:
        """Return the status plus ``active`` and ``experiment`` (the active one's summary)."""
        last = self.experiment.to_dict() if self.experiment is not None else None
        return {**self.record.to_dict(), "active": self.active, "experiment": last}

    def sections(self) -> list[Section]:
        """Return the status table and the dirty-file table."""
        s, last = self.record, self.experiment
        rows: list[Sequence[Any]] = [
            ("repository", s.root),
            ("branch", s.branch or ("(detached)" if s.detached else "(none)")),
            ("HEAD", (s.head or "(no commits yet)")[:12]),
            ("state", getattr(s.state, "value", s.state)),
            ("active experiment", self.active or "(none: run %vc_start EXP_ID)"),
        ]
        if last is not None:
            rows.append(
                ("last checkpoint", f"#{last.checkpoints} {last.commit[:8]} {last.message}")
            )
        files: list[Sequence[Any]] = [("staged", p) for p in s.staged]
        files += [("modified", p) for p in s.modified]
        files += [("untracked", p) for p in s.untracked] + [("conflicted", p) for p in s.conflicted]
        return [("Status", _KV, rows), ("Dirty files", ("change", "path"), files)]


class CheckpointView(_View):
    """One recorded checkpoint."""

    __slots__ = ()

    def headline(self) -> str:
        """Return "Recorded <id> #<seq> (<status>): <message>"."""
        c = self.record
        return f"Recorded {c.experiment_id} #{c.seq} ({c.status}): {c.message}"

    def sections(self) -> list[Section]:
        """Return one key/value table."""
        c = self.record
        rows: list[Sequence[Any]] = [
            ("commit", c.commit[:12]),
            ("metrics", c.metrics or None),
            ("tags", c.tags or None),
            ("seed", c.extra.get("seed")),
            ("notebook", c.extra.get("notebook")),
        ]
        return [("Checkpoint", _KV, [row for row in rows if row[1] is not None])]


class ExperimentListView(_View):
    """Experiments, newest first, as ``%vc_log`` lists them (``record`` is the shown list)."""

    __slots__ = ("total",)

    def __init__(self, summaries: Sequence[Any], *, total: int | None = None) -> None:
        super().__init__(list(summaries))
        self.total = len(summaries) if total is None else total

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"experiments": [...], "total": n}``."""
        return {"experiments": [s.to_dict() for s in self.record], "total": self.total}

    def __len__(self) -> int:
        return len(self.record)

    def __iter__(self) -> Any:
        return iter(self.record)

    def __getitem__(self, index: int) -> Any:
        return self.record[index]

    def sections(self) -> list[Section]:
        """Return one row per experiment."""
        headers = ("id", "name", "status", "checkpoints", "updated", "metrics", "tags")
        rows: list[Sequence[Any]] = [
            (s.id, s.name, s.status, s.checkpoints, s.updated[:19], s.metrics, s.tags)
            for s in self.record
        ]
        title = f"Experiments ({len(rows)} of {self.total}, newest first)"
        if not rows:
            rows = [("(none yet: %vc_start EXP_ID)", "", "", "", "", "", "")]
        return [(title, headers, rows)]


class RecordView(_View):
    """Everything recorded about an experiment's last checkpoint."""

    __slots__ = ()

    def sections(self) -> list[Section]:
        """Return the summary, configs, notebook facts, files and warnings."""
        r = self.record
        s, details = r.summary, r.details
        summary: list[Sequence[Any]] = [
            ("name", s.name),
            ("status", s.status),
            ("checkpoints", s.checkpoints),
            ("created", s.created),
            ("updated", s.updated),
            ("commit", s.commit[:12]),
            ("metrics", s.metrics or None),
            ("tags", s.tags or None),
            ("notebook", details.get("notebook")),
            ("cells run", len(details.get("execution") or []) or None),
            ("out of order", details.get("out_of_order")),
            ("seed", details.get("seed")),
            ("error", _error_text(details.get("error"))),
            ("reproduced in", r.worktree),
        ]
        configs: list[Sequence[Any]] = [(k, json.dumps(v)) for k, v in _flat(r.configs).items()]
        files: list[Sequence[Any]] = [(f, "dirty") for f in r.dirty_files]
        files += [(f.path, f"left out: {f.size} bytes") for f in r.large_files]
        warnings: list[Sequence[Any]] = [(w,) for w in details.get("warnings") or []]
        return [
            (f"Experiment {s.id}", _KV, [row for row in summary if row[1] is not None]),
            ("Configs", ("param", "value"), configs),
            ("Files", ("path", "state"), files),
            ("Warnings", ("warning",), warnings),
        ]


class DiffView(_View):
    """What differs between two experiments."""

    __slots__ = ()

    def sections(self) -> list[Section]:
        """Return the params, metrics and files tables."""
        d = self.record
        params: list[Sequence[Any]] = [(k, old, new) for k, (old, new) in d.params_changed.items()]
        params += [(k, None, v) for k, v in d.params_added.items()]
        params += [(k, v, None) for k, v in d.params_removed.items()]
        metrics: list[Sequence[Any]] = [
            (k, m.get("a"), m.get("b"), m.get("delta")) for k, m in d.metrics.items()
        ]
        files: list[Sequence[Any]] = [tuple(f) for f in d.files]
        return [
            (f"Params: {d.a} → {d.b}", ("param", d.a, d.b), params),
            ("Metrics", ("metric", d.a, d.b, "delta"), metrics),
            ("Files", ("change", "path"), files),
        ]

    def headline(self) -> str | None:
        """Say so when the experiments do not differ."""
        d = self.record
        return f"{d.a} and {d.b} do not differ." if d.is_empty else None


class Notice(_View):
    """A one-line outcome (a tag, a branch, a path) with the value it is about in ``value``."""

    __slots__ = ("text",)

    def __init__(self, text: str, value: Any = None) -> None:
        super().__init__(value)
        self.text = text

    @property
    def value(self) -> Any:
        """Return the outcome's value (a tag name, a path, a ref)."""
        return self.record

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"text": ..., "value": ...}`` with the value as text."""
        return {"text": self.text, "value": None if self.record is None else str(self.record)}

    def headline(self) -> str:
        """Return the notice's text."""
        return self.text


def _error_text(error: Any) -> str | None:
    if not isinstance(error, Mapping):
        return None
    return f"{error.get('type', 'Error')}: {error.get('message', '')}"


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        flat: dict[str, Any] = {}
        for key, inner in value.items():
            flat.update(_flat(inner, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): value} if prefix else {}
