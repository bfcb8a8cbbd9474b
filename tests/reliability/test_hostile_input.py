"""Hostile input: ids, tags, branches, paths and messages from an attacker or a typo.

Guards: mlvc never accepts a name that ``git check-ref-format`` rejects (the oracle), a
rejection is an ``MlvcError`` quoting the input (never a ValueError or UnicodeEncodeError),
and no exploit string creates a marker file or writes outside the project.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlvc_jupyter import ExperimentManager, InvalidNameError, MlvcError
from tests.conftest import GitRepo
from tests.reliability.conftest import (
    Counts,
    Invariants,
    assert_clear_error,
    expect_error,
    git_run,
    run_mlvc,
)

# -- the differential oracle ----------------------------------------------------------------------

_ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs",))
_NAMES = st.one_of(
    st.text(_ALPHABET, max_size=30),
    st.text(st.sampled_from("aZ09._-/@{}^~:?*[\\ \n\t\x7f"), max_size=12),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,20}\n?", fullmatch=True),
)
_SUSPECTS = [
    "a\n",
    "v1\n",
    "exp\n",
    "a.lock",
    "a..b",
    "-rf",
    "a/",
    "@",
    "HEAD",
    "a\x00b",
    "é",
]


def git_accepts(full_ref: str) -> bool:
    """Return True if ``git check-ref-format`` accepts ``full_ref``."""
    if "\x00" in full_ref:
        return False
    proc = subprocess.run(["git", "check-ref-format", full_ref], capture_output=True, check=False)
    return proc.returncode == 0


def _accepted(call: Callable[[], object], name: str) -> bool:
    """Return False if ``call`` rejected ``name`` as invalid (asserting the error is clear)."""
    try:
        call()
    except InvalidNameError as exc:
        assert_clear_error(exc, quoting=name)
        return False
    except MlvcError:  # valid name, but no such experiment or branch
        return True
    return True


@pytest.fixture(scope="module")
def oracle_repo(tmp_path_factory: pytest.TempPathFactory) -> ExperimentManager:
    """A repository where names are tried; nothing in it is ever created by the tries."""
    path = tmp_path_factory.mktemp("oracle") / "repo"
    path.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    repo = GitRepo(path)
    repo.write({"a.txt": "a\n"})
    repo.git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "init", "--allow-empty")
    return ExperimentManager(path, init=False)


def _oracle_settings(counts: Counts) -> settings:
    return settings(
        max_examples=counts.examples,
        deadline=None,
        derandomize=not counts.full,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def _check_kind(manager: ExperimentManager, counts: Counts, kind: str) -> None:
    """Run the oracle property for ``kind`` (id, tag or branch) with the run's example count."""
    prefix, call = {
        "id": ("refs/mlvc/experiments/", lambda n: manager.commit(n)),
        "tag": ("refs/tags/", lambda n: manager.end("no-such-experiment", tag=n)),
        "branch": ("refs/heads/", lambda n: manager.switch(n)),
    }[kind]

    @_oracle_settings(counts)
    @given(_NAMES)
    @example("a\n")
    @example("main\n")
    def prop(name: str) -> None:
        accepted = _accepted(lambda: call(name), name)
        assert not accepted or git_accepts(prefix + name), f"{kind} {name!r}: git rejects it"

    prop()


def test_ids_never_accept_what_git_rejects(oracle_repo: ExperimentManager, counts: Counts) -> None:
    """Experiment ids: nothing ``git check-ref-format refs/mlvc/experiments/<id>`` rejects."""
    _check_kind(oracle_repo, counts, "id")


def test_tags_never_accept_what_git_rejects(oracle_repo: ExperimentManager, counts: Counts) -> None:
    """Tag names: nothing ``git check-ref-format refs/tags/<tag>`` rejects."""
    _check_kind(oracle_repo, counts, "tag")


def test_branches_never_accept_what_git_rejects(
    oracle_repo: ExperimentManager, counts: Counts
) -> None:
    """Branch names: nothing ``git check-ref-format refs/heads/<branch>`` rejects."""
    _check_kind(oracle_repo, counts, "branch")


@pytest.mark.parametrize("name", _SUSPECTS)
def test_rejected_ids_are_quoted_in_a_clear_error(
    oracle_repo: ExperimentManager, name: str
) -> None:
    """A rejected id gives an MlvcError that quotes it; an accepted one is one git accepts."""
    if git_accepts(f"refs/mlvc/experiments/{name}") and name[:1].isalnum():
        pytest.skip("a valid id")
    expect_error(lambda: oracle_repo.start(name), quoting=name)


# -- tag rules that git alone does not give -------------------------------------------------------


def test_tag_differing_only_by_case_is_refused(invariants: Invariants) -> None:
    """Tags, like ids, are refused when they differ only by case from an existing one."""
    manager = ExperimentManager(invariants.path, init=False)
    invariants.ack("a", manager.start("a").commit)
    invariants.ack("a", manager.end("a", tag="Good").commit)
    manager.start("b")
    before = manager.history("b")
    expect_error(lambda: manager.end("b", tag="good"), quoting="good")
    assert manager.history("b") == before, "the failed end recorded a checkpoint"


def test_tag_named_like_a_branch_is_refused(invariants: Invariants) -> None:
    """A tag named after an existing branch makes ``git log main`` ambiguous: refused."""
    manager = ExperimentManager(invariants.path, init=False)
    invariants.ack("a", manager.start("a").commit)
    expect_error(lambda: manager.end("a", tag="main"), quoting="main")
    invariants.check(next_call="a")


# -- exploit strings ------------------------------------------------------------------------------

EXPLOITS = [
    "--upload-pack=touch {marker}",
    "ext::sh -c touch% {marker}",
    "--output={marker}",
    "-c core.pager=touch {marker}",
    "-c",
    "--exec=touch {marker}",
    "../../{name}",
    "a\nb",
    "..",
]


def _entry_points(manager: ExperimentManager) -> dict[str, Callable[[str], object]]:
    return {
        "start": lambda s: manager.start(s),
        "commit": lambda s: manager.commit(s),
        "show": lambda s: manager.show(s),
        "diff": lambda s: manager.diff("a", s),
        "end-tag": lambda s: manager.end("a", tag=s),
        "tag": lambda s: manager.tag("a", s),
        "switch": lambda s: manager.switch(s),
        "reproduce": lambda s: _reproduce_literally(manager, s),
        "file_info": lambda s: manager.file_info(s),
        "config_changes": lambda s: manager.config_changes(s),
        "restore": lambda s: manager.restore(s),
    }


def _reproduce_literally(manager: ExperimentManager, value: str) -> None:
    """Reproduce into the folder ``value`` names; a folder inside the project is allowed (issue
    11), so when it is made it must be that literal folder (never an option), kept out of git
    status, and it is removed again so the other invariants still hold."""
    path = manager.reproduce("a", path=value)
    assert path == Path(value).absolute(), f"reproduce({value!r}) went to {path}"
    assert manager.repo.is_inside(path)  # outside the project, _outside_listing catches it
    status = git_run(manager.root, "status", "--porcelain").stdout.decode()
    assert status == "", f"the reproduction {value!r} shows in git status: {status}"
    git_run(manager.root, "worktree", "remove", "--force", str(path))
    for parent in path.relative_to(manager.root).parents[:-1]:  # empty folders it made
        (manager.root / parent).rmdir()


def _outside_listing(root: Path, repo: Path) -> set[str]:
    return {str(p) for p in root.rglob("*") if repo not in p.parents and p != repo}


@pytest.mark.parametrize("template", EXPLOITS)
def test_exploit_strings_run_nothing_and_write_nothing_outside(
    invariants: Invariants, tmp_path: Path, template: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every entry point refuses each exploit string with an MlvcError; no marker appears."""
    marker = tmp_path / "marker"
    value = template.format(marker=marker, name=tmp_path.name)
    manager = ExperimentManager(invariants.path, init=False)
    invariants.ack("a", manager.start("a").commit)
    monkeypatch.chdir(invariants.path)
    outside = _outside_listing(tmp_path, invariants.path)
    for name, call in _entry_points(manager).items():
        try:
            call(value)
        except MlvcError:
            pass
        except Exception as exc:  # noqa: BLE001  # any other type is the failure
            pytest.fail(f"{name}({value!r}) raised {type(exc).__name__}: {exc}")
        assert not marker.exists(), f"{name}({value!r}) ran a command"
    assert _outside_listing(tmp_path, invariants.path) == outside, "something was written outside"
    invariants.check(next_call="a")


def test_cli_exploit_strings_run_nothing(git_repo: GitRepo, tmp_path: Path) -> None:
    """The CLI passes hostile ids, tags and dirs to no git option: clear error, no marker."""
    marker = tmp_path / "marker"
    assert run_mlvc(git_repo.path, "start", "a").returncode == 0
    for template in EXPLOITS[:4]:
        value = template.format(marker=marker)
        for args in (["start", value], ["end", "a", "--tag", value], ["show", value]):
            proc = run_mlvc(git_repo.path, *args)
            assert "Traceback" not in proc.stderr, proc.stderr
            assert not marker.exists(), f"mlvc {args} ran a command"


# -- raw tracebacks (issue 8 item 8) --------------------------------------------------------------

NUL_CALLS = {
    "reproduce": lambda m: m.reproduce("a", path="a\0b"),
    "config_changes": lambda m: m.config_changes("a\0b"),
    "file_info": lambda m: m.file_info("a\0b"),
}


@pytest.mark.parametrize("call", NUL_CALLS.values(), ids=NUL_CALLS.keys())
def test_nul_byte_in_a_path_is_a_clear_error(invariants: Invariants, call: Callable) -> None:
    """A path with a NUL byte gives an MlvcError quoting it, not ``ValueError``."""
    manager = ExperimentManager(invariants.path, init=False)
    invariants.ack("a", manager.start("a").commit)
    expect_error(lambda: call(manager), quoting="a\0b")
    invariants.check(next_call="a")


def test_nul_byte_in_the_project_path_is_a_clear_error(tmp_path: Path) -> None:
    """Opening a project at a path with a NUL byte gives an MlvcError quoting it."""
    expect_error(lambda: ExperimentManager(str(tmp_path / "a\0b")), quoting="a\0b")


SURROGATES = {
    "message": lambda m: m.commit("a", message="loss \udc80"),
    "config-key": lambda m: m.commit("a", configs={"lr\udc80": 1}),
    "config-value": lambda m: m.commit("a", configs={"lr": "x\ud800"}),
}


@pytest.mark.parametrize("call", SURROGATES.values(), ids=SURROGATES.keys())
def test_lone_surrogate_is_a_clear_error(invariants: Invariants, call: Callable) -> None:
    """A lone surrogate in a message or config gives an MlvcError, and records nothing."""
    manager = ExperimentManager(invariants.path, init=False)
    invariants.ack("a", manager.start("a").commit)
    expect_error(lambda: call(manager))
    assert len(manager.history("a")) == 1, "a checkpoint was recorded anyway"
    invariants.check(next_call="a")
