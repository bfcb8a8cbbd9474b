"""The local checkpoint-timings log: appended per checkpoint, read from its end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlvc_jupyter.core.recording import timings


@pytest.mark.parametrize("count", [0, 1, 5000], ids=["empty", "one", "long"])
def test_recent_reads_the_newest_lines(tmp_path: Path, count: int) -> None:
    for seq in range(count):
        timings.append(tmp_path, {"id": "e", "seq": seq, "stage": 0.001})
    recent = timings.recent(tmp_path, limit=20)
    assert [t["seq"] for t in recent] == list(range(max(0, count - 20), count))


def test_missing_log_and_torn_lines(tmp_path: Path) -> None:
    assert timings.recent(tmp_path) == []
    timings.append(tmp_path, {"seq": 1})
    with (tmp_path / timings.TIMINGS_LOG).open("a") as handle:
        handle.write('{"seq": 2, "torn')  # a crash mid-write
    assert timings.recent(tmp_path) == [{"seq": 1}]
    assert timings.recent(tmp_path, limit=0) == []
    assert json.loads((tmp_path / timings.TIMINGS_LOG).read_text().splitlines()[0]) == {"seq": 1}
