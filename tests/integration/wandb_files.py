"""Read an offline W&B run back from its ``.wandb`` file, with W&B's own protobuf schema.

wandb 0.31 ships no Python reader for its transaction log (the Go core reads it), so the log
format is parsed here: a 7-byte header (``:W&B``, magic, version), then LevelDB-style records in
32 KiB blocks, each chunk a 7-byte header (CRC-32, length, type: 1 full, 2 first, 3 middle,
4 last) and its bytes; each record is a ``wandb_internal_pb2.Record``.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_BLOCK = 32768
_HEADER = 7


@dataclass
class OfflineRun:
    """What an offline run recorded: its id, name, group, config, history rows and summary."""

    run_id: str = ""
    name: str = ""
    group: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None


def offline_runs(runtime: Path) -> dict[str, OfflineRun]:
    """Return every offline run under ``<runtime>/wandb``, by run name."""
    runs = [read_run(path) for path in sorted(runtime.glob("wandb/wandb/offline-run-*/*.wandb"))]
    return {run.name: run for run in runs}


def read_run(path: Path) -> OfflineRun:
    from wandb.proto import wandb_internal_pb2 as pb

    run = OfflineRun()
    for data in _records(path.read_bytes()):
        record = pb.Record()
        record.ParseFromString(data)
        _apply(run, record)
    return run


def _apply(run: OfflineRun, record: Any) -> None:
    kind = record.WhichOneof("record_type")
    if kind == "run":
        run.run_id, run.name, run.group = (
            record.run.run_id,
            record.run.display_name,
            record.run.run_group,
        )
        _update(run.config, record.run.config.update)
    elif kind == "config":
        _update(run.config, record.config.update)
    elif kind == "history":
        run.history.append(
            {
                item.key or "/".join(item.nested_key): json.loads(item.value_json)
                for item in record.history.item
            }
        )
    elif kind == "summary":
        _update(run.summary, record.summary.update)
    elif kind == "exit":
        run.exit_code = record.exit.exit_code


def _update(target: dict[str, Any], items: Any) -> None:
    for item in items:
        target[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)


def _records(data: bytes) -> list[bytes]:
    assert data[:4] == b":W&B", data[:8]
    records, chunks, position = [], [], _HEADER
    while position + _HEADER <= len(data):
        left = _BLOCK - position % _BLOCK
        if left < _HEADER:  # the block's tail is padding
            position += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[position : position + _HEADER])
        if kind == 0:  # zero padding up to the block's end
            position += left
            continue
        chunks.append(data[position + _HEADER : position + _HEADER + length])
        position += _HEADER + length
        if kind in (1, 4):
            records.append(b"".join(chunks))
            chunks = []
    return records
