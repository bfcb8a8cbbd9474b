"""Record experiments: checkpoint commits on ``refs/mlvc/experiments/<id>``.

A checkpoint is a tree of the working tree (see :mod:`tree`) plus the full record under ``.mlvc/``,
committed with ``commit-tree`` on top of the previous checkpoint (or the user's HEAD for the
first one) and published with ``update-ref <ref> <new> <old>``, a compare-and-swap. A writer that
loses a race re-parents its commit onto the winner's and tries again, so concurrent writers to
one experiment all land and nothing a caller was told was recorded is ever lost.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import random
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlvc_jupyter.core.configs import values as configs_mod
from mlvc_jupyter.core.environment.capture import capture_environment
from mlvc_jupyter.core.recording import timings
from mlvc_jupyter.core.recording.summary import (
    SCHEMA_VERSION,
    format_message,
    jsonable_number,
    parse_summary,
    summary_to_checkpoint,
)
from mlvc_jupyter.core.recording.tree import TreeBuilder
from mlvc_jupyter.core.records import Checkpoint, CheckpointTree
from mlvc_jupyter.core.repo.refs import EXPERIMENTS, SAFETY, experiment_ref, validate_experiment_id
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.errors import (
    ExperimentExistsError,
    ExperimentNotFoundError,
    GitOperationError,
    MlvcError,
)

__all__ = ["RECORD_PATH", "METRICS_PATH", "ExperimentWriter", "metrics_file", "now"]

log = logging.getLogger(__name__)

RECORD_PATH = ".mlvc/experiment.json"
METRICS_PATH = ".mlvc/metrics.jsonl"
ZERO = "0" * 40
_MAX_ATTEMPTS = 200
_MAX_WAIT = 30.0
_STALE_LOCK_SECONDS = 60.0


def now() -> str:
    """Return the current UTC time as ISO 8601 with milliseconds."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def metrics_file(repo: Repository, experiment_id: str) -> Path:
    """Return the local metric store of an experiment (under the runtime folder)."""
    return repo.runtime_dir / "metrics" / f"{experiment_id}.jsonl"


class ExperimentWriter:
    """Write checkpoints of experiments in one repository (start, commit, end)."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self.tree_builder = TreeBuilder(repo)
        self._tips: dict[str, tuple[str, dict[str, Any]]] = {}
        # The configs this writer last recorded, by experiment: (commit, configs). A checkpoint
        # without new configs reuses them instead of reading the previous record back.
        self._configs: dict[str, tuple[str, Any]] = {}
        self.max_wait = _MAX_WAIT  # seconds a checkpoint may wait for other writers

    # -- reading tips ---------------------------------------------------------------------------

    def tip(self, experiment_id: str) -> tuple[str, dict[str, Any]] | None:
        """Return (commit, summary) of an experiment's last checkpoint, or None."""
        ref = experiment_ref(experiment_id)
        out = self.repo.git.run("for-each-ref", "--format=%(objectname)%00%(contents)", ref)
        if not out.strip():
            self._tips.pop(experiment_id, None)
            return None
        oid, contents = out.decode("utf-8", "replace").split("\0", 1)
        summary = parse_summary(contents)
        if summary is None:
            raise MlvcError(
                f"The ref {ref} exists but its commit carries no mlvc summary.",
                hint=f"It was not written by mlvc; move it away with `git update-ref -d {ref}`.",
            )
        self._tips[experiment_id] = (oid, summary)
        return oid, summary

    def _cached_tip(self, experiment_id: str) -> tuple[str, dict[str, Any]] | None:
        return self._tips.get(experiment_id) or self.tip(experiment_id)

    def existing_ids(self) -> list[str]:
        """Return the ids of every experiment (names only: no commit is read)."""
        out = self.repo.git.run("for-each-ref", "--format=%(refname:lstrip=3)", EXPERIMENTS + "/")
        return out.decode("utf-8", "replace").split()

    def read_record(self, commit: str) -> dict[str, Any]:
        """Return the full record stored in a checkpoint's tree (empty if it has none)."""
        (blob,) = self.repo.read_blobs([f"{commit}:{RECORD_PATH}"])
        return json.loads(blob) if blob else {}

    # -- writing --------------------------------------------------------------------------------

    def start(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        configs: Any = None,
        message: str | None = None,
        resume: bool = False,
        mlvc_branch: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> Checkpoint:
        """Record the first checkpoint of an experiment (or continue one with ``resume``).

        Raises:
            InvalidNameError: the id breaks the naming rules.
            ExperimentExistsError: the id (or one differing only by case) exists and
                ``resume`` is False.
        """
        validate_experiment_id(experiment_id)
        tip = self.tip(experiment_id)
        if tip is not None and not resume:
            raise ExperimentExistsError(
                f"Experiment '{experiment_id}' already exists.",
                experiment_id=experiment_id,
                hint=f"Continue it with `%vc_start {experiment_id} --resume` (CLI: `mlvc start "
                f"{experiment_id} --resume`, Python: resume=True), or choose another id.",
            )
        if tip is None:
            self._refuse_case_collision(experiment_id)
        return self.checkpoint(
            experiment_id,
            status="running",
            message=message or ("resumed" if tip else "started"),
            name=name,
            configs=configs,
            creating=tip is None,
            mlvc_branch=mlvc_branch,
            details=details,
        )

    def _refuse_case_collision(self, experiment_id: str) -> None:
        folded = experiment_id.casefold()
        for other in self.existing_ids():
            if other.casefold() == folded:
                raise ExperimentExistsError(
                    f"Experiment '{experiment_id}' differs only by case from the existing "
                    f"'{other}'.",
                    experiment_id=experiment_id,
                    hint="Ids that differ only by case collide on macOS and Windows; "
                    f"use '{other}' or a different id.",
                )

    def checkpoint(
        self,
        experiment_id: str,
        *,
        status: str,
        message: str,
        name: str | None = None,
        configs: Any = None,
        metrics: Mapping[str, Any] | None = None,
        creating: bool = False,
        mlvc_branch: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> Checkpoint:
        """Snapshot the working tree and commit it as the experiment's next checkpoint.

        Raises:
            ExperimentNotFoundError: the experiment does not exist (and ``creating`` is False).
            GitOperationError: git failed (disk full, a broken repository, ...).
        """
        tip = None if creating else self._require_tip(experiment_id)
        previous = tip[1] if tip else {}
        if configs is not None:
            record_configs = configs_mod.serialise(configs)
        else:
            record_configs = self._previous_configs(experiment_id, tip[0]) if tip else {}
        with self.tree_builder.stage() as staged:
            files = self._record_files(experiment_id, record_configs, details, staged.preview)
            snap = staged.write_tree(files)
        summary = {
            "v": SCHEMA_VERSION,
            "id": experiment_id,
            "name": name or previous.get("name") or experiment_id,
            "status": status,
            "created": previous.get("created") or now(),
            "time": now(),
            "message": message,
            "metrics": _metrics(metrics if metrics is not None else previous.get("metrics")),
            "head": snap.head,
            "branch": snap.branch,
            "extra": _summary_extra(previous, mlvc_branch, details),
        }
        checkpoint = self._publish(experiment_id, snap, summary, creating=creating)
        self._configs[experiment_id] = (checkpoint.commit, record_configs)
        return checkpoint

    def _previous_configs(self, experiment_id: str, commit: str) -> Any:
        cached = self._configs.get(experiment_id)
        if cached is not None and cached[0] == commit:
            return cached[1]
        return self.read_record(commit).get("configs", {})

    def _require_tip(self, experiment_id: str) -> tuple[str, dict[str, Any]]:
        tip = self._cached_tip(experiment_id)
        if tip is None:
            raise ExperimentNotFoundError(
                experiment_id,
                hint=f"Start it first with `%vc_start {experiment_id}` (CLI: `mlvc start "
                f"{experiment_id}`, Python: start_experiment()).",
            )
        return tip

    def _record_files(
        self,
        experiment_id: str,
        record_configs: Any,
        details: Mapping[str, Any] | None,
        preview: CheckpointTree,
    ) -> dict[str, bytes]:
        record = {
            "schema": SCHEMA_VERSION,
            "id": experiment_id,
            "configs": record_configs,
            "environment": capture_environment(),
            "identity": "fallback" if self.repo.uses_fallback_identity else "user",
            "settings": self.repo.settings.to_dict(),
            "dirty_files": preview.dirty_files,
            "large_files": [f.to_dict() for f in preview.large_files],
            "notebooks": preview.notebooks,
            "timings": preview.timings,
            "warnings": preview.warnings,
            "details": configs_mod.serialise(dict(details or {}), _path="details"),
        }
        files = {RECORD_PATH: configs_mod.dumps(record).encode()}
        metrics = metrics_file(self.repo, experiment_id)
        if metrics.exists():
            files[METRICS_PATH] = metrics.read_bytes()
        return files

    def _publish(
        self,
        experiment_id: str,
        snap: CheckpointTree,
        summary: dict[str, Any],
        *,
        creating: bool,
    ) -> Checkpoint:
        ref = experiment_ref(experiment_id)
        tip = None if creating else self._cached_tip(experiment_id)
        deadline = time.monotonic() + self.max_wait
        for attempt in range(_MAX_ATTEMPTS):
            parent = tip[0] if tip else snap.head
            summary["seq"] = (int(tip[1].get("seq", 0)) + 1) if tip else 1
            started = time.perf_counter()
            commit = self._commit_tree(snap.tree, parent, summary)
            committed = time.perf_counter()
            expected = tip[0] if tip else ZERO
            if self._update_ref(ref, commit, expected):
                self._tips[experiment_id] = (commit, dict(summary))
                self._advance_branch(summary, commit, expected)
                phases = {
                    **snap.timings,
                    "commit": committed - started,
                    "ref_update": time.perf_counter() - committed,
                    "attempts": attempt + 1,
                }
                entry = {"id": experiment_id, "seq": summary["seq"], "commit": commit}
                entry.update({k: round(v, 6) for k, v in phases.items()}, time=now())
                timings.append(self.repo.runtime_dir, entry)
                checkpoint = summary_to_checkpoint(commit, summary)
                return dataclasses.replace(checkpoint, warnings=snap.notices())
            if creating:
                raise ExperimentExistsError(
                    f"Experiment '{experiment_id}' was created by another process meanwhile.",
                    experiment_id=experiment_id,
                    hint=f"Continue it with `%vc_start {experiment_id} --resume` (CLI: "
                    f"`mlvc start {experiment_id} --resume`, Python: resume=True).",
                )
            if time.monotonic() > deadline:
                break
            time.sleep(random.uniform(0, min(0.2, 0.005 * (attempt + 1))))
            tip = self._require_tip_fresh(experiment_id)
        lock = self.repo.paths.common_dir / f"{ref}.lock"
        if lock.exists():
            raise MlvcError(
                f"Could not record a checkpoint of '{experiment_id}': {lock} has been held "
                f"for {self.max_wait:g} s.",
                hint="If no mlvc process is running, delete that file (mlvc removes its own "
                f"locks once they are {_STALE_LOCK_SECONDS:.0f} s old) and retry.",
            )
        raise MlvcError(
            f"Could not record a checkpoint of '{experiment_id}': other writers kept "
            f"updating it for {self.max_wait:g} s.",
            hint="Retry; if it persists, check for a runaway process committing in a loop.",
        )

    def safety_snapshot(self, reason: str) -> str:
        """Record the working tree under ``refs/mlvc/safety/<time>`` before an overwrite.

        Returns the ref; restore anything from it with ``git checkout <ref> -- <path>``.
        """
        snap = self.tree_builder.build()
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        ref = f"{SAFETY}/{stamp}"
        summary = {
            "v": SCHEMA_VERSION,
            "id": f"safety-{stamp}",
            "name": "safety snapshot",
            "status": "safety",
            "seq": 1,
            "created": now(),
            "time": now(),
            "message": reason,
            "metrics": {},
            "head": snap.head,
            "branch": snap.branch,
            "extra": {},
        }
        commit = self._commit_tree(snap.tree, snap.head, summary)
        self.repo.git.run("update-ref", "--no-deref", ref, commit, ZERO)
        return ref

    def _require_tip_fresh(self, experiment_id: str) -> tuple[str, dict[str, Any]]:
        self._tips.pop(experiment_id, None)
        return self._require_tip(experiment_id)

    def _commit_tree(self, tree: str, parent: str | None, summary: Mapping[str, Any]) -> str:
        args = ["commit-tree", tree]
        if parent:
            args += ["-p", parent]
        out = self.repo.git.run(
            *args, "-F", "-", stdin=format_message(summary), env=self.repo.identity_env
        )
        return out.decode().strip()

    def _update_ref(self, ref: str, new: str, expected: str) -> bool:
        """Move ``ref`` from ``expected`` to ``new``; return False if another writer won."""
        try:
            self.repo.git.run("update-ref", "--no-deref", ref, new, expected)
        except GitOperationError as exc:
            current = self.repo.ref_exists(ref) or ZERO
            if current != expected:
                return False  # lost the compare-and-swap: the caller re-parents and retries
            if self._clear_stale_lock(ref):
                return False
            if "File exists" in exc.stderr:  # a live writer holds the ref lock for a moment
                return False
            raise
        return True

    def _clear_stale_lock(self, ref: str) -> bool:
        """Remove ``<ref>.lock`` if it is ours (under refs/mlvc/) and older than a minute."""
        lock = self.repo.paths.common_dir / f"{ref}.lock"
        try:
            age = time.time() - lock.stat().st_mtime
        except FileNotFoundError:
            return False
        if not ref.startswith("refs/mlvc/") or age < _STALE_LOCK_SECONDS:
            return False
        log.warning("removing stale lock %s (%.0f s old)", lock, age)
        lock.unlink(missing_ok=True)
        return True

    def _advance_branch(self, summary: Mapping[str, Any], commit: str, previous: str) -> None:
        """Keep ``mlvc/<id>`` at the newest checkpoint when the experiment asked for it."""
        branch = (summary.get("extra") or {}).get("mlvc_branch")
        if not branch:
            return
        ref = f"refs/heads/{branch}"
        if ref in self.repo.checked_out_branches():
            log.warning("not advancing %s: it is checked out", branch)
            return
        current = self.repo.ref_exists(ref)
        if current not in (None, previous):
            log.warning("not advancing %s: it was moved outside mlvc", branch)
            return
        self.repo.git.run("update-ref", "--no-deref", ref, commit, current or ZERO)


def _metrics(values: Mapping[str, Any] | None) -> dict[str, Any]:
    if not values:
        return {}
    serialised = configs_mod.serialise(dict(values), _path="metrics")
    return {str(k): jsonable_number(v) for k, v in serialised.items()}


def _summary_extra(
    previous: Mapping[str, Any], mlvc_branch: str | None, details: Mapping[str, Any] | None
) -> dict[str, Any]:
    extra = dict(previous.get("extra") or {})
    if mlvc_branch:
        extra["mlvc_branch"] = mlvc_branch
    for key in ("notebook", "reproduces", "seed"):
        if details and details.get(key) is not None:
            extra[key] = details[key]
    return extra
