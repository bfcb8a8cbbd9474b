"""One object per repository that every face (API, magics, CLI, server) calls.

Each method is one verb of the shared vocabulary (init, status, start, commit, end, log, show,
diff, tag, branch, reproduce, restore, ...) and returns a record; none prints.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from mlvc_jupyter.core.boundary import file_errors
from mlvc_jupyter.core.configs import saved as config_snapshots
from mlvc_jupyter.core.configs.values import checked_text
from mlvc_jupyter.core.data.fingerprint import fingerprint_data
from mlvc_jupyter.core.housekeeping.autogc import AutoGc
from mlvc_jupyter.core.reading import compare as compare_mod
from mlvc_jupyter.core.reading import listing
from mlvc_jupyter.core.reading import query as query_mod
from mlvc_jupyter.core.reading.options import DEFAULT_LIMIT, DEFAULT_SORT
from mlvc_jupyter.core.recording import timings
from mlvc_jupyter.core.recording.writer import END_STATUSES, ExperimentWriter, metrics_file
from mlvc_jupyter.core.records import (
    Checkpoint,
    CommitInfo,
    ConfigChange,
    ConfigRestore,
    Curves,
    ExperimentComparison,
    ExperimentDiff,
    ExperimentPage,
    ExperimentRecord,
    ExperimentSummary,
    FileVersionInfo,
    Progress,
    RepoStatus,
)
from mlvc_jupyter.core.repo.gitignore import (
    GitignoreEntries,
    add_missing_entries,
    missing_entries,
)
from mlvc_jupyter.core.repo.refs import (
    ExperimentRef,
    validate_experiment_id,
    validate_experiment_name,
)
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.core.reproduction import linking
from mlvc_jupyter.core.reproduction import worktree as reproduce
from mlvc_jupyter.core.sharing import tags_and_branches as labels
from mlvc_jupyter.core.tracking import Tracker, create_tracker
from mlvc_jupyter.core.verbs.reproduction import ReproductionVerbs
from mlvc_jupyter.core.verbs.sharing import SharingVerbs
from mlvc_jupyter.errors import MlvcError

__all__ = ["END_STATUSES", "ExperimentManager"]


def _check_texts(**texts: str | None) -> None:
    """Refuse a name or message git could not store (a lone surrogate), quoting it."""
    for what, text in texts.items():
        if text is not None:
            checked_text(text, what=f"experiment {what}")


class ExperimentManager(SharingVerbs, ReproductionVerbs):
    """Experiments of one repository: record them, read them back, reproduce them."""

    def __init__(self, path: str | os.PathLike[str] = ".", *, init: bool = False) -> None:
        """Open the repository holding ``path``; ``init`` creates one (named folders only)."""
        with file_errors("opening the repository"):
            self.repo = Repository.open(path, init=init)
            self.writer = ExperimentWriter(self.repo)
            # Checkpoints from several threads of one process (a background worker and the
            # notebook) take turns: the snapshot caches are per process. Other processes are
            # handled by compare-and-swap on the ref.
            self._write_lock = threading.RLock()
            self.auto_gc = AutoGc(self.repo)

    @property
    def created(self) -> bool:
        """Return True when opening this manager ran ``git init`` (faces say so)."""
        return self.repo.created

    @property
    def root(self) -> Path:
        """Return the working tree's top folder."""
        return self.repo.root

    # -- the user's repository ---------------------------------------------------------------

    def status(self) -> RepoStatus:
        """Return branch, HEAD and dirty files (the user's index is never rewritten)."""
        with file_errors("status"):
            return self.repo.status()

    def gitignore(self, *, add: bool = False) -> GitignoreEntries:
        """Return the ML ``.gitignore`` entries the repository lacks; ``add`` appends them."""
        with file_errors("gitignore"):
            return (add_missing_entries if add else missing_entries)(self.repo.root)

    def current_commit(self) -> CommitInfo | None:
        """Return HEAD's commit, or None on an unborn branch."""
        with file_errors("current_commit"):
            return self.repo.current_commit()

    def file_info(self, path: str | os.PathLike[str]) -> FileVersionInfo:
        """Return a file's version at HEAD and whether it changed since."""
        with file_errors("file_info"):
            return self.repo.file_info(path)

    # -- recording -----------------------------------------------------------------------------

    def start(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        configs: Any = None,
        message: str | None = None,
        create_branch: bool = False,
        resume: bool = False,
        details: Mapping[str, Any] | None = None,
        data: Sequence[str | os.PathLike[str]] | None = None,
    ) -> Checkpoint:
        """Start an experiment: its first checkpoint, on ``refs/mlvc/experiments/<id>``.

        With ``create_branch``, branch ``mlvc/<id>`` follows every checkpoint. ``data`` names
        files or folders the experiment reads: their fingerprints go into the record.

        Raises:
            InvalidNameError: the id breaks the naming rules.
            ExperimentExistsError: it exists and ``resume`` is False.
            MlvcError: ``create_branch`` and branch ``mlvc/<id>`` is checked out or elsewhere.
        """
        with file_errors("start"):
            validate_experiment_id(experiment_id)
            experiment_id = linking.redirect(experiment_id)  # a re-run records its linked run
            details = linking.linked_details(experiment_id, details)
            _check_texts(name=name, message=message)
            branch = (
                self._experiment_branch(experiment_id, resume=resume) if create_branch else None
            )
            prints = (
                None if data is None else [f.to_dict() for f in fingerprint_data(self.repo, data)]
            )
            with self._write_lock:
                checkpoint = self.writer.start(
                    experiment_id,
                    name=name,
                    configs=configs,
                    message=message,
                    resume=resume,
                    mlvc_branch=branch,
                    details=details,
                    data=prints,
                )
            self.auto_gc.checkpoint_landed()
            return checkpoint

    def _experiment_branch(self, experiment_id: str, *, resume: bool) -> str:
        refs = ExperimentRef(experiment_id)
        name, ref = refs.branch, refs.branch_ref
        if ref in self.repo.checked_out_branches():
            raise MlvcError(
                f"Branch '{name}' is checked out, so mlvc cannot move it with each checkpoint.",
                hint="Switch to another branch first (`git switch main`), or start without "
                "create_branch.",
            )
        if not resume and self.repo.ref_exists(ref) is not None:
            raise MlvcError(
                f"Branch '{name}' already exists.",
                hint=f"Delete or rename it (`git branch -m {name} {name}-old`), or choose "
                "another experiment id.",
            )
        return name

    def commit(
        self,
        experiment_id: str,
        *,
        message: str | None = None,
        configs: Any = None,
        metrics: Mapping[str, Any] | None = None,
        name: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> Checkpoint:
        """Record a checkpoint of a running experiment (configs default to the last ones).

        Raises:
            ExperimentNotFoundError: the experiment was never started.
        """
        with file_errors("commit"):
            validate_experiment_id(experiment_id)
            experiment_id = linking.redirect(experiment_id)
            _check_texts(name=name, message=message)
            with self._write_lock:
                checkpoint = self.writer.checkpoint(
                    experiment_id,
                    status="running",
                    message=message or "checkpoint",
                    name=name,
                    configs=configs,
                    metrics=metrics,
                    details=details,
                )
            self.auto_gc.checkpoint_landed()
            return checkpoint

    def end(
        self,
        experiment_id: str,
        *,
        metrics: Mapping[str, Any] | None = None,
        status: str = "success",
        tag: str | None = None,
        configs: Any = None,
        name: str | None = None,
        message: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> Checkpoint:
        """Record the final checkpoint with its metrics and status, and tag it if asked.

        Raises:
            ExperimentNotFoundError: the experiment was never started.
            InvalidNameError: git refuses the tag name (checked before anything is recorded).
            MlvcError: ``status`` is not success/failed; ``tag`` exists, or must be signed and
                signing fails (checked before anything is recorded); or the tag could not be
                created after the final checkpoint was recorded (the message says so).
        """
        with file_errors("end"):
            validate_experiment_id(experiment_id)
            experiment_id = linking.redirect(experiment_id)
            _check_texts(name=name, message=message)
            if status not in END_STATUSES:
                raise MlvcError(
                    f"Unknown end status '{status}'.",
                    hint=f"Use one of: {', '.join(END_STATUSES)}.",
                )
            with self._write_lock:
                if tag is not None:
                    labels.prepare_tag(self.repo, tag)
                checkpoint = self.writer.checkpoint(
                    experiment_id,
                    status=status,
                    message=message or f"ended: {status}",
                    name=name,
                    configs=configs,
                    metrics=metrics,
                    details=details,
                )
                if tag is not None:
                    self._tag_ended(checkpoint, tag)
                checkpoint = labels.auto_tag(self.repo, checkpoint)
            self.auto_gc.checkpoint_landed()
            return checkpoint

    def _tag_ended(self, checkpoint: Checkpoint, tag: str) -> None:
        """Tag the final checkpoint; a failure now must not invite recording it again."""
        try:
            labels.tag_checkpoint(self.repo, checkpoint, tag)
        except MlvcError as exc:
            exp = checkpoint.experiment_id
            raise MlvcError(
                f"Experiment '{exp}' ended: its final checkpoint #{checkpoint.seq} "
                f"({checkpoint.commit[:8]}) is recorded, but tag '{tag}' was not created: "
                f"{exc.message}",
                hint=f"Do not end it again. Fix the cause, then tag it with `%vc_tag {exp} {tag}` "
                f"(CLI: `mlvc tag {exp} {tag}`).",
            ) from exc

    def timings(self, limit: int = 20) -> list[dict[str, Any]]:
        """Return how long each phase of the most recent checkpoints took, newest last."""
        with file_errors("timings"):
            return timings.recent(self.repo.runtime_dir, limit)

    # -- reading -------------------------------------------------------------------------------

    def log(self) -> list[ExperimentSummary]:
        """Return every experiment's summary, newest first."""
        with file_errors("log"):
            return listing.list_all(self.repo)

    def summary(self, experiment_id: str) -> ExperimentSummary:
        """Return one experiment's summary (the commit message's part; :meth:`show` reads
        the full record)."""
        with file_errors("summary"):
            validate_experiment_name(experiment_id)
            return listing.get(self.repo, experiment_id)

    def query(
        self,
        search: str | None = None,
        *,
        status: str | None = None,
        tag: str | None = None,
        sort: str = DEFAULT_SORT,
        offset: int = 0,
        limit: int | None = DEFAULT_LIMIT,
        remotes: bool = False,
        on_progress: Progress | None = None,
    ) -> ExperimentPage:
        """Return a page of experiments: filtered, sorted by a field or metric, then sliced.

        Repeated queries over unchanged refs run no git process (see
        :mod:`mlvc_jupyter.core.reading.query`); ``on_progress(done, total)`` hears of the
        experiments read; ``remotes`` adds the remote-tracking ones (``origin/e1``).
        """
        with file_errors("query"):
            return query_mod.query(
                self.repo, search=search, status=status, tag=tag, sort=sort, offset=offset,
                limit=limit, remotes=remotes, on_progress=on_progress,
            )  # fmt: skip

    def show(self, experiment_id: str) -> ExperimentRecord:
        """Return the full record of an experiment's last checkpoint."""
        with file_errors("show"):
            validate_experiment_name(experiment_id)
            record = listing.show(self.repo, experiment_id)
            return replace(record, worktree=reproduce.worktree_of(self.repo, experiment_id))

    def history(self, experiment_id: str) -> list[Checkpoint]:
        """Return an experiment's checkpoints, oldest first."""
        with file_errors("history"):
            validate_experiment_name(experiment_id)
            return listing.history(self.repo, experiment_id)

    def diff(self, a: str, b: str) -> ExperimentDiff:
        """Return params, metrics and files that differ from experiment ``a`` to ``b``."""
        with file_errors("diff"):
            validate_experiment_name(a)
            validate_experiment_name(b)
            return listing.diff(self.repo, a, b)

    def compare(self, ids: Sequence[str]) -> ExperimentComparison:
        """Return two or more experiments side by side: params, metric deltas against the
        first, changed files and notebooks, metric curves."""
        with file_errors("compare"):
            return compare_mod.compare(self.repo, ids)

    def metric_curves(self, experiment_id: str) -> Curves:
        """Return an experiment's metric history (its tracker's) as curves per metric."""
        with file_errors("metric_curves"):
            return compare_mod.metric_curves(self.repo, experiment_id)

    # -- configs -------------------------------------------------------------------------------

    def save_configs(self, configs: Any) -> Path:
        """Save configs plus the tracked config files to a JSON file; return its path."""
        with file_errors("save_configs"):
            return config_snapshots.create(self.repo, configs)

    def load_configs(self, path: str | os.PathLike[str]) -> Any:
        """Return the configs of a config snapshot."""
        with file_errors("load_configs"):
            return config_snapshots.load(path)

    def restore(self, source: str | os.PathLike[str]) -> ConfigRestore:
        """Restore config files from a config snapshot file or an experiment id.

        A safety snapshot of the working tree comes first; the record returned names it and
        the files written.
        """
        with file_errors("restore"), self._write_lock:
            return config_snapshots.restore(self.repo, self.writer, source)

    def config_changes(self, path: str | os.PathLike[str]) -> list[ConfigChange]:
        """Return a config file's changes across HEAD's history and the experiments."""
        with file_errors("config_changes"):
            return config_snapshots.config_changes(self.repo, path)

    # -- tracking ------------------------------------------------------------------------------

    def tracker(
        self, experiment_id: str, *, backend: str | None = None, run_id: str | None = None
    ) -> Tracker:
        """Return a metric tracker whose history travels with the experiment's checkpoints
        (``backend`` may list several: ``"local,mlflow"``; remote stores go under the runtime
        folder)."""
        with file_errors("tracker"):
            validate_experiment_id(experiment_id)
            experiment_id = linking.redirect(experiment_id)
            return create_tracker(
                backend or self.repo.settings.tracking_backend,
                path=metrics_file(self.repo, experiment_id),
                experiment_id=experiment_id,
                run_id=run_id,
                runtime=self.repo.runtime_dir,
                project=self.repo.root.name,
            )
