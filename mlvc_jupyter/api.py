"""The Python API of the original specification, as a thin facade over :mod:`mlvc_jupyter.core`.

Class and method names, argument order and return values follow the spec's usage examples::

    vc = ExperimentVersionControl("./my_project")
    commit_hash = vc.start_experiment("exp_001", "BERT Classification", configs)
    vc.commit_experiment_changes("exp_001", "BERT Classification", configs, "Step 100")
    vc.end_experiment("exp_001", "BERT Classification", configs, final_metrics, "v1.0")
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.records import (
    Checkpoint,
    CommitInfo,
    ConfigChange,
    ExperimentDiff,
    ExperimentRecord,
    ExperimentSummary,
    FileVersionInfo,
    GitStatus,
    RepoStatus,
)
from mlvc_jupyter.core.tracking import Tracker

__all__ = [
    "ExperimentVersionControl",
    "IntegratedVersionControl",
    "VersionControlManager",
    "integrated_experiment_context",
]


class VersionControlManager:
    """Git integration for an ML project: status, config snapshots, history, branches.

    ``project_root`` may be a subfolder of a repository; a folder that is not in a repository
    yet gets ``git init`` and an ML ``.gitignore``.
    """

    def __init__(self, project_root: str | os.PathLike[str] = ".") -> None:
        self.manager = ExperimentManager(project_root, init=True)
        self.project_root = self.manager.root

    def get_git_status(self) -> GitStatus:
        """Return the working tree's state: clean, modified, untracked, conflicted or empty."""
        return self.manager.status().state

    def get_status(self) -> RepoStatus:
        """Return the full status: branch, HEAD and the dirty files by kind."""
        return self.manager.status()

    def get_current_commit(self) -> CommitInfo | None:
        """Return HEAD's commit (hash, message, author, date), or None before the first."""
        return self.manager.current_commit()

    def get_file_version_info(self, file_path: str | os.PathLike[str]) -> FileVersionInfo:
        """Return a file's blob hash at HEAD, its last commit and whether it is modified."""
        return self.manager.file_info(file_path)

    def create_config_snapshot(self, configs: Any) -> str:
        """Save configs and the tracked config files to a JSON snapshot; return its path."""
        return str(self.manager.snapshot_configs(configs))

    def load_config_snapshot(self, snapshot_file: str | os.PathLike[str]) -> Any:
        """Return the configs saved in a config snapshot."""
        return self.manager.load_configs(snapshot_file)

    def restore_config_snapshot(self, snapshot_file: str | os.PathLike[str]) -> bool:
        """Write a snapshot's config files back (after a safety snapshot); return True."""
        self.manager.restore(snapshot_file)
        return True

    def get_config_changes(self, config_file: str | os.PathLike[str]) -> list[ConfigChange]:
        """Return a config file's changes across HEAD's history and the experiments."""
        return self.manager.config_changes(config_file)

    def get_experiment_history(self, experiment_id: str) -> list[Checkpoint]:
        """Return the experiment's checkpoints, oldest first."""
        return self.manager.history(experiment_id)

    def get_experiment(self, experiment_id: str) -> ExperimentRecord:
        """Return the full record of the experiment's last checkpoint."""
        return self.manager.show(experiment_id)

    def list_experiments(self) -> list[ExperimentSummary]:
        """Return a summary of every experiment, newest first."""
        return self.manager.log()

    def diff_experiments(self, experiment_a: str, experiment_b: str) -> ExperimentDiff:
        """Return the params, metrics and files that differ between two experiments."""
        return self.manager.diff(experiment_a, experiment_b)

    def reproduce_experiment(
        self, experiment_id: str, path: str | os.PathLike[str] | None = None
    ) -> bool:
        """Materialise the experiment's last checkpoint in a git worktree; return True.

        The worktree is ``<git-dir>/mlvc/worktrees/<id>`` unless ``path`` says otherwise;
        ``get_experiment(id).worktree`` tells where it went. Your files are untouched.
        """
        self.manager.reproduce(experiment_id, path=path)
        return True

    def create_experiment_branch(self, experiment_id: str) -> str:
        """Create branch ``mlvc/<id>`` at the experiment's last checkpoint; return its name."""
        return self.manager.branch(experiment_id)

    def switch_to_branch(self, branch_name: str) -> bool:
        """Check out a local branch (refusing to overwrite uncommitted work); return True."""
        self.manager.switch(branch_name)
        return True

    def tag_experiment(self, experiment_id: str, tag: str, force: bool = False) -> str:
        """Tag the experiment's last checkpoint (annotated, with its metrics); return the tag."""
        return self.manager.tag(experiment_id, tag, force=force)


class ExperimentVersionControl(VersionControlManager):
    """Record experiments as checkpoint commits on hidden refs, never touching your branch."""

    def start_experiment(
        self,
        experiment_id: str,
        experiment_name: str,
        configs: Any,
        create_branch: bool = False,
        resume: bool = False,
    ) -> str:
        """Record the experiment's first checkpoint; return its commit hash."""
        return self.manager.start(
            experiment_id,
            name=experiment_name,
            configs=configs,
            create_branch=create_branch,
            resume=resume,
        ).commit

    def commit_experiment_changes(
        self,
        experiment_id: str,
        experiment_name: str,
        configs: Any,
        message: str = "checkpoint",
    ) -> str:
        """Record a checkpoint of the running experiment; return its commit hash."""
        return self.manager.commit(
            experiment_id, message=message, configs=configs, name=experiment_name
        ).commit

    def end_experiment(
        self,
        experiment_id: str,
        experiment_name: str,
        configs: Any,
        final_metrics: Mapping[str, Any] | None = None,
        tag: str | None = None,
        status: str = "success",
    ) -> str:
        """Record the final checkpoint with its metrics (and tag it); return its commit hash."""
        return self.manager.end(
            experiment_id,
            metrics=final_metrics,
            status=status,
            tag=tag,
            configs=configs,
            name=experiment_name,
        ).commit


class IntegratedVersionControl:
    """Experiments with version control and metric tracking together.

    ``vc_manager`` is the :class:`ExperimentVersionControl` this class delegates to.
    """

    def __init__(self, project_root: str | os.PathLike[str] = ".") -> None:
        self.vc_manager = ExperimentVersionControl(project_root)
        self.trackers: dict[str, Tracker] = {}
        self._run_managers: dict[str, ExperimentManager] = {}

    def start_integrated_experiment(
        self,
        experiment_id: str,
        experiment_name: str,
        configs: Any,
        create_branch: bool = False,
        tracking_backend: str = "local",
    ) -> tuple[str, Tracker]:
        """Start an experiment with a metric tracker; return (commit hash, tracker)."""
        manager = self.vc_manager.manager
        tracker = manager.tracker(experiment_id, backend=tracking_backend)
        commit = self.vc_manager.start_experiment(
            experiment_id, experiment_name, configs, create_branch=create_branch
        )
        self.trackers[experiment_id] = tracker
        return commit, tracker

    def commit_experiment_changes(
        self,
        experiment_id: str,
        experiment_name: str,
        configs: Any,
        message: str = "checkpoint",
    ) -> str:
        """Flush the metrics logged so far and record a checkpoint; return its commit hash."""
        self._flush(experiment_id)
        return (
            self._manager(experiment_id)
            .commit(experiment_id, message=message, configs=configs, name=experiment_name)
            .commit
        )

    def end_integrated_experiment(
        self,
        experiment_id: str,
        experiment_name: str,
        configs: Any,
        final_metrics: Mapping[str, Any] | None = None,
        tag: str | None = None,
        status: str = "success",
    ) -> str:
        """End the experiment; final metrics default to the last value of each logged metric."""
        return self._finish(
            experiment_id, name=experiment_name, configs=configs, metrics=final_metrics,
            tag=tag, status=status,
        )  # fmt: skip

    def _finish(
        self,
        experiment_id: str,
        *,
        name: str,
        configs: Any = None,
        metrics: Mapping[str, Any] | None = None,
        tag: str | None = None,
        status: str = "success",
        message: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> str:
        tracker = self.trackers.get(experiment_id)
        if tracker is not None:
            tracker.flush()
            if metrics is None:
                metrics = tracker.final_metrics()
        checkpoint = self._manager(experiment_id).end(
            experiment_id, metrics=metrics, status=status, tag=tag, configs=configs,
            name=name, message=message, details=details,
        )  # fmt: skip
        if tracker is not None:
            tracker.close()
            del self.trackers[experiment_id]
        self._run_managers.pop(experiment_id, None)
        return checkpoint.commit

    def create_experiment_snapshot(self, experiment_id: str) -> str:
        """Write a zip with configs, git info, final metrics, metric history and a reproduce
        script; return its path."""
        self._flush(experiment_id)
        return str(self.vc_manager.manager.export(experiment_id))

    def reproduce_integrated_experiment(
        self, experiment_id: str, tracking_backend: str = "local"
    ) -> Tracker:
        """Materialise an experiment and start a linked run of it; return the run's tracker.

        The run is a new experiment, ``<id>-repro<N>``, recorded from the materialised
        worktree (its checkpoints hold the reproduced files, not your working tree) with
        ``reproduces: <id>`` in its record; end it with
        ``end_integrated_experiment(tracker.experiment_id, ...)``.
        """
        manager = self.vc_manager.manager
        original = manager.show(experiment_id)
        worktree = manager.reproduce(experiment_id)
        run_manager = ExperimentManager(worktree, init=False)
        run_id = _next_run_id(manager, experiment_id)
        tracker = manager.tracker(run_id, backend=tracking_backend)
        run_manager.start(
            run_id,
            name=f"reproduction of {original.summary.name}",
            configs=original.configs,
            details={"reproduces": experiment_id},
        )
        self.trackers[run_id] = tracker
        self._run_managers[run_id] = run_manager
        return tracker

    def _manager(self, experiment_id: str) -> ExperimentManager:
        """Return the manager recording ``experiment_id``: a reproduction's worktree, or ours."""
        return self._run_managers.get(experiment_id) or self.vc_manager.manager

    def _flush(self, experiment_id: str) -> None:
        tracker = self.trackers.get(experiment_id)
        if tracker is not None:
            tracker.flush()


def _next_run_id(manager: ExperimentManager, experiment_id: str) -> str:
    existing = set(manager.writer.existing_ids())
    stem = experiment_id[:90]
    n = 1
    while f"{stem}-repro{n}" in existing:
        n += 1
    return f"{stem}-repro{n}"


@contextmanager
def integrated_experiment_context(
    experiment_id: str,
    experiment_name: str,
    configs: Any,
    project_root: str | os.PathLike[str] = ".",
    create_branch: bool = False,
    tracking_backend: str = "local",
) -> Iterator[tuple[IntegratedVersionControl, Tracker, str]]:
    """Run a block as an experiment; yield (integrated vc, tracker, start commit hash).

    The experiment ends as ``success`` when the block finishes, and as ``failed`` (with the
    error recorded) when it raises; the error is re-raised.
    """
    vc = IntegratedVersionControl(project_root)
    commit, tracker = vc.start_integrated_experiment(
        experiment_id, experiment_name, configs, create_branch, tracking_backend
    )
    try:
        yield vc, tracker, commit
    except BaseException as exc:
        vc._finish(
            experiment_id,
            name=experiment_name,
            status="failed",
            message=f"failed: {type(exc).__name__}: {exc}"[:500],
            details={"error": "".join(traceback.format_exception(exc))[-4000:]},
        )
        raise
    vc.end_integrated_experiment(experiment_id, experiment_name, configs)
