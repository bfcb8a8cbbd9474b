"""The journal of in-place restores: ``<git-common-dir>/mlvc/inplace/journal.json``.

One entry per ``reproduce --inplace``, oldest first: the experiment and checkpoint restored, the
safety ref, what each touched path held before (a raw blob id, or nothing), its fingerprint just
after the restore, and the folders the restore created. ``undo`` takes the last entry not yet
undone. The file is replaced atomically, so a crash leaves the old journal or the new one.
"""

from __future__ import annotations

import json
from typing import Any

from mlvc_jupyter.core.files import atomic_write
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.errors import MlvcError

__all__ = ["append", "last_open", "load", "replace"]

_SCHEMA = 1


def _path(repo: Repository) -> Any:
    return repo.runtime_dir / "inplace" / "journal.json"


def load(repo: Repository) -> list[dict[str, Any]]:
    """Return the journal's entries (empty when there is none yet).

    Raises:
        MlvcError: the journal exists but is not mlvc's JSON (edited by hand, say).
    """
    path = _path(repo)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise MlvcError(
            f"Cannot read the journal of in-place restores '{path}': {exc}.",
            hint="Every restore is also kept as a safety ref: `git for-each-ref refs/mlvc/safety` "
            "lists them; `git checkout <ref> -- <path>` brings a file back.",
        ) from exc
    entries = data.get("entries") if isinstance(data, dict) else None
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _save(repo: Repository, entries: list[dict[str, Any]]) -> None:
    path = _path(repo)
    path.parent.mkdir(exist_ok=True)
    atomic_write(path, json.dumps({"schema": _SCHEMA, "entries": entries}, indent=1))


def append(repo: Repository, entry: dict[str, Any]) -> int:
    """Add ``entry`` at the end; return its position."""
    entries = load(repo)
    entries.append(entry)
    _save(repo, entries)
    return len(entries) - 1


def replace(repo: Repository, position: int, entry: dict[str, Any]) -> None:
    """Replace the entry at ``position`` (the same restore, updated)."""
    entries = load(repo)
    entries[position] = entry
    _save(repo, entries)


def last_open(entries: list[dict[str, Any]], root: str) -> int | None:
    """Return the position of the last restore into ``root`` not undone yet, or None.

    Linked worktrees share the runtime folder, so each entry names the working tree it
    restored into; undo in one never touches another's files.
    """
    for position in range(len(entries) - 1, -1, -1):
        entry = entries[position]
        if not entry.get("undone") and entry.get("root") == root:
            return position
    return None
