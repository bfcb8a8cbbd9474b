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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlvc_jupyter.core.configs import values as configs_mod
from mlvc_jupyter.core.configs.redact import redact_secrets
from mlvc_jupyter.core.data.keeper import LargeFileKeeper
from mlvc_jupyter.core.environment.capture import capture_environment
from mlvc_jupyter.core.recording import timings
from mlvc_jupyter.core.recording.folded_ids import FoldedIds
from mlvc_jupyter.core.recording.ref_update import Outcome, compare_and_swap, gave_up_error
from mlvc_jupyter.core.recording.summary import (
    SCHEMA_VERSION,
    format_message,
    jsonable_number,
    new_summary,
    now,
    parse_summary,
    summary_to_checkpoint,
)
from mlvc_jupyter.core.recording.tree import TreeBuilder
from mlvc_jupyter.core.records import Checkpoint, CheckpointTree
from mlvc_jupyter.core.repo.refs import EXPERIMENTS, ExperimentRef, safety_ref
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.core.secrets.guard import SecretGuard
from mlvc_jupyter.errors import (
    ExperimentExistsError,
    ExperimentNotFoundError,
    GitOperationError,
    MlvcError,
)

__all__ = ["END_STATUSES", "RECORD_PATH", "METRICS_PATH", "ExperimentWriter", "metrics_file"]

log = logging.getLogger(__name__)

END_STATUSES = ("success", "failed")
"""The statuses of an ended experiment: it takes no checkpoint until it is resumed."""
RECORD_PATH = ".mlvc/experiment.json"
METRICS_PATH = ".mlvc/metrics.jsonl"
_MAX_ATTEMPTS = 200
_MAX_WAIT = 30.0


def metrics_file(repo: Repository, experiment_id: str) -> Path:
    """Return the local metric store of an experiment (under the runtime folder)."""
    return repo.runtime_dir / "metrics" / f"{experiment_id}.jsonl"


class ExperimentWriter:
    """Write checkpoints of experiments in one repository (start, commit, end)."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self.tree_builder = TreeBuilder(repo)
        self._tips: dict[str, tuple[str, dict[str, Any]]] = {}
        # The configs and data fingerprints this writer last recorded, by experiment: (commit,
        # configs, data). A checkpoint without new ones reuses them instead of reading the
        # previous record back.
        self._carried: dict[str, tuple[str, Any, list[Any]]] = {}
        self.secrets = SecretGuard(repo)
        self.large_files = LargeFileKeeper(repo)
        """Puts the large files checkpoints leave out into the content cache, in the background."""
        self.max_wait = _MAX_WAIT  # seconds a checkpoint may wait for other writers
        self._folded = FoldedIds(repo)

    # -- reading tips ---------------------------------------------------------------------------

    def tip(self, experiment_id: str) -> tuple[str, dict[str, Any]] | None:
        """Return (commit, summary) of an experiment's last checkpoint, or None.

        ``cat-file`` looks the one ref up; ``for-each-ref`` would read every loose ref of the
        folder, a cost that grows with the number of experiments.
        """
        ref = ExperimentRef(experiment_id).ref
        out = self.repo.git.run("cat-file", "--batch", stdin=f"{ref}\n".encode())
        header, _, body = out.partition(b"\n")
        oid, kind, _size = (header.decode("utf-8", "replace").split() + ["", ""])[:3]
        if kind == "missing":
            self._tips.pop(experiment_id, None)
            return None
        summary = parse_summary(body.decode("utf-8", "replace")) if kind == "commit" else None
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
        data: Sequence[Mapping[str, Any]] | None = None,
    ) -> Checkpoint:
        """Record the first checkpoint of an experiment (or continue one with ``resume``).

        ``resume`` is the one way to reopen an ended experiment. ``data`` are the fingerprints
        (``DataFingerprint.to_dict()``) of the data it reads; later checkpoints carry them.

        Raises:
            InvalidNameError: the id breaks the naming rules.
            ExperimentExistsError: the id (or one differing only by case) exists and
                ``resume`` is False.
        """
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
            self._folded.add(experiment_id)
        return self.checkpoint(
            experiment_id,
            status="running",
            message=message or ("resumed" if tip else "started"),
            name=name,
            configs=configs,
            creating=tip is None,
            reopening=tip is not None,
            mlvc_branch=mlvc_branch,
            details=details,
            data=data,
        )

    def _refuse_case_collision(self, experiment_id: str) -> None:
        other = self._folded.clash(experiment_id)
        if other is not None:
            raise ExperimentExistsError(
                f"Experiment '{experiment_id}' differs only by case from the existing '{other}'.",
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
        reopening: bool = False,
        mlvc_branch: str | None = None,
        details: Mapping[str, Any] | None = None,
        data: Sequence[Mapping[str, Any]] | None = None,
    ) -> Checkpoint:
        """Snapshot the working tree and commit it as the experiment's next checkpoint.

        ``creating`` records the first checkpoint; ``reopening`` allows one on an ended
        experiment (``start(resume=True)`` passes it; nothing else may reopen one).

        Raises:
            ExperimentNotFoundError: the experiment does not exist (and ``creating`` is False).
            ExperimentExistsError: the experiment has ended and ``reopening`` is False.
            GitOperationError: git failed (disk full, a broken repository, ...).
        """
        tip = None if creating else self._open_tip(experiment_id, reopening=reopening)
        previous = tip[1] if tip else {}
        needs_previous = tip is not None and (configs is None or data is None)
        carried = self._previous(experiment_id, tip[0]) if tip and needs_previous else ({}, [])
        if configs is not None:  # credentials under password/token/... keys never reach a ref
            carried = (redact_secrets(configs_mod.serialise_configs(configs)), carried[1])
        record_configs = carried[0]
        record_data = carried[1] if data is None else [dict(d) for d in data]
        with self.tree_builder.stage() as staged:
            started = time.perf_counter()
            self.secrets.check(*staged.scan_targets())
            staged.timings["secrets"] = time.perf_counter() - started
            files = self._record_files(
                experiment_id, (record_configs, record_data), details, staged.preview
            )
            snap = staged.write_tree(files)
        summary = new_summary(
            experiment_id, status=status, message=message, head=snap.head, branch=snap.branch,
            previous=previous, name=name, metrics=None if metrics is None else _metrics(metrics),
            extra=_summary_extra(previous, mlvc_branch, details),
        )  # fmt: skip
        checkpoint = self._publish(
            experiment_id, snap, summary, creating=creating, reopening=reopening
        )
        self._carried[experiment_id] = (checkpoint.commit, record_configs, record_data)
        self.large_files.keep(snap.large_files)
        return checkpoint

    def _previous(self, experiment_id: str, commit: str) -> tuple[Any, list[Any]]:
        """Return the configs and data fingerprints the checkpoint ``commit`` recorded."""
        cached = self._carried.get(experiment_id)
        if cached is not None and cached[0] == commit:
            return cached[1], cached[2]
        record = self.read_record(commit)
        return record.get("configs", {}), list(record.get("data") or [])

    def _open_tip(self, experiment_id: str, *, reopening: bool) -> tuple[str, dict[str, Any]]:
        """Return the tip the next checkpoint goes on, refusing an ended experiment."""
        tip = self._require_tip(experiment_id)
        if not reopening and tip[1].get("status") in END_STATUSES:
            tip = self._require_tip_fresh(experiment_id)  # another process may have resumed it
            _refuse_ended(experiment_id, tip)
        return tip

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
        carried: tuple[Any, list[Any]],
        details: Mapping[str, Any] | None,
        preview: CheckpointTree,
    ) -> dict[str, bytes]:
        record = {
            "schema": SCHEMA_VERSION,
            "id": experiment_id,
            "configs": carried[0],
            "data": carried[1],
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
        reopening: bool,
    ) -> Checkpoint:
        """Commit on the experiment's tip and move its ref there (compare-and-swap), retrying.

        A lost race re-reads the tip and commits again on top of it; a held ref lock is waited
        for (and removed once it is stale) without committing again.
        """
        ref = ExperimentRef(experiment_id).ref
        tip = None if creating else self._cached_tip(experiment_id)
        deadline = time.monotonic() + self.max_wait
        phases = {"commit": 0.0, "ref_update": 0.0}
        commit = ""
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            expected = tip[0] if tip else self.repo.null_oid
            started = time.perf_counter()
            commit = commit or self._commit_on(tip, snap, summary)
            committed = time.perf_counter()
            outcome = compare_and_swap(self.repo, ref, commit, expected)
            phases["commit"] += committed - started
            phases["ref_update"] += time.perf_counter() - committed
            if outcome is Outcome.MOVED:
                timed = {**snap.timings, **phases, "attempts": attempt}
                landed = self._landed(experiment_id, commit, expected, summary, timed)
                return dataclasses.replace(landed, warnings=snap.notices())
            if outcome is Outcome.LOST:
                if creating:
                    raise _created_meanwhile(experiment_id)
                tip, commit = self._require_tip_fresh(experiment_id), ""
                if not reopening:
                    _refuse_ended(experiment_id, tip)  # another process ended it meanwhile
            if time.monotonic() > deadline:
                break
            time.sleep(random.uniform(0, min(0.2, 0.005 * attempt)))
        raise gave_up_error(self.repo, experiment_id, ref, self.max_wait)

    def _commit_on(
        self, tip: tuple[str, dict[str, Any]] | None, snap: CheckpointTree, summary: dict[str, Any]
    ) -> str:
        """Commit ``snap`` as the checkpoint after ``tip`` (numbering ``summary`` to match)."""
        summary["seq"] = (int(tip[1].get("seq", 0)) + 1) if tip else 1
        return self._commit_tree(snap.tree, tip[0] if tip else snap.head, summary)

    def _landed(
        self,
        experiment_id: str,
        commit: str,
        previous: str,
        summary: dict[str, Any],
        phases: Mapping[str, float],
    ) -> Checkpoint:
        """Do the bookkeeping that follows a moved ref, and return the recorded checkpoint.

        The checkpoint is recorded once its ref has moved, so nothing here may fail it: an
        error would invite the caller to record it again. Failures are logged as warnings.
        """
        self._tips[experiment_id] = (commit, dict(summary))
        seq = summary["seq"]
        try:
            self._advance_branch(summary, commit, previous)
        except GitOperationError as exc:
            log.warning("%s #%d is recorded; its branch did not move: %s", experiment_id, seq, exc)
        entry = {"id": experiment_id, "seq": seq, "commit": commit}
        entry.update({k: round(v, 6) for k, v in phases.items()}, time=now())
        try:
            timings.append(self.repo.runtime_dir, entry)
        except OSError as exc:
            log.warning(
                "%s #%d is recorded; its timings were not logged: %s", experiment_id, seq, exc
            )
        return summary_to_checkpoint(commit, summary)

    def save_safety_ref(self, reason: str, *, files: Mapping[str, bytes] | None = None) -> str:
        """Record the working tree under ``refs/mlvc/safety/<time>`` before an overwrite.

        ``files`` ({path: content}) go into the tree too (an in-place restore keeps the exact
        bytes of what it overwrites there). Returns the ref; restore anything from it with
        ``git checkout <ref> -- <path>``.
        """
        snap = self.tree_builder.build(files)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        ref = safety_ref(stamp)
        summary = new_summary(
            f"safety-{stamp}", status="safety", message=reason, head=snap.head,
            branch=snap.branch, name="safety snapshot",
        )  # fmt: skip
        summary["seq"] = 1
        commit = self._commit_tree(snap.tree, snap.head, summary)
        self.repo.git.run("update-ref", "--no-deref", ref, commit, self.repo.null_oid)
        self.large_files.keep(snap.large_files)
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
        self.repo.git.run("update-ref", "--no-deref", ref, commit, current or self.repo.null_oid)


def _refuse_ended(experiment_id: str, tip: tuple[str, dict[str, Any]]) -> None:
    status = tip[1].get("status")
    if status in END_STATUSES:
        raise ExperimentExistsError(
            f"Experiment '{experiment_id}' has ended ({status}), so it takes no more "
            "checkpoints; nothing was recorded.",
            experiment_id=experiment_id,
            hint=f"Reopen it on purpose with `%vc_start {experiment_id} --resume` (CLI: "
            f"`mlvc start {experiment_id} --resume`, Python: resume=True), or start a new "
            f"experiment. To tag its final checkpoint, use `mlvc tag {experiment_id} <tag>`.",
        )


def _created_meanwhile(experiment_id: str) -> ExperimentExistsError:
    return ExperimentExistsError(
        f"Experiment '{experiment_id}' was created by another process meanwhile.",
        experiment_id=experiment_id,
        hint=f"Continue it with `%vc_start {experiment_id} --resume` (CLI: "
        f"`mlvc start {experiment_id} --resume`, Python: resume=True).",
    )


def _metrics(values: Mapping[str, Any]) -> dict[str, Any]:
    serialised = configs_mod.serialise(dict(values), _path="metrics")
    return {str(k): jsonable_number(v) for k, v in serialised.items()}


def _summary_extra(
    previous: Mapping[str, Any], mlvc_branch: str | None, details: Mapping[str, Any] | None
) -> dict[str, Any]:
    extra = dict(previous.get("extra") or {})
    if mlvc_branch:
        extra["mlvc_branch"] = mlvc_branch
    # kept by later checkpoints
    for key in ("notebook", "reproduces", "seed", "entry", "metrics_files", "track"):
        if details and details.get(key) is not None:
            extra[key] = details[key]
    return extra
