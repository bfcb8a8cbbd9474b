"""Views: core records that display themselves, as HTML tables in a notebook and text elsewhere.

Each view wraps one core record: attribute access passes through to it, ``to_dict()`` returns its
JSON shape, and ``_repr_html_`` and ``__repr__``/``_repr_pretty_`` render the blocks
:mod:`mlvc_jupyter.render` makes of it: the ones ``mlvc`` prints, so ``%vc_log`` reads like
``mlvc log``. No IPython or ipywidgets import: IPython finds the ``_repr_*_`` methods itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlvc_jupyter.blocks import (
    checkpoint_blocks,
    comparison_blocks,
    curves_blocks,
    diff_blocks,
    page_blocks,
    record_blocks,
    reproduction_blocks,
    status_blocks,
)
from mlvc_jupyter.render import Block, Row, as_html, as_text

if TYPE_CHECKING:
    from mlvc_jupyter.core.records import Curves, ExperimentPage

__all__ = [
    "CheckpointView",
    "ComparisonView",
    "DiffView",
    "ExperimentListView",
    "Notice",
    "RecordView",
    "ReproductionView",
    "RestoreView",
    "StatusView",
]


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

    def blocks(self) -> list[Block]:
        """Return the lines and tables this view shows (see :mod:`mlvc_jupyter.render`)."""
        return []

    def __repr__(self) -> str:
        return as_text(self.blocks()) or f"<{type(self).__name__}: empty>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self) if not cycle else f"<{type(self).__name__}>")

    def _repr_html_(self) -> str:
        return as_html(self.blocks())


class StatusView(_View):
    """The working tree's status, the active experiment and its summary (last checkpoint)."""

    __slots__ = ("active", "experiment", "running")

    def __init__(
        self,
        status: Any,
        *,
        active: str | None = None,
        last: Any = None,
        running: Sequence[Any] = (),
    ) -> None:
        super().__init__(status)
        self.active = active
        self.experiment = last
        self.running = list(running)
        """Summaries of experiments this notebook left running (a kernel restart)."""

    def to_dict(self) -> dict[str, Any]:
        """Return the status plus ``active``, ``experiment`` (the active one's summary) and
        ``running`` (the summaries of those left running)."""
        last = self.experiment.to_dict() if self.experiment is not None else None
        running = [summary.to_dict() for summary in self.running]
        return {**self.record.to_dict(), "active": self.active, "experiment": last,
                "running": running}  # fmt: skip

    def blocks(self) -> list[Block]:
        """Return the status with the kernel's active experiment and its last checkpoint."""
        last = self.experiment
        session: list[Row] = [("active experiment", self.active or "(none: run %vc_start EXP_ID)")]
        if last is not None:
            checkpoint = f"#{last.checkpoints} {last.commit[:8]} {last.message}"
            session.append(("last checkpoint", checkpoint))
        for summary in self.running:
            session.append(("still running", _resume_hint(summary)))
        return status_blocks(self.record, session=session)


def _resume_hint(summary: Any) -> str:
    where = summary.extra.get("notebook")
    return (
        f"{summary.id} (#{summary.checkpoints}, from {where}): "
        f"`%vc_start {summary.id} --resume` continues it here, then `%vc_end` ends it"
    )


class CheckpointView(_View):
    """One recorded checkpoint."""

    __slots__ = ()

    def blocks(self) -> list[Block]:
        """Return "Recorded <id> #<seq> (<status>): <message>" and the checkpoint's facts."""
        return checkpoint_blocks(self.record)


class ExperimentListView(_View):
    """A page of experiments as ``%vc_log`` lists them (``record`` is the core query's page)."""

    __slots__ = ("filtered",)

    def __init__(self, page: ExperimentPage, *, filtered: bool = False) -> None:
        super().__init__(page)
        self.filtered = filtered

    @property
    def total(self) -> int:
        """Return how many experiments match, shown or not."""
        return int(self.record.total)

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"total", "items", "offset", "limit"}``."""
        return dict(self.record.to_dict())

    def __len__(self) -> int:
        return len(self.record.items)

    def __iter__(self) -> Any:
        return iter(self.record.items)

    def __getitem__(self, index: int) -> Any:
        return self.record.items[index]

    def blocks(self) -> list[Block]:
        """Return one row per experiment, and which of the matches are shown."""
        return page_blocks(self.record, filtered=self.filtered)


class RecordView(_View):
    """Everything recorded about an experiment's last checkpoint, and its metric curves.

    In HTML the curves are plotted next to the record (when matplotlib is installed); in
    text each metric's history is one row.
    """

    __slots__ = ("curves",)

    def __init__(self, record: Any, *, curves: Curves | None = None) -> None:
        super().__init__(record)
        self.curves: Curves = dict(curves or {})

    def blocks(self) -> list[Block]:
        """Return the summary, metrics, curves, configs, files, notebooks, timings, warnings."""
        blocks = record_blocks(self.record)
        return [*blocks[:2], *curves_blocks(self.curves), *blocks[2:]]

    def _repr_html_(self) -> str:
        from mlvc_jupyter.widgets.plots import png_html

        image = png_html({self.record.summary.id: self.curves}) if self.curves else ""
        if not image:
            return as_html(self.blocks())
        return (
            '<div style="display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start">'
            f"<div>{as_html(self.blocks())}</div><div>{image}</div></div>"
        )


class ComparisonView(_View):
    """Two or more experiments side by side (``record`` is a core ``ExperimentComparison``)."""

    __slots__ = ()

    def blocks(self) -> list[Block]:
        """Return the params that differ, metrics with deltas, and the files changed."""
        return comparison_blocks(self.record)


class DiffView(_View):
    """What differs between two experiments."""

    __slots__ = ()

    def blocks(self) -> list[Block]:
        """Return the params, metrics and files tables, under a line saying if nothing differs."""
        return diff_blocks(self.record)


class RestoreView(_View):
    """What restoring config files wrote (a core ``ConfigRestore``), or that it wrote nothing."""

    __slots__ = ()

    def blocks(self) -> list[Block]:
        """Return the files written and the safety ref; with none, where the configs are."""
        r = self.record
        label = f"experiment {r.experiment}" if r.experiment else f"config snapshot {r.source}"
        if not r.files:
            return [f"{label[0].upper()}{label[1:]} has no config files: nothing on disk "
                    f"changed. {_load_configs_hint(r)}"]  # fmt: skip
        count = f"{len(r.files)} config file{'s' if len(r.files) > 1 else ''}"
        return [
            f"Restored {count} of {label}: {', '.join(r.files)}. Your previous files are kept "
            f"in {r.safety_ref}: `git checkout {r.safety_ref} -- PATH` brings one back."
        ]


def _load_configs_hint(restored: Any) -> str:
    if restored.experiment:
        return (
            "Its configs (from --config) are recorded in the experiment; load them into a "
            f"variable with `rec = %vc_show {restored.experiment}` and then `cfg = rec.configs`."
        )
    return (
        "Its configs load into a variable with `from mlvc_jupyter import ExperimentManager` "
        f"and then `cfg = ExperimentManager().load_configs({str(restored.source)!r})`."
    )


class ReproductionView(_View):
    """A reproduction: where it is, its drift report and, after ``--run``, the verdict."""

    __slots__ = ()

    def blocks(self) -> list[Block]:
        """Return the checkout, the drift report and the verdict table with its outcome."""
        return reproduction_blocks(self.record)


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

    def blocks(self) -> list[Block]:
        """Return the notice's text."""
        return [self.text]
