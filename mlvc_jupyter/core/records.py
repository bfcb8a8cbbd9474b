"""The values core returns: frozen records with ``to_dict()``, where JSON shapes are made."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from mlvc_jupyter.errors import MlvcError

if TYPE_CHECKING:
    from mlvc_jupyter.core.data.fingerprint import DataDrift, DataFingerprint

__all__ = [
    "Checkpoint",
    "CheckpointTree",
    "CommitInfo",
    "ConfigChange",
    "ConfigRestore",
    "ExperimentComparison",
    "ExperimentDiff",
    "ExperimentPage",
    "ExperimentRecord",
    "ExperimentSummary",
    "FileVersionInfo",
    "GitStatus",
    "Curves",
    "LargeFile",
    "Progress",
    "RepoStatus",
    "lower_is_better",
    "number_delta",
    "report",
]


Progress: TypeAlias = Callable[[int, int], None]
"""``on_progress(done, total)``: how core reports long work; a face draws it (a notebook's
progress bar), core never does."""


def report(on_progress: Progress | None, done: int, total: int) -> None:
    """Call ``on_progress(done, total)`` when there is one."""
    if on_progress is not None:
        on_progress(done, total)


class GitStatus(enum.Enum):
    """The state of a working tree, in one word."""

    CLEAN = "clean"
    MODIFIED = "modified"
    UNTRACKED = "untracked"
    CONFLICTED = "conflicted"
    EMPTY = "empty"


class _Record:
    """Mixin: ``to_dict()`` for a dataclass, turning enums into their values."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict of this record."""
        data: dict[str, Any] = _jsonable(asdict(self))  # type: ignore[call-overload]  # subclasses are dataclasses
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class CommitInfo(_Record):
    """One commit of the user's history."""

    hash: str
    message: str
    author: str
    date: str


@dataclass(frozen=True, slots=True)
class FileVersionInfo(_Record):
    """Where a file stands: its blob at HEAD, the last commit touching it, and its working state."""

    path: str
    git_hash: str | None
    last_commit: CommitInfo | None
    modified: bool
    working_hash: str | None


@dataclass(frozen=True, slots=True)
class RepoStatus(_Record):
    """Branch, HEAD and dirty files of the user's working tree."""

    root: str
    state: GitStatus
    branch: str | None
    head: str | None
    detached: bool
    staged: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    untracked: list[str] = field(default_factory=list)
    conflicted: list[str] = field(default_factory=list)

    @property
    def is_dirty(self) -> bool:
        """Return True when anything differs from HEAD (untracked files included)."""
        return self.state not in (GitStatus.CLEAN, GitStatus.EMPTY)


@dataclass(frozen=True, slots=True)
class LargeFile(_Record):
    """A file left out of a checkpoint because what would be stored is over the size limit."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class CheckpointTree(_Record):
    """A checkpoint's tree, built from the working tree through a private index, and what it
    left out."""

    tree: str
    head: str | None
    branch: str | None
    dirty_files: list[str]
    large_files: list[LargeFile]
    notebooks: list[dict[str, Any]]
    timings: dict[str, float]
    warnings: list[str] = field(default_factory=list)

    def notices(self) -> list[str]:
        """Return what the checkpoint's output must say: its warnings, and each file left out."""
        left_out = [
            f"'{f.path}' was left out of this checkpoint: {f.size:,} bytes would be stored, "
            "over the size limit (max-file-size). Its size and SHA-256 are in the record."
            for f in self.large_files
        ]
        return [*self.warnings, *left_out]


@dataclass(frozen=True, slots=True)
class Checkpoint(_Record):
    """One checkpoint commit of an experiment, as its commit message summarises it."""

    experiment_id: str
    commit: str
    seq: int
    name: str
    status: str
    message: str
    created: str
    timestamp: str
    metrics: dict[str, Any]
    tags: list[str]
    head: str | None
    branch: str | None
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    """What this checkpoint could not record as it was (files left out, ...), for its output."""


@dataclass(frozen=True, slots=True)
class ExperimentSummary(_Record):
    """An experiment as listings show it: read from its last checkpoint's commit message."""

    id: str
    name: str
    status: str
    created: str
    updated: str
    checkpoints: int
    metrics: dict[str, Any]
    tags: list[str]
    branch: str | None
    head: str | None
    commit: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        """Return seconds from the first checkpoint to the last (None: a time is unreadable)."""
        try:
            delta = dt.datetime.fromisoformat(self.updated) - dt.datetime.fromisoformat(
                self.created
            )
        except (TypeError, ValueError):  # an old or damaged summary: unknown, not an error
            return None
        return delta.total_seconds()


@dataclass(frozen=True, slots=True)
class ExperimentRecord(_Record):
    """Everything recorded about an experiment's last checkpoint (summary plus full record)."""

    summary: ExperimentSummary
    configs: dict[str, Any]
    environment: dict[str, Any]
    dirty_files: list[str]
    large_files: list[LargeFile]
    notebooks: list[dict[str, Any]]
    timings: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    """What the snapshot could not record as it was (dirty submodules, ...)."""
    worktree: str | None = None
    """Where reproduce last materialised the experiment on this machine, if it still exists."""
    data: list[DataFingerprint] = field(default_factory=list)
    """Fingerprints of the data the experiment reads (``--data`` at start)."""


@dataclass(frozen=True, slots=True)
class ExperimentDiff(_Record):
    """What differs between two experiments: params, metrics and files."""

    a: str
    b: str
    params_added: dict[str, Any]
    params_removed: dict[str, Any]
    params_changed: dict[str, tuple[Any, Any]]
    metrics: dict[str, dict[str, Any]]
    files: list[tuple[str, str]]
    data: list[DataDrift] = field(default_factory=list)
    """Data fingerprints that differ from ``a`` to ``b``."""

    @property
    def is_empty(self) -> bool:
        """Return True when the experiments have the same params, metrics, files and data."""
        changed_metrics = any(m.get("delta") not in (0, None) for m in self.metrics.values())
        return not (
            self.params_added
            or self.params_removed
            or self.params_changed
            or self.files
            or self.data
            or changed_metrics
        )


Curves: TypeAlias = dict[str, list[tuple[float, float]]]
"""Metric name → (step, value) points in the order they were logged."""


@dataclass(frozen=True, slots=True)
class ExperimentComparison(_Record):
    """Two or more experiments side by side; the first is the one the others are measured against.

    Every list holds one entry per experiment, in the order of ``ids``; ``files`` and
    ``notebook_diffs`` hold one per experiment after the first (what changed from the first).
    """

    ids: list[str]
    summaries: list[ExperimentSummary]
    params: list[dict[str, Any]]
    """Each experiment's configs as flat dotted keys."""
    files: list[list[tuple[str, str]]]
    """(status letter, path) of each file that differs from the first experiment's tree."""
    notebook_diffs: list[dict[str, str]]
    """Path → nbdime's text diff (sources only, outputs ignored) of each changed notebook."""
    curves: list[Curves]
    """Each experiment's metric history (from its tracker), for plotting."""

    def params_diff(self) -> dict[str, list[Any]]:
        """Return the dotted keys whose values are not all equal → one value per experiment
        (None where an experiment lacks the key)."""
        keys = sorted({key for flat in self.params for key in flat})
        rows = {key: [flat.get(key) for flat in self.params] for key in keys}
        return {key: values for key, values in rows.items() if _differ(self.params, key, values)}

    def metrics_table(self) -> list[dict[str, Any]]:
        """Return one row per metric: ``{"metric", "values", "deltas"}``, where ``deltas[i]`` is
        ``values[i] - values[0]`` when both are numbers (None otherwise, and for the first)."""
        names = sorted({name for s in self.summaries for name in s.metrics})
        rows = []
        for name in names:
            values = [s.metrics.get(name) for s in self.summaries]
            deltas = [None, *(number_delta(values[0], value) for value in values[1:])]
            rows.append({"metric": name, "values": values, "deltas": deltas})
        return rows


def _differ(params: list[dict[str, Any]], key: str, values: list[Any]) -> bool:
    present = [key in flat for flat in params]
    return not all(present) or any(value != values[0] for value in values[1:])


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def number_delta(a: Any, b: Any) -> float | int | None:
    """Return ``b - a`` when both are numbers (bools are not), else None."""
    return b - a if _is_number(a) and _is_number(b) else None


_LOWER_IS_BETTER = ("loss", "error", "err", "mse", "mae", "rmse", "perplexity", "time", "latency")


def lower_is_better(metric: str) -> bool:
    """Return True for metrics where a smaller value is better (loss, error, time, ...).

    Faces colour a delta as better or worse with it; names are matched by their words.
    """
    words = metric.casefold().replace("-", "_").replace(".", "_").split("_")
    return any(word in _LOWER_IS_BETTER for word in words)


@dataclass(frozen=True, slots=True)
class ConfigChange(_Record):
    """One change of a config file, on HEAD's history or in an experiment."""

    commit: str
    date: str
    message: str
    source: str
    diff: str


@dataclass(frozen=True, slots=True)
class ConfigRestore(_Record):
    """What restoring config files wrote, so a face can say exactly that."""

    source: str
    """The config snapshot file or experiment id restored from, as given."""
    experiment: str | None
    """The experiment's id when the source was one; None for a config snapshot file."""
    files: list[str]
    """The files written, relative to the repository root (none: nothing on disk changed)."""
    safety_ref: str | None
    """The ref holding the working tree from before (None when nothing was written)."""


ParamsReader = Callable[[Sequence[str]], list[dict[str, Any]]]
"""Given checkpoint commits, return each one's configs as flat dotted keys (one git process)."""


@dataclass(frozen=True, slots=True)
class ExperimentPage(_Record):
    """One page of an experiment query: ``items`` are matches ``offset`` onwards of ``total``."""

    total: int
    items: list[ExperimentSummary]
    offset: int
    limit: int | None
    read_params: ParamsReader | None = field(default=None, repr=False, compare=False)
    """Reads the items' configs for :meth:`to_dataframe`; not part of the record's data."""

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"total", "items", "offset", "limit"}``, JSON-ready."""
        return {
            "total": self.total,
            "items": [item.to_dict() for item in self.items],
            "offset": self.offset,
            "limit": self.limit,
        }

    def to_dataframe(self, *, params: bool = False) -> Any:  # pandas.DataFrame: optional
        """Return the page as a ``pandas.DataFrame``, one row per experiment.

        Metrics become columns ``metrics.<name>``; with ``params`` the configs recorded with
        each experiment's last checkpoint become columns ``params.<dotted.key>`` (read in one
        git process). pandas is optional: it is imported here, not by mlvc.

        Raises:
            MlvcError: pandas is not installed.
        """
        try:
            import pandas as pd
        except ImportError:
            raise MlvcError(
                "pandas is not installed, so the page cannot become a DataFrame.",
                hint="Install it (`pip install pandas`), or use page.to_dict() or page.items.",
            ) from None
        rows = [_frame_row(item) for item in self.items]
        if params and self.read_params is not None and self.items:
            configs = self.read_params([item.commit for item in self.items])
            for row, flat in zip(rows, configs, strict=True):
                row.update({f"params.{key}": value for key, value in flat.items()})
        return pd.DataFrame(rows, columns=_frame_columns(rows))


_FRAME_FIELDS = ("id", "name", "status", "created", "updated", "checkpoints", "tags", "message")


def _frame_row(summary: ExperimentSummary) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(summary, name) for name in _FRAME_FIELDS}
    row.update({f"metrics.{key}": value for key, value in summary.metrics.items()})
    return row


def _frame_columns(rows: list[dict[str, Any]]) -> list[str]:
    """Return the summary fields, then metrics, then params, each group sorted by name."""
    extra = sorted({key for row in rows for key in row} - set(_FRAME_FIELDS))
    metrics = [key for key in extra if key.startswith("metrics.")]
    params = [key for key in extra if key.startswith("params.")]
    return [*_FRAME_FIELDS, *metrics, *params]
