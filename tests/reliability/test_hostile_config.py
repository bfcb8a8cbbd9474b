"""Repository configuration that runs programs, and end() failing after the ref moved.

Guards (issue 8 items 6 and 9): fsmonitor, hooks and textconv never run for mlvc's own
calls; a failing clean filter fails the checkpoint naming the filter and the file, with the
ref unchanged; smudge runs in reproduction; a tag that cannot be made (bad name, broken
gpg) is found before the final checkpoint is recorded, so a retry duplicates nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlvc_jupyter import ExperimentManager
from tests.conftest import GitRepo
from tests.reliability.conftest import Invariants, checkpoint_count, expect_error, ref_of


@pytest.fixture
def started(invariants: Invariants) -> Invariants:
    """``invariants`` with experiment ``e1`` started."""
    invariants.ack("e1", ExperimentManager(invariants.path, init=False).start("e1").commit)
    return invariants


def test_fsmonitor_and_hooks_never_run(git_repo: GitRepo, tmp_path: Path) -> None:
    """core.fsmonitor and every hook (reference-transaction too) stay silent for mlvc's calls."""
    marker = tmp_path / "marker"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for hook in ("reference-transaction", "post-checkout", "pre-commit", "post-commit"):
        (hooks / hook).write_text(f"#!/bin/sh\necho {hook} >> {marker}\n")
        (hooks / hook).chmod(0o755)
    inv = Invariants(git_repo)  # before the config: the test's own `git status` obeys it
    git_repo.git("config", "core.hooksPath", str(hooks))
    git_repo.git("config", "core.fsmonitor", f"echo fsmonitor >> {marker}; false")
    manager = ExperimentManager(git_repo.path, init=False)
    inv.ack("e1", manager.start("e1").commit)
    inv.ack("e1", manager.end("e1", tag="done").commit)
    manager.reproduce("e1", path=tmp_path / "repro")
    assert not marker.exists(), marker.read_text()
    git_repo.git("config", "--unset", "core.fsmonitor")
    inv.check()


def _clean_filter(repo: GitRepo, command: str) -> None:
    repo.write({".gitattributes": "*.py filter=hostile\n"})
    repo.git("config", "filter.hostile.clean", command)
    repo.git("config", "filter.hostile.required", "true")
    repo.commit("filter")


def test_failing_clean_filter_is_named_and_the_ref_stays(git_repo: GitRepo) -> None:
    """A failing required clean filter: an error naming filter and file; nothing recorded."""
    manager = ExperimentManager(git_repo.path, init=False)
    _clean_filter(git_repo, "cat")
    inv = Invariants(git_repo)
    inv.ack("e1", manager.start("e1").commit)
    git_repo.git("config", "filter.hostile.clean", "sh -c 'exit 3'")
    (git_repo.path / "train.py").write_text("print('edited')\n")
    before = ref_of(git_repo.path, "e1")
    expect_error(lambda: manager.commit("e1"), mentions=["hostile", "train.py"])
    assert ref_of(git_repo.path, "e1") == before
    (git_repo.path / "train.py").write_text("print('train')\n")


def test_clean_filter_output_is_what_a_checkpoint_stores(git_repo: GitRepo) -> None:
    """Policy: for files other than notebooks a checkpoint stores what ``git add`` would."""
    _clean_filter(git_repo, "sed s/secret/REDACTED/")
    (git_repo.path / "train.py").write_text("key = 'secret'\n")
    commit = ExperimentManager(git_repo.path, init=False).start("e1").commit
    stored = GitRepo(git_repo.path).git("cat-file", "blob", f"{commit}:train.py")
    assert stored == "key = 'REDACTED'\n"


def test_textconv_never_runs_for_config_changes(git_repo: GitRepo, tmp_path: Path) -> None:
    """A ``diff.<driver>.textconv`` program never runs when mlvc diffs a config file."""
    marker = tmp_path / "marker"
    git_repo.write({".gitattributes": "*.yaml diff=hostile\n", "params.yaml": "lr: 0.1\n"})
    git_repo.git("config", "diff.hostile.textconv", f"sh -c 'touch {marker}; cat \"$0\"'")
    git_repo.commit("params")
    git_repo.write({"params.yaml": "lr: 0.2\n"})
    git_repo.commit("params 2")
    manager = ExperimentManager(git_repo.path, init=False)
    manager.start("e1")
    manager.config_changes("params.yaml")
    assert not marker.exists(), "textconv ran"


def test_smudge_runs_in_reproduction(git_repo: GitRepo, tmp_path: Path) -> None:
    """Policy: smudge runs when reproducing, so filtered (LFS-like) files come back."""
    git_repo.write({".gitattributes": "*.dat filter=lfsish\n", "w.dat": "STORED\n"})
    git_repo.git("config", "filter.lfsish.smudge", "sed s/STORED/SMUDGED/")
    git_repo.git("config", "filter.lfsish.clean", "cat")
    git_repo.commit("data")
    manager = ExperimentManager(git_repo.path, init=False)
    manager.start("e1")
    manager.reproduce("e1", path=tmp_path / "repro")
    assert (tmp_path / "repro" / "w.dat").read_text() == "SMUDGED\n"


# -- end() must not record and then fail (item 6) ------------------------------------------------


def test_end_with_a_bad_tag_records_nothing(started: Invariants) -> None:
    """``end(tag="v1\\n")`` is refused before the final checkpoint is recorded."""
    manager = ExperimentManager(started.path, init=False)
    expect_error(lambda: manager.end("e1", tag="v1\n"), quoting="v1\n")
    assert checkpoint_count(started.path, "e1") == 1, "the final checkpoint was recorded anyway"
    started.check(next_call="e1")


def test_end_with_broken_gpg_signing_records_nothing(started: Invariants) -> None:
    """``tag.gpgSign`` with a failing ``gpg.program``: found before the ref moves."""
    started.repo.git("config", "tag.gpgSign", "true")
    started.repo.git("config", "gpg.program", "false")
    manager = ExperimentManager(started.path, init=False)
    expect_error(lambda: manager.end("e1", tag="v1"), mentions=["gpg"])
    assert checkpoint_count(started.path, "e1") == 1, "the final checkpoint was recorded anyway"
    started.check(next_call="e1")
