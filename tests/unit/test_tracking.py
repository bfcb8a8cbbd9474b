"""The local metric store and the backend registry."""

from __future__ import annotations

import gc
import json
import math
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mlvc_jupyter
from mlvc_jupyter.core.tracking import BACKENDS, Tracker, create_tracker
from mlvc_jupyter.core.tracking.local import BATCH_LINES, LocalTracker, read_records
from mlvc_jupyter.errors import MlvcError

ROOT = Path(mlvc_jupyter.__file__).parents[1]  # subprocesses import the package from here


@pytest.fixture
def metrics_path(tmp_path: Path) -> Path:
    return tmp_path / "runtime" / "metrics" / "exp-1.jsonl"


@pytest.fixture
def tracker(metrics_path: Path) -> Iterator[LocalTracker]:
    tracker = LocalTracker(metrics_path, experiment_id="exp-1", run_id="run-a")
    yield tracker
    tracker.close()


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_properties_and_parent_folders(tracker: LocalTracker, metrics_path: Path) -> None:
    assert metrics_path.is_file()
    assert tracker.path == metrics_path
    assert tracker.experiment_id == "exp-1"
    assert tracker.run_id == "run-a"
    assert tracker.backend == "local"
    as_protocol: Tracker = tracker  # mypy checks that LocalTracker satisfies the protocol
    assert isinstance(as_protocol, Tracker)


def test_run_id_is_generated_when_omitted(metrics_path: Path) -> None:
    with LocalTracker(metrics_path, experiment_id="e") as first:
        second = LocalTracker(metrics_path, experiment_id="e")
        second.close()

    assert len(first.run_id) == 12
    assert first.run_id != second.run_id


@pytest.mark.parametrize(
    "metrics",
    [
        pytest.param({}, id="no-keys"),
        pytest.param({"loss": 0.25}, id="one-key"),
        pytest.param({"loss": 0.25, "acc": 1, "val/f1": -3.5e-12, "é": 2.0}, id="many-keys"),
    ],
)
def test_log_flush_history(
    tracker: LocalTracker, metrics_path: Path, metrics: dict[str, float]
) -> None:
    tracker.log_metrics(metrics, step=3)
    assert metrics_path.read_bytes() == b""  # queued, not written per call

    tracker.flush()
    records = _lines(metrics_path)

    assert len(records) == 1
    assert records[0]["run"] == "run-a"
    assert records[0]["step"] == 3
    assert isinstance(records[0]["time"], float)
    assert records[0]["metrics"] == metrics
    assert tracker.history() == records


def test_history_flushes_without_fsync(tracker: LocalTracker) -> None:
    tracker.log_metrics({"loss": 1.0})
    tracker.log_params({"lr": 0.1, "layers": [64, 32], "name": "mlp"})
    tracker.log_metrics({"loss": 0.5}, step=1)

    history = tracker.history()

    assert [(r.get("step"), r.get("metrics"), r.get("params")) for r in history] == [
        (None, {"loss": 1.0}, None),
        (None, None, {"lr": 0.1, "layers": [64, 32], "name": "mlp"}),
        (1, {"loss": 0.5}, None),
    ]


@pytest.mark.parametrize(
    ("logged", "expected"),
    [
        pytest.param([], {}, id="nothing"),
        pytest.param([{"loss": 1.0}], {"loss": 1.0}, id="one"),
        pytest.param(
            [{"loss": 1.0, "acc": 0.1}, {"loss": 0.5}, {"acc": 0.9, "lr": 3}],
            {"loss": 0.5, "acc": 0.9, "lr": 3.0},
            id="many",
        ),
    ],
)
def test_final_metrics_is_the_last_value_per_key(
    tracker: LocalTracker, logged: list[dict[str, float]], expected: dict[str, float]
) -> None:
    for step, metrics in enumerate(logged):
        tracker.log_metrics(metrics, step=step)

    final = tracker.final_metrics()

    assert final == expected
    assert all(type(value) is float for value in final.values())


def test_numpy_and_non_finite_values(tracker: LocalTracker) -> None:
    numpy_step: Any = np.int64(4)
    zero_d: Any = np.array(2.5)
    tracker.log_metrics(
        {"f32": np.float32(0.5), "i64": np.int64(7), "nan": math.nan, "inf": -math.inf},
        step=numpy_step,
    )
    tracker.log_metrics({"zero_d": zero_d, "flag": True})

    first, second = tracker.history()

    assert first["step"] == 4
    assert first["metrics"]["f32"] == 0.5
    assert first["metrics"]["i64"] == 7.0
    assert math.isnan(first["metrics"]["nan"])
    assert first["metrics"]["inf"] == -math.inf
    assert second["metrics"] == {"zero_d": 2.5, "flag": 1.0}
    assert tracker.final_metrics()["i64"] == 7.0


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        pytest.param({1: 0.5}, r"Metric name 1 \(int\) is not a non-empty string", id="int-key"),
        pytest.param({"": 0.5}, r"Metric name '' \(str\)", id="empty-key"),
        pytest.param({"loss": "0.5"}, r"Metric 'loss' has the value '0.5' \(str\)", id="str"),
        pytest.param({"loss": None}, r"Metric 'loss' has the value None", id="none"),
        pytest.param({"loss": 1 + 2j}, r"Metric 'loss' .* \(complex\)", id="complex"),
        pytest.param({"acc": [0.5]}, r"Metric 'acc' has the value \[0.5\] \(list\)", id="list"),
        pytest.param({"w": np.ones(3)}, r"Metric 'w' .* \(ndarray\)", id="array"),
        pytest.param([("loss", 0.5)], r"metrics must be a mapping .* not list", id="not-mapping"),
    ],
)
def test_bad_metrics_are_rejected_and_nothing_is_logged(
    tracker: LocalTracker, metrics: Any, message: str
) -> None:
    tracker.log_metrics({"ok": 1.0})

    with pytest.raises(MlvcError, match=message) as caught:
        tracker.log_metrics(metrics)

    assert caught.value.hint
    assert [r["metrics"] for r in tracker.history()] == [{"ok": 1.0}]
    assert tracker.final_metrics() == {"ok": 1.0}


@pytest.mark.parametrize(
    "step",
    [pytest.param(1.5, id="float"), pytest.param("3", id="str"), pytest.param(True, id="bool")],
)
def test_bad_step_is_rejected(tracker: LocalTracker, step: Any) -> None:
    with pytest.raises(MlvcError, match=r"The step .* is not a whole number"):
        tracker.log_metrics({"loss": 1.0}, step=step)


def test_bad_params_are_rejected(tracker: LocalTracker) -> None:
    with pytest.raises(MlvcError, match=r"Parameter name 3 \(int\)"):
        tracker.log_params({3: "x"})  # type: ignore[dict-item]
    with pytest.raises(MlvcError, match=r"params must be a mapping"):
        tracker.log_params(["lr"])  # type: ignore[arg-type]


def test_params_that_json_cannot_write_are_converted(tracker: LocalTracker) -> None:
    tracker.log_params(
        {"path": Path("data/train.csv"), "tags": {"b", "a"}, "lr": np.float64(0.1),
         "shape": np.zeros((2, 1))}
    )  # fmt: skip

    assert tracker.history()[0]["params"] == {
        "path": "data/train.csv",
        "tags": ["a", "b"],
        "lr": 0.1,
        "shape": [[0.0], [0.0]],
    }


def test_lines_are_written_in_batches(tracker: LocalTracker, metrics_path: Path) -> None:
    for step in range(BATCH_LINES - 1):
        tracker.log_metrics({"loss": 1.0}, step=step)
    assert metrics_path.stat().st_size == 0

    tracker.log_metrics({"loss": 1.0}, step=BATCH_LINES)

    assert len(metrics_path.read_text().splitlines()) == BATCH_LINES


def test_reopened_tracker_appends(metrics_path: Path) -> None:
    with LocalTracker(metrics_path, experiment_id="exp-1", run_id="one") as first:
        first.log_metrics({"loss": 1.0, "acc": 0.5}, step=0)

    with LocalTracker(metrics_path, experiment_id="exp-1", run_id="two") as second:
        second.log_metrics({"loss": 0.5}, step=1)
        history = second.history()
        final = second.final_metrics()

    assert [(r["run"], r["step"]) for r in history] == [("one", 0), ("two", 1)]
    assert final == {"loss": 0.5, "acc": 0.5}


def test_a_torn_last_line_is_skipped_and_not_glued_to(metrics_path: Path) -> None:
    metrics_path.parent.mkdir(parents=True)
    metrics_path.write_text('{"run":"old","step":0,"metrics":{"loss":1.0}}\n{"run":"old","st')

    with LocalTracker(metrics_path, experiment_id="exp-1", run_id="new") as tracker:
        tracker.log_metrics({"loss": 0.5}, step=1)
        history = tracker.history()
        final = tracker.final_metrics()

    assert [r["run"] for r in history] == ["old", "new"]
    assert final == {"loss": 0.5}


def test_closed_tracker_refuses_to_log(tracker: LocalTracker) -> None:
    tracker.log_metrics({"loss": 1.0})
    tracker.close()
    tracker.close()  # idempotent

    with pytest.raises(MlvcError, match="tracker of experiment 'exp-1' is closed"):
        tracker.log_metrics({"loss": 0.5})
    assert [r["metrics"] for r in tracker.history()] == [{"loss": 1.0}]


def test_garbage_collected_tracker_flushes(metrics_path: Path) -> None:
    tracker = LocalTracker(metrics_path, experiment_id="exp-1")
    tracker.log_metrics({"loss": 1.0})
    del tracker
    gc.collect()

    assert [r["metrics"] for r in read_records(metrics_path)] == [{"loss": 1.0}]


def test_atexit_flushes_a_tracker_that_was_never_flushed(metrics_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from mlvc_jupyter.core.tracking.local import LocalTracker
        tracker = LocalTracker(Path({str(metrics_path)!r}), experiment_id="e", run_id="r")
        for step in range(3):
            tracker.log_metrics({{"loss": 1.0 / (step + 1)}}, step=step)
        assert Path({str(metrics_path)!r}).stat().st_size == 0
        """
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)

    assert [r["step"] for r in read_records(metrics_path)] == [0, 1, 2]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork")
def test_forked_child_does_not_write_the_parents_queued_lines(
    tracker: LocalTracker, metrics_path: Path
) -> None:
    tracker.log_metrics({"loss": 1.0}, step=0)
    pid = os.fork()
    if pid == 0:  # the child: exits through atexit, which runs the finalizers
        tracker.log_metrics({"child": 1.0}, step=99)
        tracker.flush(fsync=False)
        os._exit(0)
    os.waitpid(pid, 0)

    steps = [r["step"] for r in tracker.history()]

    assert sorted(steps) == [0, 99]


def test_threads_lose_no_lines(tracker: LocalTracker) -> None:
    def train(offset: int) -> None:
        for step in range(offset, offset + 2000):
            tracker.log_metrics({"loss": 1.0}, step=step)

    def checkpoint() -> None:
        for _ in range(50):
            tracker.flush(fsync=False)

    threads = [threading.Thread(target=train, args=(k * 10_000,)) for k in range(3)]
    threads.append(threading.Thread(target=checkpoint))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    steps = [r["step"] for r in tracker.history()]

    assert len(steps) == 6000
    assert len(set(steps)) == 6000
    for k in range(3):  # one writer's lines stay in order
        own = [s for s in steps if k * 10_000 <= s < (k + 1) * 10_000]
        assert own == sorted(own)


def test_create_tracker_local(metrics_path: Path) -> None:
    tracker = create_tracker("local", path=metrics_path, experiment_id="exp-1", run_id="r")

    tracker.log_metrics({"loss": 1.0}, step=0)
    tracker.close()

    assert isinstance(tracker, LocalTracker)
    assert tracker.backend == "local"
    assert read_records(metrics_path)[0]["metrics"] == {"loss": 1.0}


def test_unknown_backend_lists_the_known_ones(metrics_path: Path) -> None:
    with pytest.raises(
        MlvcError,
        match=r"Unknown tracking backend 'nope'\. "
        r"Known backends: local, mlflow, tensorboard, wandb\.",
    ):
        create_tracker("nope", path=metrics_path, experiment_id="exp-1")

    assert not metrics_path.exists()


def test_backend_that_cannot_be_imported(
    monkeypatch: pytest.MonkeyPatch, metrics_path: Path
) -> None:
    monkeypatch.setitem(BACKENDS, "broken", "mlvc_jupyter.core.tracking.no_such_module:Tracker")

    with pytest.raises(MlvcError, match="tracking backend 'broken' cannot be loaded") as caught:
        create_tracker("broken", path=metrics_path, experiment_id="exp-1")

    assert "pip install mlvc-jupyter[broken]" in str(caught.value.hint)


def test_registry_is_lazy() -> None:
    code = (
        "import sys; import mlvc_jupyter.core.tracking;"
        "print('mlvc_jupyter.core.tracking.local' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, check=True, text=True
    )

    assert out.stdout.strip() == "False"


def test_write_error_keeps_lines_queued(
    monkeypatch: pytest.MonkeyPatch, tracker: LocalTracker
) -> None:
    tracker.log_metrics({"loss": 1.0}, step=0)
    real_write = os.write

    def full_disk(fd: int, data: Mapping[int, int]) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(MlvcError, match="No space left on device") as caught:
        tracker.flush()
    assert "still queued" in str(caught.value.hint)

    monkeypatch.setattr(os, "write", real_write)
    assert [r["step"] for r in tracker.history()] == [0]
