"""Recording starts git's own gc --auto in the background, so loose objects stay bounded."""

from __future__ import annotations

import hashlib

import pytest

from mlvc_jupyter.core.housekeeping.gc import count_objects
from mlvc_jupyter.core.manager import ExperimentManager
from tests.conftest import GitRepo


def _in_folder_17(seed: str) -> str:
    """Return file content whose blob lands in objects/17, the folder gc --auto samples.

    git estimates loose objects from that one folder; content chosen for it makes the test
    deterministic with a small limit instead of depending on the luck of the hashes.
    """
    for i in range(100_000):
        content = f"{seed}-{i}\n".encode()
        if hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest().startswith("17"):
            return content.decode()
    raise AssertionError("no content found")  # pragma: no cover - 1 in 256 per try


def _record(repo: GitRepo, every: int, checkpoints: int) -> dict[str, int]:
    repo.write({".mlvc.toml": f"gc-auto-every = {every}\ngc-auto-limit = 256\n"})
    manager = ExperimentManager(repo.path)
    manager.start("run")
    for step in range(checkpoints):
        repo.write({f"data/{step}-{n}.txt": _in_folder_17(f"{step}.{n}") for n in range(3)})
        manager.commit("run", message=f"step {step}")
        manager.auto_gc.wait()
    manager.end("run")
    manager.auto_gc.wait()
    return count_objects(manager.repo)


@pytest.mark.parametrize("every", [1, 4], ids=["every-checkpoint", "every-4th"])
def test_auto_gc_packs_loose_objects_in_the_background(git_repo: GitRepo, every: int) -> None:
    counts = _record(git_repo, every, 12)
    assert counts["packs"] >= 1
    assert counts["count"] < 60  # 12 checkpoints write about 90 loose objects without it


def test_auto_gc_off_leaves_every_object_loose(git_repo: GitRepo) -> None:
    counts = _record(git_repo, 0, 12)
    assert counts["packs"] == 0
    assert counts["count"] >= 60


def test_a_quiet_repository_starts_no_git_process(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("a")
    manager.auto_gc.wait()
    assert manager.auto_gc.runs == 0  # under the limit: the estimate alone, no git gc
