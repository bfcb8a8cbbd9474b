"""Experiment ids and ref names: the allowlist, git's own rules, and clear messages."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlvc_jupyter.core.repo.refs import (
    ExperimentRef,
    validate_branch_name,
    validate_experiment_id,
    validate_new_tag,
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
    assert ExperimentRef.parse(good).ref == f"refs/mlvc/experiments/{good}"


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


def test_experiment_ref_names_every_ref_of_an_experiment() -> None:
    refs = ExperimentRef.parse("lr-0.1")
    assert (refs.id, refs.ref) == ("lr-0.1", "refs/mlvc/experiments/lr-0.1")
    assert (refs.branch, refs.branch_ref) == ("mlvc/lr-0.1", "refs/heads/mlvc/lr-0.1")
    with pytest.raises(InvalidNameError, match="Invalid experiment id 'lr\\\\n'"):
        ExperimentRef.parse("lr\n")


@pytest.mark.parametrize(
    ("tag", "rule"),
    [("Good", "only by case from the existing tag 'good'"), ("main", "name of a branch")],
    ids=["case-fold", "branch-name"],
)
def test_new_tags_may_not_collide_by_case_or_with_a_branch(tag: str, rule: str) -> None:
    existing = ["refs/tags/good", "refs/heads/main"]
    with pytest.raises(InvalidNameError, match=rule):
        validate_new_tag(tag, existing)
    assert validate_new_tag("good", existing) == "good"  # moving the same tag is allowed
    assert validate_new_tag("better", existing) == "better"
