"""Input checked once, where it enters core: ids, tags, paths, messages and config keys.

Every public method of the manager that takes an id refuses a bad one with InvalidNameError;
the layers below trust it. Tags may not collide by case or with a branch. NUL bytes and lone
surrogates give an MlvcError quoting the input, never a ValueError or UnicodeEncodeError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.errors import InvalidNameError
from tests.conftest import GitRepo

BAD_ID = "exp\n"

CALLS: dict[str, Callable[[ExperimentManager], Any]] = {
    "start": lambda m: m.start(BAD_ID),
    "commit": lambda m: m.commit(BAD_ID),
    "end": lambda m: m.end(BAD_ID),
    "get": lambda m: m.get(BAD_ID),
    "show": lambda m: m.show(BAD_ID),
    "history": lambda m: m.history(BAD_ID),
    "diff-a": lambda m: m.diff(BAD_ID, "e1"),
    "diff-b": lambda m: m.diff("e1", BAD_ID),
    "tag": lambda m: m.tag(BAD_ID, "t"),
    "branch": lambda m: m.branch(BAD_ID),
    "reproduce": lambda m: m.reproduce(BAD_ID),
    "export": lambda m: m.export(BAD_ID),
    "tracker": lambda m: m.tracker(BAD_ID),
}


@pytest.fixture
def manager(git_repo: GitRepo) -> ExperimentManager:
    manager = ExperimentManager(git_repo.path)
    manager.start("e1")
    manager.end("e1", tag="good")
    return manager


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_every_entry_point_refuses_a_bad_id(
    manager: ExperimentManager, git_repo: GitRepo, call: Callable[[ExperimentManager], Any]
) -> None:
    refs_before = git_repo.git("for-each-ref")
    with pytest.raises(InvalidNameError, match=r"Invalid experiment id 'exp\\n'"):
        call(manager)
    assert git_repo.git("for-each-ref") == refs_before


@pytest.mark.parametrize(
    ("tag", "rule"),
    [("Good", "differs only by case"), ("main", "name of a branch"), ("v1\n", "Invalid tag")],
    ids=["case-fold", "branch", "newline"],
)
def test_end_refuses_a_colliding_tag_before_recording(
    manager: ExperimentManager, git_repo: GitRepo, tag: str, rule: str
) -> None:
    manager.start("e2")
    tip = git_repo.git("rev-parse", "refs/mlvc/experiments/e2")
    with pytest.raises(InvalidNameError, match=rule):
        manager.end("e2", tag=tag)
    assert git_repo.git("rev-parse", "refs/mlvc/experiments/e2") == tip
    with pytest.raises(InvalidNameError, match=rule):
        manager.tag("e1", tag, force=True)
    assert git_repo.git("tag", "--list").split() == ["good"]
