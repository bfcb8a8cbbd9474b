"""Re-runs of commands that do not call mlvc: their metrics come from the files the original read.

``mlvc end e --metrics metrics.json`` records which files held the final metrics
(``metrics_files`` in the summary). A re-run of a command entry point that records nothing itself
(``python train.py``, where the user ran ``mlvc start`` and ``mlvc end`` around it) is then
recorded by mlvc as the linked run, with the metrics those files hold after the command. The
files are removed from the reproduction before it runs (they are the original run's outputs, and
the checkpoint holds them), so a stale copy is never judged as the re-run's result.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from mlvc_jupyter.core.configs.values import load_config_file
from mlvc_jupyter.core.records import ExperimentRecord, ExperimentSummary

__all__ = ["clear_outputs", "metrics_files", "record_from_outputs"]


def metrics_files(summary: ExperimentSummary) -> list[str]:
    """Return the repository-relative files the experiment's final metrics were read from."""
    files = summary.extra.get("metrics_files")
    if not isinstance(summary.extra.get("entry"), str) or not isinstance(files, list):
        return []
    return [name for name in files if isinstance(name, str) and _is_plain(name)]


def clear_outputs(summary: ExperimentSummary, worktree: Path) -> list[str]:
    """Remove the metrics files from a reproduction before its command runs; return their names."""
    names = metrics_files(summary)
    for name in names:
        path = worktree / name
        if path.is_file() and not path.is_symlink():
            path.unlink()
    return names


def record_from_outputs(
    record: ExperimentRecord, worktree: Path, run_id: str, names: list[str]
) -> ExperimentSummary | str:
    """Record the linked run ``run_id`` from the worktree with the metrics the command wrote.

    Returns the run's summary, or why it could not be recorded (a file was not written).
    """
    from mlvc_jupyter.core.manager import ExperimentManager  # the manager composes this package

    metrics: dict[str, Any] = {}
    for name in names:
        path = worktree / name
        if not path.is_file() or path.is_symlink():
            command = record.summary.extra.get("entry")
            return (
                f"`{command}` did not write {name}, which held the original's final metrics "
                f"(`mlvc end {record.summary.id} --metrics {name}`)"
            )
        metrics.update(load_config_file(path, what="metrics"))
    manager = ExperimentManager(worktree)
    manager.start(
        run_id, name=f"reproduction of {record.summary.name}", configs=record.configs,
        details={"reproduces": record.summary.id},
    )  # fmt: skip
    manager.end(run_id, metrics=metrics)
    return manager.summary(run_id)


def _is_plain(name: str) -> bool:
    """Return True for a relative path inside the project (no '..', no absolute path)."""
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts
