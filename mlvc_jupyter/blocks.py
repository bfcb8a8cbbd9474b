"""The blocks each core record reads as: status, a page of experiments, a checkpoint, a record,
a diff, a comparison, metric curves and timings.

:mod:`mlvc_jupyter.render` lays blocks out as text (``mlvc``) or HTML (the notebook views), so
every face shows the same fields in the same order. No IPython here: the command line imports it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mlvc_jupyter.core.configs.values import flatten
from mlvc_jupyter.render import (
    Block,
    Delta,
    Row,
    Table,
    format_metrics,
    format_param,
    format_time,
    is_number,
)

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
    from mlvc_jupyter.core.reproduction.drift import DriftReport
    from mlvc_jupyter.core.reproduction.pipeline import Reproduction
    from mlvc_jupyter.core.reproduction.verdict import Verdict

__all__ = [
    "checkpoint_blocks",
    "comparison_blocks",
    "curves_blocks",
    "diff_blocks",
    "log_blocks",
    "page_blocks",
    "record_blocks",
    "reproduction_blocks",
    "status_blocks",
    "timings_blocks",
]


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
    data = [(d.path, d.kind, f"{d.size} B", f"{d.files} files", d.sha256[:12]) for d in record.data]
    notebooks = [(n.get("path", "?"), _notebook_state(n)) for n in record.notebooks]
    timings = [(k, _ms(v)) for k, v in record.timings.items() if is_number(v)]
    return [
        Table(None, (), [row for row in rows if row[1] is not None]),
        Table("metrics", (), sorted(s.metrics.items())),
        Table("configs", (), [(k, format_param(v)) for k, v in flatten(record.configs).items()]),
        Table("changed files (vs. the starting commit)", (), [(p,) for p in record.dirty_files]),
        Table("large files (left out)", (), large),
        Table("data (fingerprints)", (), data),
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
    data = [(d.describe(),) for d in diff.data]
    return [
        f"{a} and {b} do not differ." if diff.is_empty else f"diff {a} -> {b}",
        Table("params", ("PARAM", a, b), params, empty="(same)"),
        Table("metrics", ("METRIC", a, b, "DELTA"), metrics, empty="(none recorded)"),
        Table("files", (), diff.files, empty="(same)"),
        *([Table("data (fingerprints)", (), data)] if data else []),
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


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def reproduction_blocks(reproduction: Reproduction) -> list[Block]:
    """Return where the experiment was materialised, its drift report, then the verdict."""
    r = reproduction
    blocks: list[Block] = [
        f"Checked out {r.experiment_id} @ {r.commit[:8]} in {r.worktree}",
        f"Entry point (what --run runs): {r.entry or 'none recorded'}.",
    ]
    blocks += drift_blocks(r.drift)
    if r.verdict is not None:
        blocks += verdict_blocks(r.verdict)
    return blocks


def drift_blocks(drift: DriftReport) -> list[Block]:
    """Return the environment changes, the data files' checks and the configs restored."""
    environment = [
        (c["kind"], c["name"], c["change"], c["old"] or "-", c["new"] or "-")
        for c in drift.environment
    ]
    data = [(c.path, c.kind, c.state, c.sha256[:12], (c.found or "")[:12]) for c in drift.data]
    return [
        "Drift: "
        + (
            "the environment or data differ from the record."
            if drift.drifted
            else "none (environment and data files as recorded)."
        ),  # fmt: skip
        Table("environment drift", ("kind", "name", "change", "recorded", "now"), environment),
        Table("data files", ("path", "kind", "state", "sha256", "found"), data),
        Table(
            "configs restored",
            (),
            [
                ("config files", ", ".join(drift.config_files) or "-"),
                ("configs", ", ".join(drift.configs) or "-"),
            ],
        ),  # fmt: skip
    ]


def verdict_blocks(verdict: Verdict) -> list[Block]:
    """Return the table of final metrics (original, reproduced, delta, within) and the
    one-line outcome."""
    rows = [
        (m.name, format_param(m.original), format_param(m.reproduced), Delta(m.delta),
         f"{m.rtol:g}", m.within)
        for m in verdict.metrics
    ]  # fmt: skip
    tolerance = f"rtol={verdict.tolerance.rtol:g}, atol={verdict.tolerance.atol:g}"
    run = f" (re-run recorded as {verdict.run_id})" if verdict.run_id else ""
    headers = ("metric", "original", "reproduced", "delta", "rtol", "within tolerance")
    return [
        Table(f"verdict ({tolerance})", headers, rows),
        f"{verdict.line}{run}",
    ]
