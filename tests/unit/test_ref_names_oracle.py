"""Ids, tags and branch names against `git check-ref-format` as the oracle.

A name mlvc accepts must be one git accepts in the ref it becomes; a probe found ids, tags and
branches ending in a newline that slipped through a `$` anchor. The strategy builds names from
the pieces git's rules are about, so near-valid names (the dangerous ones) are common.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlvc_jupyter.core.repo.refs import (
    ExperimentRef,
    validate_branch_name,
    validate_experiment_id,
    validate_tag_name,
)
from mlvc_jupyter.errors import InvalidNameError

_PIECES = [
    "a", "Z", "0", "x1", "v1", ".", "..", "-", "_", "/", "//", "@", "@{", "{", "}", "~", "^",
    ":", "?", "*", "[", "\\", " ", "\n", "\r", "\t", "\x7f", "\x01", ".lock", "lock", "HEAD",
    "é", "\u200b",
]  # fmt: skip
NAMES = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=8).map("".join) | st.text(
    max_size=30
)


def git_accepts(ref: str) -> bool:
    if "\0" in ref:  # cannot even be passed to git
        return False
    return subprocess.run(["git", "check-ref-format", ref], capture_output=True).returncode == 0


def accepted(validate: Callable[[object], str], name: str) -> bool:
    try:
        assert validate(name) == name
    except InvalidNameError:
        return False
    return True


@pytest.mark.parametrize(
    ("validate", "prefix"),
    [
        (validate_experiment_id, "refs/mlvc/experiments/"),
        (validate_tag_name, "refs/tags/"),
        (validate_branch_name, "refs/heads/"),
    ],
    ids=["id", "tag", "branch"],
)
@pytest.mark.parametrize("suffix", ["\n", "\r\n", "\t", " "], ids=["lf", "crlf", "tab", "space"])
def test_a_trailing_control_character_is_refused(
    validate: Callable[[object], str], prefix: str, suffix: str
) -> None:
    with pytest.raises(InvalidNameError, match="Invalid"):
        validate("good" + suffix)
    assert not git_accepts(prefix + "good" + suffix)


@settings(max_examples=700, deadline=None)
@given(NAMES)
def test_ids_git_rejects_are_refused(name: str) -> None:
    if accepted(validate_experiment_id, name):
        assert git_accepts(f"refs/mlvc/experiments/{name}"), name
        assert git_accepts(f"refs/heads/{ExperimentRef.parse(name).branch}"), name


@settings(max_examples=700, deadline=None)
@given(NAMES)
def test_tags_git_rejects_are_refused(name: str) -> None:
    if accepted(validate_tag_name, name):
        assert git_accepts(f"refs/tags/{name}"), name


@settings(max_examples=700, deadline=None)
@given(NAMES)
def test_branches_git_rejects_are_refused(name: str) -> None:
    if accepted(validate_branch_name, name):
        assert git_accepts(f"refs/heads/{name}"), name
