"""Linked runs: re-run an experiment from its materialised checkpoint as a new experiment.

A run of experiment ``<id>`` is the experiment ``<id>-repro<N>``, recorded from the worktree the
checkpoint was materialised in (so its checkpoints hold the reproduced files, not the user's
working tree), with ``reproduces: <id>`` in its summary.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the manager imports this package: imported where used
    from mlvc_jupyter.core.manager import ExperimentManager
    from mlvc_jupyter.core.session import ExperimentSession

__all__ = ["free_run_id", "next_run_id", "start_run"]

_STEM_CHARS = 90  # leaves room for "-repro<N>" within the 100-character id limit


def start_run(
    manager: ExperimentManager, experiment_id: str, *, backend: str | None = "local"
) -> ExperimentSession:
    """Materialise ``experiment_id`` and start a linked run of it; return the run's session.

    Raises:
        ExperimentNotFoundError: no such experiment.
    """
    from mlvc_jupyter.core.manager import ExperimentManager
    from mlvc_jupyter.core.session import ExperimentSession

    original = manager.show(experiment_id)
    run_manager = ExperimentManager(manager.reproduce(experiment_id), init=False)
    session, _ = ExperimentSession.start(
        run_manager, next_run_id(manager, experiment_id), backend=backend,
        name=f"reproduction of {original.summary.name}", configs=original.configs,
        details={"reproduces": experiment_id},
    )  # fmt: skip
    return session


def next_run_id(manager: ExperimentManager, experiment_id: str) -> str:
    """Return the first free ``<id>-repro<N>``."""
    return free_run_id(manager.writer.existing_ids(), experiment_id)


def free_run_id(ids: Iterable[str], experiment_id: str) -> str:
    """Return the first ``<id>-repro<N>`` not among ``ids``."""
    existing = set(ids)
    stem = experiment_id[:_STEM_CHARS]
    n = 1
    while f"{stem}-repro{n}" in existing:
        n += 1
    return f"{stem}-repro{n}"
