"""The summary each checkpoint carries in its commit message, and listings built from it alone.

A checkpoint's commit message reads like this::

    mlvc(exp_001) #3 running: Step 300

    mlvc-summary: {"v": 1, "id": "exp_001", "seq": 3, ...}

so ``git log`` stays readable, and listing every experiment is one ``git for-each-ref`` that
reads commit messages and no blob. The full record (configs, environment, files) lives in the
snapshot tree under ``.mlvc/`` and is read only when one experiment is shown.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any

from mlvc_jupyter.core.records import Checkpoint, ExperimentSummary

__all__ = [
    "LISTING_FORMAT",
    "SCHEMA_VERSION",
    "SUMMARY_MARKER",
    "TAGS_FORMAT",
    "TAG_MARKER",
    "format_message",
    "jsonable_number",
    "new_summary",
    "now",
    "ListingEntry",
    "parse_listing",
    "parse_listing_entries",
    "parse_tag_targets",
    "parse_summary",
    "summary_of",
    "summary_to_checkpoint",
]

SCHEMA_VERSION = 1
SUMMARY_MARKER = "mlvc-summary: "
TAG_MARKER = "mlvc-experiment: "
LISTING_FORMAT = "%(refname)%00%(objectname)%00%(*objectname)%00%(contents)%00"


def now() -> str:
    """Return the current UTC time as ISO 8601 with milliseconds."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def new_summary(
    experiment_id: str,
    *,
    status: str,
    message: str,
    head: str | None,
    branch: str | None,
    previous: Mapping[str, Any] | None = None,
    name: str | None = None,
    metrics: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the summary of a new checkpoint (its ``seq`` is set when it is committed).

    Name, creation time and metrics left unset carry over from the ``previous`` checkpoint's
    summary. ``metrics`` must already be JSON-ready.
    """
    previous = previous or {}
    values = metrics if metrics is not None else previous.get("metrics")
    return {
        "v": SCHEMA_VERSION,
        "id": experiment_id,
        "name": name or previous.get("name") or experiment_id,
        "status": status,
        "created": previous.get("created") or now(),
        "time": now(),
        "message": message,
        "metrics": dict(values or {}),
        "head": head,
        "branch": branch,
        "extra": dict(extra or {}),
    }


def jsonable_number(value: Any) -> Any:
    """Return ``value`` with non-finite floats spelled as strings, so the JSON stays standard."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def format_message(summary: Mapping[str, Any]) -> bytes:
    """Return the commit message for a checkpoint with ``summary``."""
    subject = summary.get("message") or summary["status"]
    first_line = str(subject).splitlines()[0] if str(subject).strip() else summary["status"]
    head = f"mlvc({summary['id']}) #{summary['seq']} {summary['status']}: {first_line}"
    body = json.dumps(dict(summary), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return f"{head}\n\n{SUMMARY_MARKER}{body}\n".encode()


def _summary_line(message: str) -> str | None:
    """Return the JSON text after the summary marker, or None when there is no marker."""
    at = message.rfind("\n" + SUMMARY_MARKER)
    if at < 0:
        return None
    return message[at + 1 + len(SUMMARY_MARKER) :].split("\n", 1)[0]


def parse_summary(message: str) -> dict[str, Any] | None:
    """Return the summary in a commit message, or None when it carries none."""
    line = _summary_line(message)
    if line is None:
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) and "id" in value else None


def summary_to_checkpoint(
    commit: str, summary: Mapping[str, Any], tags: list[str] | None = None
) -> Checkpoint:
    """Return the :class:`Checkpoint` a commit's summary describes."""
    return Checkpoint(
        experiment_id=summary["id"],
        commit=commit,
        seq=int(summary.get("seq", 0)),
        name=summary.get("name", ""),
        status=summary.get("status", ""),
        message=summary.get("message", ""),
        created=summary.get("created", ""),
        timestamp=summary.get("time", ""),
        metrics=dict(summary.get("metrics") or {}),
        tags=sorted(tags or []),
        head=summary.get("head"),
        branch=summary.get("branch"),
        extra=dict(summary.get("extra") or {}),
    )


def _to_summary(commit: str, summary: Mapping[str, Any], tags: list[str]) -> ExperimentSummary:
    # Hot: called once per experiment of a listing. The dicts come fresh from json.loads, so
    # they are used as they are, not copied.
    get = summary.get
    return ExperimentSummary(
        id=summary["id"],
        name=get("name", ""),
        status=get("status", ""),
        created=get("created", ""),
        updated=get("time", ""),
        checkpoints=int(get("seq", 0)),
        metrics=get("metrics") or {},
        tags=sorted(tags) if tags else [],
        branch=get("branch"),
        head=get("head"),
        commit=commit,
        message=get("message", ""),
        extra=get("extra") or {},
    )


def parse_listing(out: bytes, experiments_prefix: str) -> list[ExperimentSummary]:
    """Parse ``for-each-ref --format=LISTING_FORMAT`` over experiments and tags.

    Tags are matched to their experiment by the marker line mlvc writes in a tag's message.
    """
    return [summary_of(entry) for entry in parse_listing_entries(out, experiments_prefix)]


ListingEntry = tuple[str, dict[str, Any], list[str]]
"""(commit, summary as parsed from its JSON, tag names) of one experiment of a listing."""


def parse_listing_entries(out: bytes, experiments_prefix: str) -> list[ListingEntry]:
    """Parse a listing like :func:`parse_listing`, leaving the records to :func:`summary_of`.

    A caller that needs only a few records (one page of 10,000) makes only those.
    """
    oids: list[str] = []
    lines: list[str] = []
    tags: dict[str, list[str]] = {}
    fields = out.decode("utf-8", "replace").split("\0")
    # Each record is four NUL-terminated fields followed by git's newline (which starts the
    # next record's first field). Strided slices keep this loop, run once per ref, lean; a
    # damaged output (a NUL inside a message) shortens a slice rather than raising.
    for refname, oid, contents in zip(fields[0:-1:4], fields[1::4], fields[3::4], strict=False):
        name = refname.lstrip("\n")
        if name.startswith(experiments_prefix):
            line = _summary_line(contents)
            if line is not None:
                oids.append(oid)
                lines.append(line)
        elif name.startswith("refs/tags/"):
            _collect_tag(name, contents, tags)
    entries: dict[str, ListingEntry] = {}
    for oid, summary in zip(oids, _load_summaries(lines), strict=True):
        if isinstance(summary, dict) and "id" in summary:
            entries[summary["id"]] = (oid, summary, tags.get(summary["id"], []))
    return list(entries.values())


def summary_of(entry: ListingEntry) -> ExperimentSummary:
    """Return the :class:`ExperimentSummary` of one listing entry."""
    return _to_summary(*entry)


def _load_summaries(lines: list[str]) -> list[Any]:
    """Parse summary lines with one ``json.loads`` (a third faster than one call per line)."""
    try:
        loaded: list[Any] = json.loads("[" + ",".join(lines) + "]")
    except ValueError:  # a damaged summary somewhere: parse one by one, skipping the bad ones
        return [_loads_or_none(line) for line in lines]
    return loaded if len(loaded) == len(lines) else [_loads_or_none(line) for line in lines]


def _loads_or_none(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None


def parse_tag_targets(out: bytes) -> dict[str, list[str]]:
    """Parse ``for-each-ref --format=TAGS_FORMAT refs/tags/`` into {commit: [tag names]}."""
    targets: dict[str, list[str]] = {}
    for line in out.decode("utf-8", "replace").splitlines():
        name, oid, peeled = (line.split("\0") + ["", ""])[:3]
        targets.setdefault(peeled or oid, []).append(name)
    return targets


TAGS_FORMAT = "%(refname:lstrip=2)%00%(objectname)%00%(*objectname)"


def _collect_tag(refname: str, contents: str, tags: dict[str, list[str]]) -> None:
    at = contents.rfind(TAG_MARKER)
    if at < 0:
        return
    exp_id = contents[at + len(TAG_MARKER) :].split("\n", 1)[0].strip()
    tags.setdefault(exp_id, []).append(refname[len("refs/tags/") :])
