"""Find an experiment id that differs from a new one only by case, without listing experiments.

Ids that differ only by case (``Good``, ``good``) collide on macOS and Windows, so a new id is
checked against the existing ones. Listing them costs time in proportion to their number (git
reads every loose ref file), so the check reads an index instead: ``<runtime>/ids/`` holds one
small file per experiment, named by its case-folded id (hex-encoded, so that a case-insensitive
file system keeps them apart), holding the id. Looking an id up opens one file.

The index is built from one listing of the refs when it is missing, and each new experiment adds
its entry before its first checkpoint. An entry whose experiment no longer exists is dropped when
it is met. Ids that arrive by a plain ``git fetch`` are not indexed until the index is rebuilt
(delete the folder); a pull through mlvc should call :meth:`FoldedIds.add` for each.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from mlvc_jupyter.core.files import atomic_write
from mlvc_jupyter.core.repo.refs import EXPERIMENTS
from mlvc_jupyter.core.repo.repository import Repository

__all__ = ["FoldedIds"]


class FoldedIds:
    """The case-folded index of one repository's experiment ids."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo

    @property
    def folder(self) -> Path:
        """Return the index folder (under the runtime folder, shared by linked worktrees)."""
        return self.repo.runtime_dir / "ids"

    def clash(self, experiment_id: str) -> str | None:
        """Return an existing id equal to ``experiment_id`` up to case (not itself), or None."""
        if not self.folder.is_dir():
            self._build()
        entry = self._entry(experiment_id)
        try:
            other = entry.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        if other == experiment_id:
            return None
        if self.repo.ref_exists(f"{EXPERIMENTS}/{other}") is None:  # removed since it was indexed
            entry.unlink(missing_ok=True)
            return None
        return other

    def add(self, experiment_id: str) -> None:
        """Record ``experiment_id`` in the index (once its id is known to be free)."""
        if self.folder.is_dir():
            atomic_write(self._entry(experiment_id), experiment_id, fsync=False)

    def _entry(self, experiment_id: str, folder: Path | None = None) -> Path:
        return (folder or self.folder) / experiment_id.casefold().encode("utf-8").hex()

    def _build(self) -> None:
        """Index every experiment from one listing; a concurrent builder's index is kept."""
        out = self.repo.git.run("for-each-ref", "--format=%(refname:lstrip=3)", EXPERIMENTS + "/")
        # Built aside, in the folder whose leftovers of dead processes are swept, then renamed.
        partial = self.repo.runtime_dir / "tmp" / f"ids.{os.getpid()}.0"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for experiment_id in out.decode("utf-8", "replace").split():
            self._entry(experiment_id, partial).write_text(experiment_id, encoding="utf-8")
        try:
            partial.rename(self.folder)
        except OSError:  # another process built it first: theirs is as good
            shutil.rmtree(partial, ignore_errors=True)
