"""Paths that lead out of the project: reproduce targets and symlinks.

Guards (issue 8 items 1 and 2): a reproduce target is a new or empty folder, never inside
``.git`` and never an existing worktree, and nothing in a refused target is deleted; a
symlink is stored as a symlink (mode 120000, its target as the blob) and never followed.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from mlvc_jupyter import ExperimentManager
from tests.conftest import GitRepo
from tests.reliability.conftest import Invariants, blob_at, expect_error, mode_at, run_mlvc


def _tree_digest(folder: Path) -> dict[str, str]:
    """Return {relative path: sha256} of every file under ``folder`` (``.git`` file included)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture
def started(invariants: Invariants) -> Invariants:
    """``invariants`` with experiment ``e1`` started."""
    invariants.ack("e1", ExperimentManager(invariants.path, init=False).start("e1").commit)
    return invariants


# -- reproduce targets (item 1) ------------------------------------------------------------------


def test_reproduce_refuses_the_users_linked_worktree(started: Invariants, tmp_path: Path) -> None:
    """``--dir ../feature``, the user's clean worktree: refused; its ignored files stay too."""
    feature = tmp_path / "feature"
    started.repo.git("worktree", "add", "-q", "-b", "feature", str(feature))
    started.before = started.repo.fingerprint()
    (started.path / ".git" / "info" / "exclude").write_text("*.ckpt\n")
    (feature / "model.ckpt").write_bytes(b"weights")
    before = _tree_digest(feature)
    proc = run_mlvc(started.path, "reproduce", "e1", "--dir", "../feature")
    assert proc.returncode != 0, f"reproduce into the user's worktree succeeded:\n{proc.stdout}"
    assert "Traceback" not in proc.stderr
    assert _tree_digest(feature) == before, "files of the user's worktree were deleted"
    started.check(next_call="e1")


def test_reproduce_refuses_a_target_inside_git(started: Invariants) -> None:
    """A target inside ``.git`` is refused before anything is written there."""
    target = started.path / ".git" / "refs" / "heads" / "evil"
    manager = ExperimentManager(started.path, init=False)
    expect_error(lambda: manager.reproduce("e1", path=target), quoting="evil")
    assert not target.exists()
    started.check(next_call="e1")


def test_reproduce_refuses_a_non_empty_folder(started: Invariants, tmp_path: Path) -> None:
    """A folder with files that is not an mlvc worktree: refused, nothing deleted."""
    target = tmp_path / "results"
    target.mkdir()
    (target / "keep.txt").write_text("precious\n")
    manager = ExperimentManager(started.path, init=False)
    expect_error(lambda: manager.reproduce("e1", path=target), quoting=str(target))
    assert (target / "keep.txt").read_text() == "precious\n"
    started.check(next_call="e1")


def test_reproduce_into_a_new_folder_works(started: Invariants, tmp_path: Path) -> None:
    """The allowed case still works: a new folder receives the checkpoint's files."""
    target = tmp_path / "new" / "e1"
    ExperimentManager(started.path, init=False).reproduce("e1", path=target)
    assert (target / "train.py").read_text() == "print('train')\n"
    started.check(next_call="e1")


# -- symlinks (item 2) ---------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the project holding a secret."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text("top secret\n")
    return folder


def _link(repo: GitRepo, name: str, target: Path, *, tracked: bool) -> None:
    os.symlink(target, repo.path / name)
    if tracked:
        repo.commit(f"add {name}")


@pytest.mark.parametrize("tracked", [True, False], ids=["tracked", "untracked"])
def test_symlinked_notebook_is_stored_as_a_symlink(
    git_repo: GitRepo, outside: Path, tracked: bool
) -> None:
    """``passwd.ipynb -> <outside>``: the checkpoint holds a symlink, never the target's bytes."""
    _link(git_repo, "passwd.ipynb", outside / "secret.txt", tracked=tracked)
    inv = Invariants(git_repo)
    commit = ExperimentManager(git_repo.path, init=False).start("e1").commit
    inv.ack("e1", commit, {"passwd.ipynb": str(outside / "secret.txt").encode()})
    assert mode_at(git_repo.path, commit, "passwd.ipynb") == "120000"
    inv.check(next_call="e1")


def test_symlinked_etc_passwd_notebook_is_never_read(git_repo: GitRepo) -> None:
    """The issue's exact case, ``ln -s /etc/passwd passwd.ipynb``: no byte of it is stored."""
    _link(git_repo, "passwd.ipynb", Path("/etc/passwd"), tracked=False)
    commit = ExperimentManager(git_repo.path, init=False).start("e1").commit
    stored = blob_at(git_repo.path, commit, "passwd.ipynb") or b""
    assert b"root:" not in stored, "/etc/passwd was read into the checkpoint"


@pytest.mark.parametrize("tracked", [True, False], ids=["tracked", "untracked"])
def test_symlinked_folder_out_of_the_project_is_not_followed(
    git_repo: GitRepo, outside: Path, tracked: bool
) -> None:
    """``data -> <outside>``: stored as a symlink; ``data/secret.txt`` is never recorded."""
    _link(git_repo, "data", outside, tracked=tracked)
    inv = Invariants(git_repo)
    commit = ExperimentManager(git_repo.path, init=False).start("e1").commit
    inv.ack("e1", commit, {"data": str(outside).encode(), "data/secret.txt": None})
    assert mode_at(git_repo.path, commit, "data") == "120000"
    inv.check(next_call="e1")


def test_reproduce_writes_a_symlink_back_as_a_symlink(
    git_repo: GitRepo, outside: Path, tmp_path: Path
) -> None:
    """Reproducing a checkpoint with a symlinked notebook recreates the link, not a copy."""
    _link(git_repo, "passwd.ipynb", outside / "secret.txt", tracked=True)
    manager = ExperimentManager(git_repo.path, init=False)
    manager.start("e1")
    target = tmp_path / "repro"
    manager.reproduce("e1", path=target)
    assert (target / "passwd.ipynb").is_symlink(), "reproduce wrote the link's target as a file"
