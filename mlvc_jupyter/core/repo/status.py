"""``git status --porcelain=v2 --branch -z`` output, parsed: HEAD, branch and changed paths."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlvc_jupyter.core.records import GitStatus, RepoStatus

__all__ = ["StatusEntries", "parse_status", "parse_status_entries"]


@dataclass(slots=True)
class StatusEntries:
    """``git status --porcelain=v2 --branch -z`` output, parsed: HEAD, branch and entries."""

    head: str | None = None
    branch: str | None = None
    entries: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(kind, XY, submodule state, path): kind '1' changed, 'u' unmerged, '?' untracked.

    The submodule state is git's ``N...`` for a plain file, ``S<c><m><u>`` for a submodule.
    """


def parse_status_entries(out: bytes) -> StatusEntries:
    """Parse porcelain v2 status run with ``--branch -z --no-renames``."""
    parsed = StatusEntries()
    for entry in out.decode("utf-8", "surrogateescape").split("\0"):
        if entry.startswith("# branch.oid "):
            value = entry[len("# branch.oid ") :]
            parsed.head = None if value == "(initial)" else value
        elif entry.startswith("# branch.head "):
            value = entry[len("# branch.head ") :]
            parsed.branch = None if value == "(detached)" else value
        elif entry.startswith("1 "):
            parts = entry.split(" ", 8)
            parsed.entries.append(("1", parts[1], parts[2], parts[8]))
        elif entry.startswith("u "):
            parts = entry.split(" ", 10)
            parsed.entries.append(("u", parts[1], parts[2], parts[10]))
        elif entry.startswith("? "):
            parsed.entries.append(("?", "??", "N...", entry[2:]))
    return parsed


def parse_status(root: str, out: bytes) -> RepoStatus:
    parsed = parse_status_entries(out)
    by_kind: dict[str, list[str]] = {
        "staged": [],
        "modified": [],
        "untracked": [],
        "conflicted": [],
    }
    for kind, xy, _submodule, path in parsed.entries:
        if kind == "u":
            by_kind["conflicted"].append(path)
        elif kind == "?":
            by_kind["untracked"].append(path)
        else:
            if xy[0] != ".":
                by_kind["staged"].append(path)
            if xy[1] != ".":
                by_kind["modified"].append(path)
    return RepoStatus(
        root=root,
        state=_state(parsed.head, by_kind),
        branch=parsed.branch,
        head=parsed.head,
        detached=parsed.branch is None and parsed.head is not None,
        **by_kind,
    )


def _state(head: str | None, by_kind: dict[str, list[str]]) -> GitStatus:
    if head is None:
        return GitStatus.EMPTY
    if by_kind["conflicted"]:
        return GitStatus.CONFLICTED
    if by_kind["staged"] or by_kind["modified"]:
        return GitStatus.MODIFIED
    if by_kind["untracked"]:
        return GitStatus.UNTRACKED
    return GitStatus.CLEAN
