"""The local log of how long each phase of each checkpoint took (``mlvc status --timings``).

The commit and ref-update phases end after the commit exists, so they cannot be in its tree;
this log, ``<runtime>/timings.jsonl``, has every phase. It is local to the machine.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["TIMINGS_LOG", "append", "recent"]

TIMINGS_LOG = "timings.jsonl"
_BYTES_PER_LINE = 1024  # generous: a line is about 250 bytes


def append(runtime_dir: Path, entry: Mapping[str, Any]) -> None:
    """Append one checkpoint's timings (one JSON line)."""
    with (runtime_dir / TIMINGS_LOG).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(dict(entry), sort_keys=True) + "\n")


def recent(runtime_dir: Path, limit: int = 20) -> list[dict[str, Any]]:
    """Return the timings of the ``limit`` most recent checkpoints, newest last.

    Only the end of the log is read, however long it has grown.
    """
    if limit <= 0:
        return []
    try:
        with (runtime_dir / TIMINGS_LOG).open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - limit * _BYTES_PER_LINE))
            tail = handle.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return []
    result = []
    for line in tail[1:] if len(tail) > limit else tail:  # the first may be cut by the seek
        try:
            result.append(json.loads(line))
        except ValueError:  # a line torn by a crash: skip it, the rest is intact
            continue
    return result[-limit:]
