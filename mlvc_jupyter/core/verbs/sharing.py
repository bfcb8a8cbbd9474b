"""Labels, remotes and retention: what a team does with recorded experiments."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from mlvc_jupyter.core.boundary import file_errors
from mlvc_jupyter.core.housekeeping import gc as gc_mod
from mlvc_jupyter.core.housekeeping import retention
from mlvc_jupyter.core.recording.writer import ExperimentWriter
from mlvc_jupyter.core.records import (
    ExperimentTag,
    GcPlan,
    GcResult,
    Progress,
    Removal,
    ShareConfig,
    TransferReport,
)
from mlvc_jupyter.core.repo.refs import validate_experiment_name
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.core.sharing import refspecs, remotes
from mlvc_jupyter.core.sharing import tags_and_branches as labels

__all__ = ["SharingVerbs"]


class SharingVerbs:
    """Tags, branches, push/pull/share, rm and gc (mixed into ``ExperimentManager``)."""

    repo: Repository
    writer: ExperimentWriter
    _write_lock: threading.RLock

    # -- labels --------------------------------------------------------------------------------

    def tag(self, experiment_id: str, tag: str, *, force: bool = False) -> str:
        """Tag the experiment's last checkpoint (annotated, metrics in the message)."""
        with file_errors("tag"):
            validate_experiment_name(experiment_id)
            return labels.tag(self.repo, experiment_id, tag, force=force)

    def bump_tag(self, experiment_id: str, part: str, *, prefix: str = "") -> str:
        """Tag the experiment with the next ``<prefix>vX.Y.Z`` (``part``: major/minor/patch)."""
        with file_errors("tag"):
            validate_experiment_name(experiment_id)
            return labels.bump_tag(self.repo, experiment_id, part, prefix=prefix)

    def tags(self, experiment_id: str | None = None) -> list[ExperimentTag]:
        """Return the tags mlvc made, all or one experiment's."""
        with file_errors("tags"):
            return labels.experiment_tags(self.repo, experiment_id)

    def delete_tag(self, tag: str) -> str:
        """Delete a tag, keeping it on a trash ref until gc; return that ref."""
        with file_errors("delete_tag"):
            return labels.delete_tag(self.repo, tag)

    def branch(self, experiment_id: str, name: str | None = None, *, clean: bool = False) -> str:
        """Create branch ``name`` (``mlvc/<id>``) at the experiment; ``clean``: without .mlvc/."""
        with file_errors("branch"):
            validate_experiment_name(experiment_id)
            return labels.branch(self.repo, experiment_id, name, clean=clean)

    def switch(self, branch: str) -> str:
        """Check out a local branch, refusing to overwrite uncommitted work."""
        with file_errors("switch"):
            return labels.switch(self.repo, branch)

    # -- remotes (core/sharing/remotes.py) -----------------------------------------------------

    def push(
        self,
        remote: str | None = None,
        ids: Sequence[str] = (),
        *,
        force: bool = False,
        on_progress: Progress | None = None,
    ) -> TransferReport:
        """Push experiments (all, or ``ids``) and their tags; ``force`` only under a lease."""
        with file_errors("push"):
            return remotes.push(self.repo, remote, ids, force=force, on_progress=on_progress)

    def pull(
        self, remote: str | None = None, *, on_progress: Progress | None = None
    ) -> TransferReport:
        """Fetch a remote's experiments and tags; adopt new and fast-forward ones only."""
        with file_errors("pull"):
            return remotes.pull(self.repo, remote, on_progress=on_progress)

    def share(self, remote: str | None = None, *, enable: bool = True) -> ShareConfig:
        """Add (or remove) the refspecs that make plain git fetch/push carry experiments."""
        with file_errors("share"):
            return refspecs.share(self.repo, remote, enable=enable)

    # -- retention -----------------------------------------------------------------------------

    def rm(self, experiment_ids: Sequence[str]) -> list[Removal]:
        """Move experiments to the trash (``undo_rm`` brings them back until gc expires it)."""
        with file_errors("rm"):
            return retention.remove(self.repo, experiment_ids)

    def undo_rm(self, experiment_ids: Sequence[str]) -> list[Removal]:
        """Restore removed experiments from the trash."""
        with file_errors("rm --undo"):
            return retention.restore(self.repo, experiment_ids)

    def gc_plan(self, policy: gc_mod.GcPolicy) -> GcPlan:
        """Return what :meth:`gc` would remove under ``policy`` (nothing changes)."""
        with file_errors("gc"):
            return gc_mod.plan(self.repo, policy)

    def gc(
        self, plan: GcPlan, *, now: bool = False, on_progress: Progress | None = None
    ) -> GcResult:
        """Carry out a gc plan, then expire mlvc's reflogs, run ``git gc``, prune the cache."""
        with file_errors("gc"), self._write_lock:
            return gc_mod.run(self.repo, plan, now=now, on_progress=on_progress)
