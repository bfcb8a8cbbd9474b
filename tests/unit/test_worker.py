"""The background checkpoint worker: coalescing, ordering, errors, shutdown."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import mlvc_jupyter
from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.recording.worker import MESSAGE_SEPARATOR, CommitWorker, wait_all, worker_for
from mlvc_jupyter.errors import ExperimentExistsError, ExperimentNotFoundError, MlvcError

ROOT = Path(mlvc_jupyter.__file__).parents[1]


@pytest.fixture
def manager(git_repo: Any) -> ExperimentManager:
    manager = ExperimentManager(git_repo.path)
    manager.start("exp", configs={"lr": 0.1})
    return manager


@pytest.fixture
def worker(manager: ExperimentManager) -> Iterator[CommitWorker]:
    worker = CommitWorker(manager)
    yield worker
    worker.wait(timeout=60)


class Gate:
    """Hold the worker inside its first manager.commit until released."""

    def __init__(self, manager: ExperimentManager, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        real = manager.commit

        def gated(*args: Any, **kwargs: Any) -> Any:
            self.entered.set()
            assert self.release.wait(30), "the test never released the gate"
            return real(*args, **kwargs)

        monkeypatch.setattr(manager, "commit", gated)


@pytest.fixture
def gate(manager: ExperimentManager, monkeypatch: pytest.MonkeyPatch) -> Gate:
    return Gate(manager, monkeypatch)


def _messages(manager: ExperimentManager, experiment_id: str = "exp") -> list[str]:
    """Return the messages of the checkpoints after the first (start) one."""
    return [c.message for c in manager.history(experiment_id)[1:]]


@pytest.mark.parametrize("count", [0, 1, 50], ids=["none", "one", "burst-of-50"])
def test_submits_are_all_recorded_in_order(
    manager: ExperimentManager, worker: CommitWorker, count: int
) -> None:
    for i in range(count):
        worker.submit("exp", message=f"step {i}")
    worker.wait(timeout=60)

    messages = _messages(manager)
    absorbed = [m for message in messages for m in message.split(MESSAGE_SEPARATOR)]
    assert absorbed == [f"step {i}" for i in range(count)]
    assert len(messages) == worker.recorded
    if count == 50:
        assert len(messages) <= 5, messages  # a burst coalesces into a few checkpoints


def test_a_burst_during_a_checkpoint_becomes_one_checkpoint(
    manager: ExperimentManager, worker: CommitWorker, gate: Gate
) -> None:
    worker.submit("exp", message="step 0")
    assert gate.entered.wait(30)
    for i in range(1, 50):
        worker.submit("exp", message=f"step {i}")
    assert worker.pending == 50
    gate.release.set()
    worker.wait(timeout=60)

    expected_burst = MESSAGE_SEPARATOR.join(f"step {i}" for i in range(1, 50))
    assert _messages(manager) == ["step 0", expected_burst]
    assert worker.pending == 0


def test_coalescing_keeps_the_newest_configs_and_details_once(
    manager: ExperimentManager, worker: CommitWorker, gate: Gate
) -> None:
    calls: list[int] = []

    def details(n: int) -> Callable[[], dict[str, Any]]:
        return lambda: calls.append(n) or {"n": n}

    worker.submit("exp", message="first")
    assert gate.entered.wait(30)
    worker.submit("exp", message="a", configs={"lr": 1}, details=details(1))
    worker.submit("exp", message="b", configs={"lr": 2}, details=details(2))
    worker.submit("exp", message="c", details=details(3))
    gate.release.set()
    worker.wait(timeout=60)

    record = manager.show("exp")
    assert record.summary.message == "a; b; c"
    assert record.configs == {"lr": 2}
    assert record.details == {"n": 3}
    assert calls == [3]  # absorbed requests' details are never computed


def test_experiments_are_coalesced_separately(git_repo: Any) -> None:
    manager = ExperimentManager(git_repo.path)
    for experiment_id in ("a", "b"):
        manager.start(experiment_id)
    worker = CommitWorker(manager)
    for i in range(10):
        worker.submit("a" if i % 2 else "b", message=f"m{i}")
    worker.wait(timeout=60)

    for experiment_id, first in (("a", 1), ("b", 0)):
        joined = MESSAGE_SEPARATOR.join(_messages(manager, experiment_id))
        assert joined.split(MESSAGE_SEPARATOR) == [f"m{i}" for i in range(first, 10, 2)]


def test_a_background_error_is_raised_by_wait_once(
    manager: ExperimentManager, worker: CommitWorker
) -> None:
    worker.submit("ghost", message="lost?")
    with pytest.raises(MlvcError, match="background checkpoint of 'ghost' failed") as info:
        worker.wait(timeout=60)
    assert "%vc_start ghost" in (info.value.hint or "")
    worker.wait(timeout=60)  # raised once, then forgotten

    worker.submit("exp", message="after the error")
    worker.wait(timeout=60)
    assert _messages(manager) == ["after the error"]


def test_a_background_error_keeps_its_class_and_attributes(
    manager: ExperimentManager, worker: CommitWorker
) -> None:
    worker.submit("ghost", message="lost?")
    worker.submit("other-ghost", message="lost too")
    with pytest.raises(ExperimentNotFoundError, match="'ghost' failed: .*1 more failed") as info:
        worker.wait(timeout=60)
    assert info.value.experiment_id == "ghost"
    manager.end("exp")
    worker.submit("exp", message="after the end")
    with pytest.raises(ExperimentExistsError, match=r"'exp' failed: .*has ended \(success\)"):
        worker.wait(timeout=60)


@pytest.mark.parametrize(
    ("failures", "suffix"),
    [(1, r"boom\n"), (3, r"boom \(2 more failed after it\)\n")],
    ids=["one-failure", "many-failures"],
)
def test_non_mlvc_errors_are_wrapped_and_counted(
    worker: CommitWorker, failures: int, suffix: str
) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("boom")

    for i in range(failures):
        worker.submit(f"e{i}", details=broken)  # distinct ids: never coalesced
    with pytest.raises(MlvcError, match=f"failed: RuntimeError: {suffix}") as info:
        worker.wait(timeout=60)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_wait_times_out_without_losing_the_queue(
    manager: ExperimentManager, worker: CommitWorker, gate: Gate
) -> None:
    worker.submit("exp", message="slow")
    assert gate.entered.wait(30)
    with pytest.raises(MlvcError, match=r"1 background checkpoint\(s\) were still being recorded"):
        worker.wait(timeout=0.05)
    gate.release.set()
    worker.wait(timeout=60)
    assert _messages(manager) == ["slow"]


def test_the_thread_runs_only_while_there_is_work(worker: CommitWorker, gate: Gate) -> None:
    worker.submit("exp", message="one")
    assert gate.entered.wait(30)
    name = f"mlvc-commit-worker:{worker.manager.root}"
    (thread,) = [t for t in threading.enumerate() if t.name == name]
    gate.release.set()
    worker.wait(timeout=60)
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_worker_for_is_one_per_repository(git_repo: Any, empty_repo: Any) -> None:
    manager = ExperimentManager(git_repo.path)
    other = ExperimentManager(empty_repo.path)
    assert worker_for(manager) is worker_for(manager)
    assert worker_for(manager) is not worker_for(other)
    assert worker_for(manager).manager is manager
    wait_all(timeout=60)


def test_interpreter_exit_drains_the_queue(git_repo: Any) -> None:
    ExperimentManager(git_repo.path).start("exp")
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from mlvc_jupyter.core.manager import ExperimentManager
        from mlvc_jupyter.core.recording.worker import worker_for
        worker = worker_for(ExperimentManager({str(git_repo.path)!r}))
        for i in range(5):
            worker.submit("exp", message=f"queued {{i}}")
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)

    history = ExperimentManager(git_repo.path).history("exp")
    absorbed = MESSAGE_SEPARATOR.join(c.message for c in history[1:]).split(MESSAGE_SEPARATOR)
    assert absorbed == [f"queued {i}" for i in range(5)]


def test_an_error_at_exit_is_reported_on_stderr(git_repo: Any) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from mlvc_jupyter.core.manager import ExperimentManager
        from mlvc_jupyter.core.recording.worker import worker_for
        worker_for(ExperimentManager({str(git_repo.path)!r})).submit("never-started")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert "background checkpoint of 'never-started' failed" in proc.stderr
