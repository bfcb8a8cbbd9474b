"""The experiment writer: ref locks left by killed writers, ending, tagging, and errors."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.errors import MlvcError
from tests.conftest import GitRepo


def _lock(repo: GitRepo, experiment_id: str, *, age: float) -> Path:
    """Leave ``refs/mlvc/experiments/<id>.lock`` as a writer killed ``age`` seconds ago would."""
    lock = repo.path / ".git" / "refs" / "mlvc" / "experiments" / f"{experiment_id}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")
    then = time.time() - age
    os.utime(lock, (then, then))
    return lock


def _tip(repo: GitRepo, experiment_id: str) -> str:
    return repo.git("rev-parse", "-q", "--verify", f"refs/mlvc/experiments/{experiment_id}")


# -- item: a SIGKILL during update-ref leaves a lock ---------------------------------------------


def test_a_lock_older_than_five_seconds_is_stale_and_removed(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("e1")
    lock = _lock(git_repo, "e1", age=10)
    manager.writer.max_wait = 2.0  # the stale lock is cleared at once; no waiting is needed
    assert manager.commit("e1", message="after a kill").seq == 2
    assert not lock.exists()


def test_a_stale_lock_on_a_new_experiment_does_not_block_its_start(git_repo: GitRepo) -> None:
    lock = _lock(git_repo, "e1", age=10)
    manager = ExperimentManager(git_repo.path)
    manager.writer.max_wait = 2.0
    assert manager.start("e1").seq == 1
    assert not lock.exists()


@pytest.mark.slow
def test_a_lock_left_by_a_killed_writer_delays_the_next_checkpoint_only_briefly(
    git_repo: GitRepo,
) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("e1")
    lock = _lock(git_repo, "e1", age=0)  # just killed: the lock is fresh
    assert manager.commit("e1", message="next").seq == 2  # lands once the lock turns stale
    assert not lock.exists()


def test_a_fresh_lock_is_never_removed(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("e1")
    lock = _lock(git_repo, "e1", age=0)
    manager.writer.max_wait = 0.5
    with pytest.raises(MlvcError, match=r"e1\.lock has been held for 0\.5 s") as info:
        manager.commit("e1")
    assert "once they are 5 s old" in str(info.value)
    assert lock.exists()
    assert manager.history("e1")[-1].seq == 1
