"""How an experiment name with a remote (``origin/e1``) resolves to its ref, and what is refused."""

from __future__ import annotations

import pytest

from mlvc_jupyter.core.repo.refs import ExperimentRef, validate_remote_name
from mlvc_jupyter.errors import InvalidNameError


@pytest.mark.parametrize(
    ("name", "ref"),
    [
        ("e1", "refs/mlvc/experiments/e1"),
        ("origin/e1", "refs/mlvc/remotes/origin/experiments/e1"),
        ("team.b/lr-0.1", "refs/mlvc/remotes/team.b/experiments/lr-0.1"),
    ],
    ids=["local", "origin", "dotted-remote"],
)
def test_a_name_resolves_to_its_ref(name: str, ref: str) -> None:
    resolved = ExperimentRef.parse_name(name)
    assert resolved.ref == ref
    assert resolved.name == name


@pytest.mark.parametrize(
    "name", ["../x", "a/b/c", "-x/e1", "origin/", "/e1", "origin/..", "ext::x/e1"],
    ids=["dotdot", "two-slashes", "dash-remote", "no-id", "no-remote", "dotdot-id", "ext"],
)  # fmt: skip
def test_names_that_are_not_experiments_are_refused(name: str) -> None:
    with pytest.raises(InvalidNameError, match="Invalid experiment id"):
        ExperimentRef.parse_name(name)


@pytest.mark.parametrize(
    "remote", ["--upload-pack=x", "ext::sh", "a b", "o\nx", "$HOME", "", ".hidden", "x.lock"]
)
def test_remote_names_that_git_could_misread_are_refused(remote: str) -> None:
    with pytest.raises(InvalidNameError, match="Invalid remote name"):
        validate_remote_name(remote)
