"""Reproduction: materialise, re-run and judge, restore in place, undo, export."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from mlvc_jupyter.core.boundary import file_errors
from mlvc_jupyter.core.recording.writer import ExperimentWriter
from mlvc_jupyter.core.records import Progress
from mlvc_jupyter.core.repo.refs import validate_experiment_id, validate_experiment_name
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.core.reproduction import bundle, inplace, pipeline
from mlvc_jupyter.core.reproduction import worktree as reproduce
from mlvc_jupyter.core.reproduction.options import ReproduceOptions
from mlvc_jupyter.core.reproduction.pipeline import Reproduction

__all__ = ["ReproductionVerbs"]


class ReproductionVerbs:
    """``reproduce``, ``reproduction``, ``reproduce_inplace``, ``undo``, ``export`` (mixed into
    ``ExperimentManager``)."""

    repo: Repository
    writer: ExperimentWriter
    _write_lock: threading.RLock

    # -- reproduction and export ---------------------------------------------------------------

    def reproduce(
        self,
        experiment_id: str,
        *,
        path: str | os.PathLike[str] | None = None,
        checkpoint: int | None = None,
        on_progress: Progress | None = None,
    ) -> Path:
        """Materialise the experiment's checkpoint (the last by default) in a worktree; return
        its path (``on_progress(done, total)`` hears of its steps)."""
        with file_errors("reproduce"):
            validate_experiment_name(experiment_id)
            return reproduce.materialise(
                self.repo, experiment_id, path=path, checkpoint=checkpoint,
                on_progress=on_progress,
            )  # fmt: skip

    def reproduction(
        self,
        experiment_id: str,
        options: ReproduceOptions | None = None,
        *,
        on_progress: Progress | None = None,
        on_run_progress: Progress | None = None,
    ) -> Reproduction:
        """Materialise, report drift and (``options.run``) re-run and judge an experiment
        (see :mod:`mlvc_jupyter.core.reproduction.pipeline`)."""
        with file_errors("reproduce"):
            validate_experiment_id(experiment_id)
            return pipeline.reproduce(
                self.writer, experiment_id, options or ReproduceOptions(),
                on_progress=on_progress, on_run_progress=on_run_progress,
            )  # fmt: skip

    def reproduce_inplace(
        self, experiment_id: str, *, checkpoint: int | None = None
    ) -> inplace.InplaceRestore:
        """Restore the experiment's checkpoint (default: the last) into the working tree, after
        a safety ref (``undo()`` puts every touched file back)."""
        with file_errors("reproduce --inplace"), self._write_lock:
            validate_experiment_id(experiment_id)
            return inplace.restore_inplace(
                self.repo, self.writer, experiment_id, checkpoint=checkpoint
            )

    def undo(self, *, force: bool = False) -> inplace.UndoResult:
        """Undo the last in-place restore, byte for byte, from its safety ref."""
        with file_errors("undo"), self._write_lock:
            return inplace.undo_last(self.repo, self.writer, force=force)

    def export(self, experiment_id: str, *, path: str | os.PathLike[str] | None = None) -> Path:
        """Write a portable zip (git bundle, record, metrics, reproduce.py); return its path."""
        with file_errors("export"):
            validate_experiment_id(experiment_id)
            return bundle.export_archive(self.repo, experiment_id, path=path)
