"""Where mlvc may create a repository: only where the user names a folder for it.

`%vc_init PATH`, `mlvc init PATH` and the specification's constructors create one; even they
never do in `/`, the home folder, a bare repository or anywhere inside `.git`. Any other first
use outside a repository refuses, naming `%vc_init` / `mlvc init`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlvc_jupyter.api import ExperimentVersionControl, VersionControlManager
from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.repo.places import refuse_creation_place
from mlvc_jupyter.errors import MlvcError, NotARepositoryError
from mlvc_jupyter.kernel import open_manager
from tests.conftest import GitRepo, git


def test_first_use_outside_a_repository_refuses_and_creates_nothing(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "train.py").write_text("x = 1\n")
    with pytest.raises(NotARepositoryError, match=r"(?s)%vc_init .*plain.*mlvc init"):
        ExperimentManager(plain)
    with pytest.raises(NotARepositoryError, match="%vc_init"):
        open_manager(plain)
    assert sorted(p.name for p in plain.iterdir()) == ["train.py"]


def test_a_missing_folder_is_not_created_without_init(tmp_path: Path) -> None:
    with pytest.raises(NotARepositoryError, match="does not exist"):
        ExperimentManager(tmp_path / "missing")
    assert not (tmp_path / "missing").exists()


def test_init_creates_once_and_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "project"
    manager = ExperimentManager(folder, init=True)
    assert manager.created is True
    assert manager.root == folder
    assert (folder / ".git").is_dir()
    assert (folder / ".gitignore").exists()
    again = ExperimentManager(folder, init=True)
    assert again.created is False
    assert ExperimentManager(folder).created is False


def test_the_specification_constructors_set_up_the_project(tmp_path: Path) -> None:
    vc = ExperimentVersionControl(tmp_path / "spec")
    assert vc.manager.created is True
    assert VersionControlManager(tmp_path / "spec").manager.created is False


@pytest.mark.parametrize(
    "inside", [".git", ".git/refs", ".git/new/folder"], ids=["git-dir", "refs", "new-inside"]
)
def test_never_inside_dot_git(git_repo: GitRepo, inside: str) -> None:
    target = git_repo.path / inside
    refs_before = git_repo.git("for-each-ref")
    with pytest.raises(NotARepositoryError, match=r"\.git.*(?s:.*)working tree"):
        ExperimentVersionControl(target)
    with pytest.raises(NotARepositoryError, match=r"\.git"):
        ExperimentManager(target, init=True)
    assert not (git_repo.path / ".git" / ".git").exists()
    assert not (git_repo.path / ".git" / ".gitignore").exists()
    assert not (git_repo.path / ".git" / "new").exists()
    assert git_repo.git("for-each-ref") == refs_before


def test_never_in_a_bare_repository(tmp_path: Path) -> None:
    bare = tmp_path / "store.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    with pytest.raises(NotARepositoryError, match="store.git"):
        ExperimentManager(bare, init=True)
    assert not (bare / ".git").exists()
    assert not (bare / ".gitignore").exists()


def test_never_in_the_root_or_home_folder(tmp_path: Path) -> None:
    # Checked without creating anything, so a regression cannot write into the real root.
    with pytest.raises(NotARepositoryError, match="'/' is the root"):
        refuse_creation_place(Path("/"))
    home = Path(os.environ["HOME"])
    with pytest.raises(NotARepositoryError, match="home folder"):
        ExperimentManager(home, init=True)
    assert not (home / ".git").exists()
    assert not (home / ".gitignore").exists()


def test_a_nul_byte_in_the_folder_is_an_mlvc_error() -> None:
    with pytest.raises(MlvcError, match=r"a\\x00b"):
        ExperimentManager("a\0b", init=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_repository_of_another_user_passes_gits_ownership_message(tmp_path: Path) -> None:
    path = tmp_path / "theirs"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "a.txt").write_text("a\n")
    subprocess.run(["chown", "-R", "12345:12345", str(path)], check=True)
    for init in (False, True):
        with pytest.raises(MlvcError, match=r"(?s)dubious ownership.*safe\.directory") as caught:
            ExperimentManager(path, init=init)
        assert "safe.directory" in (caught.value.hint or "")
    assert not (path / ".gitignore").exists()
    assert "safe.directory" not in Path(os.environ["GIT_CONFIG_GLOBAL"]).read_text()


def test_mlvc_init_prints_the_created_path_and_refuses_dot_git(tmp_path: Path) -> None:
    folder = tmp_path / "cli"
    run = [sys.executable, "-m", "mlvc_jupyter", "init", str(folder)]
    first = subprocess.run(run, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    assert f"Initialised a git repository in {folder}" in first.stdout
    second = subprocess.run(run, capture_output=True, text=True, check=False)
    assert second.returncode == 0
    assert f"Already in a git repository: {folder}" in second.stdout
    bad = [sys.executable, "-m", "mlvc_jupyter", "init", str(folder / ".git")]
    refused = subprocess.run(bad, capture_output=True, text=True, check=False)
    assert refused.returncode == 1
    assert "working tree" in refused.stderr
    assert not (folder / ".git" / ".git").exists()
