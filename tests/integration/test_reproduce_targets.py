"""Reproduction targets: a new or empty folder, never `.git`, never someone's worktree.

Each hostile target comes from a probe that lost data: a user's linked worktree (its ignored
files included) was deleted, and a target under `.git/refs/` corrupted the refs. mlvc removes
only the folders it created itself.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.errors import MlvcError
from tests.conftest import GitRepo, git


@pytest.fixture
def recorded(git_repo: GitRepo) -> tuple[GitRepo, ExperimentManager]:
    manager = ExperimentManager(git_repo.path)
    manager.start("e1")
    manager.end("e1")
    return git_repo, manager


def digest_tree(folder: Path) -> dict[str, str]:
    """Hash every file below ``folder`` (its .git file or folder included)."""
    result = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            full = Path(root, name)
            result[str(full.relative_to(folder))] = hashlib.sha256(full.read_bytes()).hexdigest()
    return result


def fsck(repo: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "fsck", "--strict"], cwd=repo, capture_output=True, check=False)


def test_a_linked_worktree_of_the_user_is_refused_and_kept(
    recorded: tuple[GitRepo, ExperimentManager], tmp_path: Path
) -> None:
    repo, manager = recorded
    feature = tmp_path / "feature"
    repo.git("worktree", "add", "-q", "-b", "feature", str(feature))
    (feature / ".gitignore").write_text("*.ckpt\n")
    (feature / "model.ckpt").write_bytes(b"\x00weights" * 1000)
    before = digest_tree(feature)
    with pytest.raises(MlvcError, match="feature.*not empty|feature.*worktree"):
        manager.reproduce("e1", path=feature)
    assert digest_tree(feature) == before
    assert str(feature) in repo.git("worktree", "list")


def test_a_clean_linked_worktree_is_refused_too(
    recorded: tuple[GitRepo, ExperimentManager], tmp_path: Path
) -> None:
    repo, manager = recorded
    feature = tmp_path / "clean"
    repo.git("worktree", "add", "-q", "--detach", str(feature))
    before = digest_tree(feature)
    with pytest.raises(MlvcError, match="clean"):
        manager.reproduce("e1", path=feature)
    assert digest_tree(feature) == before


@pytest.mark.parametrize(
    "inside",
    [".git/refs/heads/evil", ".git/objects/ab", ".git/mlvc/elsewhere", ".git"],
    ids=["refs", "objects", "runtime", "git-dir"],
)
def test_a_target_inside_git_is_refused_and_fsck_stays_clean(
    recorded: tuple[GitRepo, ExperimentManager], inside: str
) -> None:
    repo, manager = recorded
    refs_before = repo.git("for-each-ref")
    with pytest.raises(MlvcError, match=r"\.git"):
        manager.reproduce("e1", path=repo.path / inside)
    assert not (repo.path / ".git/refs/heads/evil").exists()
    assert repo.git("for-each-ref") == refs_before
    assert fsck(repo.path).returncode == 0


def test_a_target_inside_another_repositorys_git_dir_is_refused(
    recorded: tuple[GitRepo, ExperimentManager], tmp_path: Path
) -> None:
    _repo, manager = recorded
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    with pytest.raises(MlvcError, match=r"\.git"):
        manager.reproduce("e1", path=other / ".git" / "refs" / "heads" / "x")
    assert not (other / ".git" / "refs" / "heads" / "x").exists()


def test_a_bare_repository_is_refused(
    recorded: tuple[GitRepo, ExperimentManager], tmp_path: Path
) -> None:
    _repo, manager = recorded
    bare = tmp_path / "store.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    with pytest.raises(MlvcError, match="store.git"):
        manager.reproduce("e1", path=bare / "refs" / "x")
    assert not (bare / "refs" / "x").exists()


def test_a_non_empty_folder_is_refused_and_untouched(
    recorded: tuple[GitRepo, ExperimentManager], tmp_path: Path
) -> None:
    _repo, manager = recorded
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine\n")
    with pytest.raises(MlvcError, match="not empty"):
        manager.reproduce("e1", path=folder)
    assert digest_tree(folder) == {"keep.txt": hashlib.sha256(b"mine\n").hexdigest()}


def test_a_symlink_to_a_folder_outside_is_refused(
    recorded: tuple[GitRepo, ExperimentManager], tmp_path: Path
) -> None:
    _repo, manager = recorded
    outside = tmp_path / "outside"
    outside.mkdir()
    link = tmp_path / "link"
    link.symlink_to(outside)
    with pytest.raises(MlvcError, match="symbolic link"):
        manager.reproduce("e1", path=link)
    assert link.is_symlink()
    assert list(outside.iterdir()) == []


def test_a_nul_byte_in_the_path_is_an_mlvc_error(
    recorded: tuple[GitRepo, ExperimentManager],
) -> None:
    _repo, manager = recorded
    with pytest.raises(MlvcError, match=r"a\\x00b"):
        manager.reproduce("e1", path="a\0b")


def test_new_and_empty_folders_are_used(
    recorded: tuple[GitRepo, ExperimentManager], tmp_path: Path
) -> None:
    repo, manager = recorded
    empty = tmp_path / "empty"
    empty.mkdir()
    assert manager.reproduce("e1", path=empty) == empty
    assert (empty / "train.py").read_text() == "print('train')\n"
    new = tmp_path / "a" / "b"
    assert manager.reproduce("e1", path=new) == new
    assert (new / "README.md").exists()


def test_mlvcs_own_reproduction_is_replaced_but_not_one_with_edits(
    recorded: tuple[GitRepo, ExperimentManager], tmp_path: Path
) -> None:
    _repo, manager = recorded
    target = tmp_path / "repro"
    manager.reproduce("e1", path=target)
    assert manager.reproduce("e1", path=target) == target  # clean: replaced
    (target / "train.py").write_text("edited\n")
    with pytest.raises(MlvcError, match="edits"):
        manager.reproduce("e1", path=target)
    assert (target / "train.py").read_text() == "edited\n"


def test_the_default_target_is_reused(recorded: tuple[GitRepo, ExperimentManager]) -> None:
    _repo, manager = recorded
    first = manager.reproduce("e1")
    assert manager.reproduce("e1") == first
    assert (first / "train.py").exists()


def test_an_ignored_file_in_mlvcs_own_reproduction_blocks_replacing_it(
    recorded: tuple[GitRepo, ExperimentManager], tmp_path: Path
) -> None:
    _repo, manager = recorded
    target = tmp_path / "repro"
    manager.reproduce("e1", path=target)
    (target / ".git-ignored-output").write_text("")
    (target / ".gitignore").write_text("*.ckpt\n")
    (target / "model.ckpt").write_bytes(b"trained")
    with pytest.raises(MlvcError, match="model.ckpt|edits"):
        manager.reproduce("e1", path=target)
    assert (target / "model.ckpt").read_bytes() == b"trained"
