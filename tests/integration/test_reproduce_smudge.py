"""Reproduction runs the repository's smudge filters, so LFS-style files come back whole.

The policy (issue 8, item 9): notebooks bypass filters, but a reproduction is a checkout the
user will work in, so `git worktree add` keeps running smudge (mlvc's hardening must not
switch it off). A small shell filter stands in for git LFS: the stored blob is a pointer, the
checked-out file its content.
"""

from __future__ import annotations

from pathlib import Path

from mlvc_jupyter.core.manager import ExperimentManager
from tests.conftest import GitRepo


def install_pointer_filter(repo: GitRepo, scripts: Path) -> None:
    """Store 'DATA x' as 'POINTER x' (clean) and turn it back on checkout (smudge)."""
    scripts.mkdir()
    (scripts / "clean.sh").write_text("#!/bin/sh\nsed 's/^DATA /POINTER /'\n")
    (scripts / "smudge.sh").write_text("#!/bin/sh\nsed 's/^POINTER /DATA /'\n")
    repo.git("config", "filter.pointer.clean", f"sh {scripts / 'clean.sh'}")
    repo.git("config", "filter.pointer.smudge", f"sh {scripts / 'smudge.sh'}")
    repo.git("config", "filter.pointer.required", "true")
    repo.write({".gitattributes": "*.dat filter=pointer\n", "weights.dat": "DATA 42\n"})
    repo.commit("weights behind a filter")


def test_the_reproduced_file_is_smudged(git_repo: GitRepo, tmp_path: Path) -> None:
    install_pointer_filter(git_repo, tmp_path / "filters")
    manager = ExperimentManager(git_repo.path)
    manager.start("e1")
    stored = git_repo.git("show", "refs/mlvc/experiments/e1:weights.dat")
    assert stored == "POINTER 42\n"  # what is stored is the pointer, so smudge has work to do
    target = manager.reproduce("e1", path=tmp_path / "repro")
    assert (target / "weights.dat").read_text() == "DATA 42\n"
