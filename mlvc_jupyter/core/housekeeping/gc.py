"""Retention by policy, then git's own housekeeping: ``mlvc gc`` and ``%vc_gc``.

:func:`plan` decides, reading only refs and commit messages, which experiments go:

* ``older_than`` (days) picks experiments whose last checkpoint is older; ``failed`` picks
  failed ones; given together, an experiment must match both;
* ``keep`` protects the newest N experiments; alone, it picks every other one;
* a running experiment is picked only by age (a kernel that died left it "running");
* an experiment a tag or branch names stays unless ``include_tagged``; with ``branches`` or
  ``tags`` mlvc's own labels of picked experiments go too (and those of experiments already
  gone), see :mod:`.labels`; a label of the user's always keeps its experiment.

:func:`run` carries a plan out: picked experiments and deleted tags move to the trash (``rm
--undo`` brings an experiment back) and trash older than the grace period is dropped, in one
``update-ref`` transaction (with ``now`` nothing goes to the trash: it is all dropped); then
mlvc's reflogs are expired, ``git gc`` runs (its progress reported), and the large-file content
cache is pruned of content no experiment names. Objects
of removed experiments become unreachable and git prunes them after its own grace period
(``gc.pruneExpire``, two weeks); ``now`` expires the trash and prunes at once, which is safe
only while no other process writes to the repository.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from mlvc_jupyter.core.data.cache import ContentCache
from mlvc_jupyter.core.housekeeping import retention
from mlvc_jupyter.core.housekeeping.labels import Label, labels_by_experiment
from mlvc_jupyter.core.reading.listing import list_all
from mlvc_jupyter.core.recording.writer import RECORD_PATH
from mlvc_jupyter.core.records import ExperimentSummary, GcItem, GcPlan, GcResult, Progress, report
from mlvc_jupyter.core.repo.refs import (
    HEADS,
    REFS,
    TAGS,
    ExperimentRef,
    trash_experiment_ref,
    trash_stamp,
    trash_tag_ref,
)
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.errors import MlvcError

__all__ = ["CACHE_GRACE_SECONDS", "GcPolicy", "count_objects", "plan", "prune_content_cache", "run"]

_PERCENT = re.compile(r"\((\d+)/(\d+)\)")
# git gc on a large repository: stopped after an hour, or after ten minutes without progress.
_GC_TIMEOUT = 3600.0
_GC_STALL = 600.0
CACHE_GRACE_SECONDS = 3600
"""Cache entries younger than this stay: a checkpoint may be about to name them."""


@dataclass(frozen=True, slots=True)
class GcPolicy:
    """Which experiments gc removes; see the module's docstring for how the options combine."""

    older_than: float | None = None
    keep: int | None = None
    failed: bool = False
    include_tagged: bool = False
    branches: bool = False
    tags: bool = False
    now: bool = False

    def check(self) -> None:
        """Raise MlvcError for a negative age or count."""
        if (self.older_than is not None and self.older_than < 0) or (
            self.keep is not None and self.keep < 0
        ):
            raise MlvcError(
                f"gc needs --older-than and --keep of 0 or more (got {self.older_than!r} days, "
                f"keep {self.keep!r}).",
                hint="For example `mlvc gc --older-than 30 --keep 10 --dry-run`.",
            )


def plan(repo: Repository, policy: GcPolicy, *, at: dt.datetime | None = None) -> GcPlan:
    """Return what :func:`run` would remove under ``policy`` (nothing is changed)."""
    policy.check()
    when = at or dt.datetime.now(dt.timezone.utc)
    summaries = sorted(list_all(repo), key=lambda s: s.updated, reverse=True)
    labels = labels_by_experiment(repo, {s.commit: s.id for s in summaries})
    items, kept, branches, tags = [], [], [], []
    for index, summary in enumerate(summaries):
        reason = _reason(summary, index, policy, when)
        if reason is None:
            continue
        going = [label for label in labels.get(summary.id, []) if _goes(label, policy)]
        if len(going) < len(labels.get(summary.id, [])) and not policy.include_tagged:
            kept.append(summary.id)
            continue
        items.append(GcItem(summary.id, summary.commit, summary.status, summary.updated, reason))
        branches += [label.name for label in going if label.kind == "branch"]
        tags += [label.name for label in going if label.kind == "tag"]
    orphans = _orphan_labels(repo, labels, {s.id for s in summaries}, policy)
    branches += [label.name for label in orphans if label.kind == "branch"]
    tags += [label.name for label in orphans if label.kind == "tag"]
    expiry = when - dt.timedelta(days=0 if policy.now else retention.TRASH_DAYS)
    trash = [t.ref for t in retention.trash_refs(repo) if t.removed <= expiry]
    return GcPlan(items, sorted(branches), sorted(tags), trash, kept, len(summaries))


def _reason(
    summary: ExperimentSummary, index: int, policy: GcPolicy, when: dt.datetime
) -> str | None:
    """Return why ``policy`` picks the experiment at ``index`` (newest first), or None."""
    if policy.keep is not None and index < policy.keep:
        return None
    reasons = []
    if policy.older_than is not None:
        cutoff = when - dt.timedelta(days=policy.older_than)
        if not summary.updated or dt.datetime.fromisoformat(summary.updated) >= cutoff:
            return None
        reasons.append(f"older than {policy.older_than:g} days")
    elif summary.status == "running":
        return None
    if policy.failed:
        if summary.status != "failed":
            return None
        reasons.append("failed")
    if not reasons and policy.keep is None:
        return None
    return ", ".join(reasons) or f"beyond the newest {policy.keep}"


def _goes(label: Label, policy: GcPolicy) -> bool:
    return label.own and (policy.branches if label.kind == "branch" else policy.tags)


def _orphan_labels(
    repo: Repository, labels: dict[str, list[Label]], alive: set[str], policy: GcPolicy
) -> list[Label]:
    """Return mlvc's own labels (those ``policy`` cleans) of experiments gone for good."""
    binned = {t.name for t in retention.trash_refs(repo, "experiments")}
    return [
        label
        for owner, found in labels.items()
        if owner not in alive and owner not in binned
        for label in found
        if _goes(label, policy)
    ]


def run(
    repo: Repository, gc_plan: GcPlan, *, now: bool = False, on_progress: Progress | None = None
) -> GcResult:
    """Carry out ``gc_plan``, expire mlvc's reflogs, run ``git gc``, prune the content cache.

    ``on_progress(done, total)`` hears of git's progress, stage by stage.

    Raises:
        MlvcError: a ref moved since the plan was made (nothing was removed), or git failed.
    """
    before = count_objects(repo)
    _remove(repo, gc_plan, keep_in_trash=not now)
    _expire_reflogs(repo)
    args = ["gc"] + (["--prune=now"] if now else [])
    repo.git.stream(
        *args, on_stderr=lambda line: _progress(line, on_progress), terminal=True,
        timeout=_GC_TIMEOUT, stall_timeout=_GC_STALL,
    )  # fmt: skip
    pruned, note = prune_content_cache(repo)
    after = count_objects(repo)
    return GcResult(
        gc_plan, before["count"], after["count"], _size(before), _size(after), pruned, note
    )


def _remove(repo: Repository, gc_plan: GcPlan, *, keep_in_trash: bool) -> None:
    """Apply the plan's ref changes in one transaction (all or nothing).

    Removed experiments and tags go to the trash unless ``keep_in_trash`` is False (``now``).
    """
    stamp = trash_stamp()
    commands = []
    for item in gc_plan.experiments:
        if keep_in_trash:
            kept = trash_experiment_ref(item.experiment_id, stamp)
            commands.append(f"create {kept} {item.commit}")
        commands.append(f"delete {ExperimentRef(item.experiment_id).ref} {item.commit}")
    for name in gc_plan.branches:
        commands.append(f"delete {HEADS}{name} {_oid(repo, HEADS + name)}")
    for name in gc_plan.tags:
        oid = _oid(repo, TAGS + name)
        if keep_in_trash:
            commands.append(f"create {trash_tag_ref(name, stamp)} {oid}")
        commands.append(f"delete {TAGS}{name} {oid}")
    commands += [f"delete {ref}" for ref in gc_plan.trash]
    if commands:
        retention.transaction(repo, commands, "removing what gc planned")


def _oid(repo: Repository, ref: str) -> str:
    oid = repo.ref_exists(ref)
    if oid is None:
        raise MlvcError(
            f"'{ref}' is gone since gc made its plan; nothing was removed.",
            hint="Run `mlvc gc --dry-run` again to see the current plan.",
        )
    return oid


def _expire_reflogs(repo: Repository) -> None:
    """Drop every reflog entry of refs under refs/mlvc/ (they only pin old checkpoints)."""
    logs = repo.paths.common_dir / "logs"
    refs = [
        path.relative_to(logs).as_posix() for path in (logs / REFS).rglob("*") if path.is_file()
    ]
    if refs:
        repo.git.run("reflog", "expire", "--expire=all", "--expire-unreachable=all", *refs)


def prune_content_cache(repo: Repository) -> tuple[int, str]:
    """Remove large files from the content cache that no recorded checkpoint names.

    Kept: the sha256 of every large file in the full record of every checkpoint reachable
    from mlvc's refs (experiments, trash, safety) and from tags and branches, plus entries
    younger than :data:`CACHE_GRACE_SECONDS` (a checkpoint caches its large files before its
    commit lands). Returns (entries removed, a line for the output).
    """
    cache = ContentCache(repo)
    entries = list(cache.entries())
    if not entries:
        return 0, ""
    young = time.time() - CACHE_GRACE_SECONDS
    keep = _recorded_large_files(repo)
    keep |= {sha for sha, path in entries if _mtime(path) > young}
    result = cache.prune(keep)
    return result.count, f"{result.count} unreferenced files ({result.bytes // 1024} kB) removed"


def _recorded_large_files(repo: Repository) -> set[str]:
    """Return the sha256 of every large file named by a reachable checkpoint's record."""
    out = repo.git.run(
        "log", "--format=%H", f"--glob={REFS}/*", "--tags", "--branches", "--",
        RECORD_PATH,
    )  # fmt: skip
    commits = out.decode().split()
    keep: set[str] = set()
    for blob in repo.read_blobs([f"{commit}:{RECORD_PATH}" for commit in commits]):
        try:
            record = json.loads(blob or b"{}")
        except ValueError:  # a damaged record names nothing
            continue
        files = record.get("large_files") if isinstance(record, dict) else None
        keep.update(f["sha256"] for f in files or [] if isinstance(f, dict) and "sha256" in f)
    return keep


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _progress(line: str, on_progress: Progress | None) -> None:
    match = _PERCENT.search(line)
    if match is not None:
        report(on_progress, int(match[1]), int(match[2]))


def count_objects(repo: Repository) -> dict[str, int]:
    """Return ``git count-objects -v`` as numbers (count, size, in-pack, packs, size-pack...)."""
    out = repo.git.run("count-objects", "-v").decode()
    pairs = (line.split(":", 1) for line in out.splitlines() if ":" in line)
    return {key.strip(): int(value) for key, value in pairs if value.strip().isdigit()}


def _size(counts: dict[str, int]) -> int:
    return counts.get("size", 0) + counts.get("size-pack", 0) + counts.get("size-garbage", 0)
