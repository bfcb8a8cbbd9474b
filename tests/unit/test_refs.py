"""Experiment ids and ref names: the allowlist, git's own rules, and clear messages."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlvc_jupyter.core.repo.refs import (
    experiment_ref,
    validate_branch_name,
    validate_experiment_id,
    validate_tag_name,
)
from mlvc_jupyter.errors import InvalidNameError


@pytest.mark.parametrize(
    "good",
    ["exp_001", "a", "A-b.c_d", "lr-0.1", "0", "x" * 100, "run.2026-11-26"],
    ids=["typical", "one-char", "mixed", "dots", "digit", "100-chars", "date"],
)
def test_accepts_valid_ids(good: str) -> None:
    assert validate_experiment_id(good) == good
    assert experiment_ref(good) == f"refs/mlvc/experiments/{good}"


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        ("../x", "only letters"),
        ("-x", "start with a letter or digit"),
        ("a..b", r"'\.\.'"),
        ("a b", "only letters"),
        ("", "empty"),
        ("x" * 101, "longer than 100"),
        ("head", "reserved"),
        ("HEAD", "reserved"),
        ("x.lock", r"\.lock"),
        ("x.", r"end in '\.'"),
        ("a/b", "only letters"),
        ("é", "only letters"),
        ("a\nb", "only letters"),
        ("a~1", "only letters"),
        ("--upload-pack=x", "start with a letter"),
    ],
    ids=[
        "traversal", "leading-dash", "double-dot", "space", "empty", "too-long", "head-lower",
        "head", "lock", "trailing-dot", "slash", "non-ascii", "newline", "tilde", "option",
    ],
)  # fmt: skip
def test_rejects_bad_ids_naming_the_rule(bad: str, rule: str) -> None:
    with pytest.raises(InvalidNameError, match=rule) as info:
        validate_experiment_id(bad)
    assert info.value.name == bad
    assert repr(bad[:37])[1:-1] in str(info.value) or bad == ""


def test_rejects_non_strings() -> None:
    with pytest.raises(InvalidNameError, match="must be a string"):
        validate_experiment_id(42)


@pytest.mark.parametrize("good", ["v1.0", "release/v1", "mlvc/exp_001"], ids=["v", "slash", "ns"])
def test_tag_and_branch_names(good: str) -> None:
    assert validate_tag_name(good) == good
    assert validate_branch_name(good) == good


@pytest.mark.parametrize(
    "bad", ["-f", "a//b", "a/.b", "x.lock", "@{u}", "a b", "/a", "a/"],
    ids=["dash", "empty-part", "dot-part", "lock", "reflog", "space", "leading-slash", "trailing"],
)  # fmt: skip
def test_bad_tag_names(bad: str) -> None:
    with pytest.raises(InvalidNameError, match="Invalid tag name"):
        validate_tag_name(bad)


def _git_accepts(name: str) -> bool:
    proc = subprocess.run(
        ["git", "check-ref-format", f"refs/mlvc/experiments/{name}"], capture_output=True
    )
    return proc.returncode == 0


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40) | st.from_regex(r"[A-Za-z0-9._\-/@{}~^:]{1,20}", fullmatch=True))
def test_never_accepts_what_git_rejects(name: str) -> None:
    try:
        validate_experiment_id(name)
    except InvalidNameError:
        return
    assert "\0" not in name
    assert _git_accepts(name)
