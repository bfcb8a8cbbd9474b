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
from mlvc_jupyter.errors import InvalidNameError, MlvcError
from tests.conftest import GitRepo

BAD_ID = "exp\n"

CALLS: dict[str, Callable[[ExperimentManager], Any]] = {
    "start": lambda m: m.start(BAD_ID),
    "commit": lambda m: m.commit(BAD_ID),
    "end": lambda m: m.end(BAD_ID),
    "summary": lambda m: m.summary(BAD_ID),
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


NUL_CALLS: dict[str, Callable[[ExperimentManager], Any]] = {
    "reproduce": lambda m: m.reproduce("e1", path="a\0b"),
    "config_changes": lambda m: m.config_changes("a\0b"),
    "file_info": lambda m: m.file_info("a\0b"),
    "load_configs": lambda m: m.load_configs("a\0b"),
    "restore": lambda m: m.restore("a\0b"),
    "open": lambda m: ExperimentManager("a\0b", init=True),
}


@pytest.mark.parametrize("call", NUL_CALLS.values(), ids=NUL_CALLS.keys())
def test_a_nul_byte_in_a_path_is_an_mlvc_error_quoting_it(
    manager: ExperimentManager, call: Callable[[ExperimentManager], Any]
) -> None:
    with pytest.raises(MlvcError, match=r"'a\\x00b'"):
        call(manager)


SURROGATE_CALLS: dict[str, Callable[[ExperimentManager], Any]] = {
    "start-message": lambda m: m.start("e2", message="loss \udcff"),
    "start-name": lambda m: m.start("e2", name="run \udcff"),
    "commit-message": lambda m: m.commit("e1", message="loss \udcff"),
    "end-message": lambda m: m.end("e1", message="loss \udcff"),
    "config-key": lambda m: m.start("e2", configs={"lr\udcff": 0.1}),
    "nested-key": lambda m: m.start("e2", configs={"model": {"\udcff": 1}}),
    "config-value": lambda m: m.start("e2", configs={"path": "data/\udcff.csv"}),
    "snapshot": lambda m: m.save_configs({"\udcff": 1}),
}


@pytest.mark.parametrize("call", SURROGATE_CALLS.values(), ids=SURROGATE_CALLS.keys())
def test_a_lone_surrogate_is_an_mlvc_error_quoting_it(
    manager: ExperimentManager, git_repo: GitRepo, call: Callable[[ExperimentManager], Any]
) -> None:
    refs_before = git_repo.git("for-each-ref")
    with pytest.raises(MlvcError, match=r"\\udcff.*lone surrogate"):
        call(manager)
    assert git_repo.git("for-each-ref") == refs_before
