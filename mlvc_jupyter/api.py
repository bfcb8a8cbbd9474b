"""The Python API of the original specification, as a thin facade over :mod:`mlvc_jupyter.core`.

Class and method names, argument order and return values follow the spec's usage examples::

    vc = ExperimentVersionControl("./my_project")
    commit_hash = vc.start_experiment("exp_001", "BERT Classification", configs)
    vc.commit_experiment_changes("exp_001", "BERT Classification", configs, "Step 100")
    vc.end_experiment("exp_001", "BERT Classification", configs, final_metrics, "v1.0")
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal, overload

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
from mlvc_jupyter.core.reproduction import runs
from mlvc_jupyter.core.reproduction.options import ReproduceOptions
from mlvc_jupyter.core.reproduction.pipeline import Reproduction
from mlvc_jupyter.core.reproduction.verdict import DEFAULT_ATOL, DEFAULT_RTOL, Tolerance
from mlvc_jupyter.core.session import ExperimentSession
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
        return str(self.manager.save_configs(configs))

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

    @overload
    def reproduce_experiment(
        self,
        experiment_id: str,
        path: str | os.PathLike[str] | None = None,
        *,
        run: Literal[False] = False,
        checkpoint: int | None = None,
    ) -> bool: ...

    @overload
    def reproduce_experiment(
        self,
        experiment_id: str,
        path: str | os.PathLike[str] | None = None,
        *,
        run: Literal[True],
        checkpoint: int | None = None,
        rtol: float = ...,
        atol: float = ...,
        tolerances: Mapping[str, float] | None = None,
    ) -> Reproduction: ...

    def reproduce_experiment(
        self,
        experiment_id: str,
        path: str | os.PathLike[str] | None = None,
        *,
        run: bool = False,
        checkpoint: int | None = None,
        rtol: float = DEFAULT_RTOL,
        atol: float = DEFAULT_ATOL,
        tolerances: Mapping[str, float] | None = None,
    ) -> bool | Reproduction:
        """Materialise the experiment's checkpoint (the last by default) in a git worktree.

        Returns True (the specification's contract): the worktree is
        ``reproductions/<id>`` at the project root unless ``path`` says otherwise, and
        ``get_experiment(id).worktree`` tells where it went. Your files are untouched.
        With ``run=True`` it also re-runs the experiment there and returns the
        :class:`~mlvc_jupyter.core.reproduction.pipeline.Reproduction` (drift report and
        verdict; true only when reproduced within ``rtol``/``atol``/``tolerances``).
        """
        tolerance = Tolerance(rtol=rtol, atol=atol, per_metric=dict(tolerances or {}))
        options = ReproduceOptions(
            run=run, dir=None if path is None else str(path), checkpoint=checkpoint,
            tolerance=tolerance,
        )  # fmt: skip
        result = self.manager.reproduction(experiment_id, options)
        return result if run else True

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
        data: Sequence[str | os.PathLike[str]] | None = None,
    ) -> str:
        """Record the experiment's first checkpoint; return its commit hash.

        ``data`` names files or folders the experiment reads; their fingerprints (size, mtime,
        SHA-256) go into the record.
        """
        return self.manager.start(
            experiment_id,
            name=experiment_name,
            configs=configs,
            create_branch=create_branch,
            resume=resume,
            data=data,
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

    ``vc_manager`` is the :class:`ExperimentVersionControl` this class delegates to; each
    running experiment is a core :class:`~mlvc_jupyter.core.session.ExperimentSession`.
    """

    def __init__(self, project_root: str | os.PathLike[str] = ".") -> None:
        self.vc_manager = ExperimentVersionControl(project_root)
        self.sessions: dict[str, ExperimentSession] = {}

    @property
    def trackers(self) -> dict[str, Tracker]:
        """Return the tracker of each running experiment that has one, by id."""
        return {k: s.tracker for k, s in self.sessions.items() if s.tracker is not None}

    def start_integrated_experiment(
        self,
        experiment_id: str,
        experiment_name: str,
        configs: Any,
        create_branch: bool = False,
        tracking_backend: str = "local",
        data: Sequence[str | os.PathLike[str]] | None = None,
    ) -> tuple[str, Tracker]:
        """Start an experiment with a metric tracker; return (commit hash, tracker).

        ``data`` names files or folders the experiment reads (fingerprinted into the record).
        """
        session, checkpoint = ExperimentSession.start(
            self.vc_manager.manager, experiment_id, backend=tracking_backend,
            name=experiment_name, configs=configs, create_branch=create_branch, data=data,
        )  # fmt: skip
        self.sessions[experiment_id] = session
        assert session.tracker is not None  # a backend was named
        return checkpoint.commit, session.tracker

    def commit_experiment_changes(
        self,
        experiment_id: str,
        experiment_name: str,
        configs: Any,
        message: str = "checkpoint",
    ) -> str:
        """Flush the metrics logged so far and record a checkpoint; return its commit hash."""
        checkpoint = self._session(experiment_id).commit(
            message=message, configs=configs, name=experiment_name
        )
        assert checkpoint is not None  # recorded now, not queued
        return checkpoint.commit

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
        checkpoint = self._session(experiment_id).end(
            metrics=final_metrics, status=status, tag=tag, configs=configs, name=experiment_name
        )
        del self.sessions[experiment_id]
        return checkpoint.commit

    def create_experiment_snapshot(self, experiment_id: str) -> str:
        """Write a portable zip and return its path: a git bundle of the experiment's commits,
        its record (configs, git info, environment, final metrics), metric history, pinned
        requirements and ``reproduce.py``, which reproduces it on a machine without this
        repository (see ``mlvc export``)."""
        session = self.sessions.get(experiment_id)
        if session is not None:
            session.flush()
        return str(self.vc_manager.manager.export(experiment_id))

    @overload
    def reproduce_integrated_experiment(
        self, experiment_id: str, tracking_backend: str = "local", *, run: Literal[False] = False
    ) -> Tracker: ...

    @overload
    def reproduce_integrated_experiment(
        self,
        experiment_id: str,
        tracking_backend: str = "local",
        *,
        run: Literal[True],
        rtol: float = ...,
        atol: float = ...,
        tolerances: Mapping[str, float] | None = None,
    ) -> Reproduction: ...

    def reproduce_integrated_experiment(
        self,
        experiment_id: str,
        tracking_backend: str = "local",
        *,
        run: bool = False,
        rtol: float = DEFAULT_RTOL,
        atol: float = DEFAULT_ATOL,
        tolerances: Mapping[str, float] | None = None,
    ) -> Tracker | Reproduction:
        """Materialise an experiment and start a linked run of it; return the run's tracker.

        The run is a new experiment, ``<id>-repro<N>``, recorded from the materialised
        worktree (its checkpoints hold the reproduced files, not your working tree) with
        ``reproduces: <id>`` in its record; end it with
        ``end_integrated_experiment(tracker.experiment_id, ...)``. With ``run=True`` the
        experiment's own entry point (its notebook or ``--entry`` command) runs instead and
        records the linked run itself; the result (drift report and verdict) is returned.
        """
        if run:
            return self.vc_manager.reproduce_experiment(
                experiment_id, run=True, rtol=rtol, atol=atol, tolerances=tolerances
            )
        session = runs.start_run(self.vc_manager.manager, experiment_id, backend=tracking_backend)
        self.sessions[session.experiment_id] = session
        assert session.tracker is not None  # a backend was named
        return session.tracker

    def _session(self, experiment_id: str) -> ExperimentSession:
        """Return the running experiment's session, attaching to one this object did not start.

        Raises:
            ExperimentNotFoundError: no such experiment.
        """
        session = self.sessions.get(experiment_id)
        if session is None:
            session = ExperimentSession.attach(self.vc_manager.manager, experiment_id)
            self.sessions[experiment_id] = session
        return session


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
        vc.sessions.pop(experiment_id).end(name=experiment_name, error=exc)
        raise
    vc.end_integrated_experiment(experiment_id, experiment_name, configs)
