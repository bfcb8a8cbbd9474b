"""Read experiments back: list them, show one, walk its checkpoints, diff two."""

from __future__ import annotations

import json
from typing import Any

from mlvc_jupyter.core.configs.values import diff_params, flatten
from mlvc_jupyter.core.data.fingerprint import DataFingerprint, compare_fingerprints
from mlvc_jupyter.core.reading import query
from mlvc_jupyter.core.recording.summary import (
    LISTING_FORMAT,
    TAGS_FORMAT,
    parse_listing,
    parse_summary,
    parse_tag_targets,
    summary_to_checkpoint,
)
from mlvc_jupyter.core.recording.writer import RECORD_PATH
from mlvc_jupyter.core.records import (
    Checkpoint,
    ExperimentDiff,
    ExperimentRecord,
    ExperimentSummary,
    LargeFile,
    number_delta,
)
from mlvc_jupyter.core.repo.refs import EXPERIMENTS, ExperimentRef
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.errors import ExperimentNotFoundError

__all__ = ["changed_files", "diff", "get", "history", "list_all", "show", "show_at"]


def list_all(repo: Repository) -> list[ExperimentSummary]:
    """Return every experiment's summary, newest first.

    Read through the query layer: one ``git for-each-ref`` (commit and tag messages only, no
    blob), and none at all while the refs are unchanged since the last read.
    """
    return query.all_summaries(repo)


def get(repo: Repository, experiment_id: str) -> ExperimentSummary:
    """Return one experiment's summary.

    Raises:
        InvalidNameError: the id is not valid.
        ExperimentNotFoundError: no such experiment.
    """
    ref = ExperimentRef(experiment_id).ref
    out = repo.git.run("for-each-ref", f"--format={LISTING_FORMAT}", ref, "refs/tags/")
    for summary in parse_listing(out, EXPERIMENTS + "/"):
        if summary.id == experiment_id:
            return summary
    raise ExperimentNotFoundError(experiment_id)


def show(repo: Repository, experiment_id: str) -> ExperimentRecord:
    """Return the full record of an experiment's last checkpoint.

    Raises:
        ExperimentNotFoundError: no such experiment.
    """
    return show_at(repo, experiment_id, None)


def show_at(repo: Repository, experiment_id: str, commit: str | None) -> ExperimentRecord:
    """Return the record an experiment's checkpoint ``commit`` holds (None: the last), with
    the experiment's summary.

    Raises:
        ExperimentNotFoundError: no such experiment.
    """
    summary = get(repo, experiment_id)
    (blob,) = repo.read_blobs([f"{commit or summary.commit}:{RECORD_PATH}"])
    return _record(summary, json.loads(blob) if blob else {})


def _record(summary: ExperimentSummary, data: dict[str, Any]) -> ExperimentRecord:
    return ExperimentRecord(
        summary=summary,
        configs=data.get("configs") or {},
        environment=data.get("environment") or {},
        dirty_files=list(data.get("dirty_files") or []),
        large_files=[LargeFile(**f) for f in data.get("large_files") or []],
        notebooks=list(data.get("notebooks") or []),
        timings=dict(data.get("timings") or {}),
        details=dict(data.get("details") or {}),
        warnings=list(data.get("warnings") or []),
        data=[DataFingerprint.from_dict(d) for d in data.get("data") or []],
    )


def history(repo: Repository, experiment_id: str) -> list[Checkpoint]:
    """Return an experiment's checkpoints, oldest first.

    Raises:
        ExperimentNotFoundError: no such experiment.
    """
    ref = ExperimentRef(experiment_id).ref
    tip = repo.ref_exists(ref)
    if tip is None:
        raise ExperimentNotFoundError(experiment_id)
    out = repo.git.run(
        "log", "--first-parent", "--format=%H%x00%B%x00", "--end-of-options", tip, "--"
    )
    tags = parse_tag_targets(repo.git.run("for-each-ref", f"--format={TAGS_FORMAT}", "refs/tags/"))
    checkpoints = []
    fields = out.decode("utf-8", "replace").split("\0")
    for i in range(0, len(fields) - 2, 2):
        commit, message = fields[i].strip(), fields[i + 1]
        summary = parse_summary(message)
        if summary is None or summary.get("id") != experiment_id:
            break  # reached the user's history the experiment started from
        checkpoints.append(summary_to_checkpoint(commit, summary, tags.get(commit)))
        if int(summary.get("seq", 0)) <= 1:
            break
    checkpoints.reverse()
    return checkpoints


def diff(repo: Repository, a: str, b: str) -> ExperimentDiff:
    """Return what differs from experiment ``a`` to ``b``: params, metrics and files.

    Raises:
        ExperimentNotFoundError: either experiment does not exist.
    """
    first, second = get(repo, a), get(repo, b)
    blobs = repo.read_blobs([f"{first.commit}:{RECORD_PATH}", f"{second.commit}:{RECORD_PATH}"])
    records = [json.loads(blob) if blob else {} for blob in blobs]
    params_a, params_b = (flatten(record.get("configs") or {}) for record in records)
    data_a, data_b = (
        [DataFingerprint.from_dict(d) for d in record.get("data") or []] for record in records
    )
    added, removed, changed = diff_params(params_a, params_b)
    files = changed_files(repo, first.commit, second.commit)
    return ExperimentDiff(
        a=a,
        b=b,
        params_added=added,
        params_removed=removed,
        params_changed=changed,
        metrics=_metric_deltas(first.metrics, second.metrics),
        files=files,
        data=compare_fingerprints(data_a, data_b),
    )


def changed_files(repo: Repository, a: str, b: str) -> list[tuple[str, str]]:
    """Return (status letter, path) of each file that differs from commit ``a`` to ``b``,
    mlvc's own ``.mlvc/`` records left out."""
    out = repo.git.run("diff", "--name-status", "-z", "--no-renames", a, b, "--")
    parts = out.decode("utf-8", "surrogateescape").split("\0")
    return [
        (parts[i], parts[i + 1])
        for i in range(0, len(parts) - 1, 2)
        if not parts[i + 1].startswith(".mlvc/")
    ]


def _metric_deltas(a: dict[str, Any], b: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result = {}
    for key in sorted(a.keys() | b.keys()):
        va, vb = a.get(key), b.get(key)
        result[key] = {"a": va, "b": vb, "delta": number_delta(va, vb)}
    return result
