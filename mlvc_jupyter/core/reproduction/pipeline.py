"""Reproduce an experiment end to end: materialise, report drift, re-run, give the verdict.

:func:`reproduce` is the one core call behind ``%vc_reproduce``, ``mlvc reproduce`` and the
Python API. It returns a :class:`Reproduction` record; faces render it (HTML in a notebook,
text in the CLI) and the CLI takes its exit status from the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlvc_jupyter.core.reading.listing import get, show_at
from mlvc_jupyter.core.recording.writer import ExperimentWriter
from mlvc_jupyter.core.records import ExperimentRecord, ExperimentSummary, Progress, _Record
from mlvc_jupyter.core.reproduction.drift import (
    DriftReport,
    data_checks,
    drift_report,
    restore_large_files,
)
from mlvc_jupyter.core.reproduction.execute import entry_point, run_entry
from mlvc_jupyter.core.reproduction.linking import child_environment, reproducing
from mlvc_jupyter.core.reproduction.options import ReproduceOptions
from mlvc_jupyter.core.reproduction.outputs import clear_outputs, record_from_outputs
from mlvc_jupyter.core.reproduction.runs import free_run_id
from mlvc_jupyter.core.reproduction.verdict import (
    REPRODUCED,
    Tolerance,
    Verdict,
    could_not_run,
    judge,
)
from mlvc_jupyter.core.reproduction.worktree import checkpoint_commit, materialise
from mlvc_jupyter.errors import ExperimentNotFoundError

__all__ = ["Reproduction", "reproduce"]


@dataclass(frozen=True, slots=True)
class Reproduction(_Record):
    """A materialised experiment: where, its drift report and, after a re-run, the verdict."""

    experiment_id: str
    commit: str
    """The checkpoint materialised."""
    worktree: str
    drift: DriftReport
    configs: dict[str, Any]
    """The configs recorded at that checkpoint."""
    entry: str | None
    """What ``--run`` executes: a command, or ``notebook <path>``."""
    verdict: Verdict | None = None

    def __bool__(self) -> bool:
        """Return True when it is materialised and, if it was re-run, reproduced."""
        return self.verdict is None or self.verdict.outcome == REPRODUCED


def reproduce(
    writer: ExperimentWriter,
    experiment_id: str,
    options: ReproduceOptions,
    *,
    on_progress: Progress | None = None,
    on_run_progress: Progress | None = None,
) -> Reproduction:
    """Materialise ``experiment_id`` as ``options`` say, report its drift and, with
    ``options.run``, re-run it and judge its final metrics.

    ``on_progress`` hears of the checkout's steps, ``on_run_progress`` of the re-run's cells.

    Raises:
        ExperimentNotFoundError: no such experiment.
        MlvcError: the target or the checkpoint is refused (see
            :func:`~mlvc_jupyter.core.reproduction.worktree.materialise`).
    """
    repo = writer.repo
    commit = checkpoint_commit(repo, experiment_id, options.checkpoint)
    record = show_at(repo, experiment_id, commit)
    worktree = materialise(
        repo, experiment_id, path=options.dir, checkpoint=options.checkpoint,
        on_progress=on_progress,
    )  # fmt: skip
    writer.large_files.wait()  # files this process just left out may still be on their way
    restored = restore_large_files(repo, record, worktree)
    drift = drift_report(repo, record, worktree, data_checks(repo, record, worktree, restored))
    verdict = None
    if options.run:
        verdict = _rerun(writer, record, worktree, options.tolerance, on_run_progress)
    return Reproduction(
        experiment_id=experiment_id, commit=commit, worktree=str(worktree), drift=drift,
        configs=record.configs, entry=entry_point(record.summary), verdict=verdict,
    )  # fmt: skip


def _rerun(
    writer: ExperimentWriter,
    record: ExperimentRecord,
    worktree: Path,
    tolerance: Tolerance,
    on_progress: Progress | None,
) -> Verdict:
    """Run the entry point as the linked run ``<id>-repro<N>``; judge its final metrics."""
    original = record.summary
    if reproducing() is not None:  # an entry point that reproduces would recurse forever
        return could_not_run(f"this process is itself a re-run of {reproducing()}", tolerance)
    run_id = free_run_id(writer.existing_ids(), original.id)
    seed = original.extra.get("seed")
    env = child_environment(original.id, run_id, seed if isinstance(seed, int) else None)
    outputs = clear_outputs(original, worktree)  # a command's metrics files, written anew
    error = run_entry(original, worktree, env, on_progress=on_progress)
    run = _summary(writer, run_id)
    if error is None and run is None and outputs:  # the command did not call mlvc itself
        found = record_from_outputs(record, worktree, run_id, outputs)
        if isinstance(found, str):
            return could_not_run(found, tolerance)
        run = found
    recorded = run_id if run is not None else None
    if error is not None:
        return could_not_run(error, tolerance, run_id=recorded)
    if run is None:
        return could_not_run(
            f"the re-run recorded no experiment: its code never started '{original.id}'",
            tolerance,
        )
    if run.status != "success":
        what = "never ended (no %vc_end)" if run.status == "running" else f"ended {run.status}"
        return could_not_run(f"the re-run {run_id} {what}", tolerance, run_id=run_id)
    return judge(original.metrics, run.metrics, tolerance, run_id=run_id)


def _summary(writer: ExperimentWriter, experiment_id: str) -> ExperimentSummary | None:
    try:
        return get(writer.repo, experiment_id)
    except ExperimentNotFoundError:
        return None
