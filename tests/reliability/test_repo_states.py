"""Repository states: detached, unborn, shallow, linked worktree, submodule, no identity,
another owner, a wrong path, and git missing.

Guards: checkpoints work (or fail with a clear MlvcError) without moving the user's HEAD,
index or files; mlvc never creates a repository where it must not (issue 8 item 3), passes
git's "dubious ownership" message through and never adds ``safe.directory '*'``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlvc_jupyter import ExperimentManager
from tests.conftest import GitRepo, git
from tests.reliability.conftest import Invariants, blob_at, expect_error, run_mlvc


def _checkpoint_twice(inv: Invariants) -> None:
    """Start and commit ``e1``, acknowledging both with train.py's bytes on disk."""
    manager = ExperimentManager(inv.path, init=False)
    content = (inv.path / "train.py").read_bytes()
    inv.ack("e1", manager.start("e1").commit, {"train.py": content})
    inv.ack("e1", manager.commit("e1").commit, {"train.py": content})
    inv.check(next_call="e1")


def test_detached_head(git_repo: GitRepo) -> None:
    """Detached HEAD: the checkpoint's parent is the detached commit; HEAD does not move."""
    git_repo.write({"more.txt": "x\n"})
    git_repo.commit("second")
    git_repo.git("checkout", "-q", "--detach", "HEAD~1")
    inv = Invariants(git_repo)
    _checkpoint_twice(inv)
    first = inv.acks[0].commit
    parent = git_repo.git("rev-parse", f"{first}^").strip()
    assert parent == git_repo.git("rev-parse", "HEAD").strip()


def test_unborn_branch(empty_repo: GitRepo) -> None:
    """No commit yet: checkpoints record the files, or refuse clearly; nothing is moved."""
    empty_repo.write({"train.py": "print('x')\n"})
    _checkpoint_twice(Invariants(empty_repo))


def test_shallow_clone(git_repo: GitRepo, tmp_path: Path) -> None:
    """A ``--depth 1`` clone: checkpoints work, fsck stays clean."""
    git_repo.write({"more.txt": "x\n"})
    git_repo.commit("second")
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{git_repo.path}", str(clone))
    _checkpoint_twice(Invariants(GitRepo(clone)))


def _worktree_state(tree: Path) -> dict[str, str]:
    """Return HEAD, the index bytes' hash and every file's hash of a (linked) worktree."""
    index = Path(git(tree, "rev-parse", "--path-format=absolute", "--git-path", "index").strip())
    state = {"HEAD": git(tree, "rev-parse", "HEAD"), "ref": git(tree, "symbolic-ref", "HEAD")}
    state["index"] = hashlib.sha256(index.read_bytes()).hexdigest()
    for path in tree.rglob("*"):
        if path.is_file() and path.name != ".git":
            state[str(path.relative_to(tree))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def test_linked_worktree(git_repo: GitRepo, tmp_path: Path) -> None:
    """From a linked worktree: checkpoints land in the shared refs; neither tree is touched."""
    linked = tmp_path / "linked"
    git_repo.git("worktree", "add", "-q", "-b", "side", str(linked))
    (linked / "train.py").write_text("print('side')\n")
    inv = Invariants(git_repo)
    linked_before = _worktree_state(linked)
    manager = ExperimentManager(linked, init=False)
    inv.ack("e1", manager.start("e1").commit, {"train.py": b"print('side')\n"})
    inv.ack("e1", manager.commit("e1").commit, {"train.py": b"print('side')\n"})
    assert _worktree_state(linked) == linked_before, "the linked worktree's state changed"
    inv.check(next_call="e1")


def test_dirty_submodule_is_named(git_repo: GitRepo, tmp_path: Path) -> None:
    """A submodule with uncommitted changes: recorded by commit, with a warning naming it."""
    sub = tmp_path / "sub"
    sub.mkdir()
    git(sub, "init", "-q", "-b", "main")
    GitRepo(sub).write({"lib.py": "v = 1\n"})
    GitRepo(sub).commit("lib")
    git_repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "lib")
    git_repo.commit("add submodule")
    (git_repo.path / "lib" / "lib.py").write_text("v = 2\n")
    inv = Invariants(git_repo)
    manager = ExperimentManager(git_repo.path, init=False)
    inv.ack("e1", manager.start("e1").commit)
    record = manager.show("e1")
    assert any("lib" in w for w in record.warnings), record.warnings
    inv.check(next_call="e1")


def test_no_identity(git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user.name/email anywhere: checkpoints still land; global config is never written."""
    for who in ("AUTHOR", "COMMITTER"):
        for what in ("NAME", "EMAIL"):
            monkeypatch.delenv(f"GIT_{who}_{what}")
    gitconfig = Path(os.environ["GIT_CONFIG_GLOBAL"])
    _checkpoint_twice(Invariants(git_repo))
    assert gitconfig.read_text() == "", "the global git config was written"


# -- where a repository must not be created (item 3) --------------------------------------------


def test_opening_the_git_folder_creates_nothing(git_repo: GitRepo) -> None:
    """``ExperimentManager("repo/.git")`` refuses; no nested repository appears."""
    expect_error(lambda: ExperimentManager(git_repo.path / ".git"), quoting=".git")
    assert not (git_repo.path / ".git" / ".git").exists()


def test_opening_the_home_folder_creates_nothing() -> None:
    """The home directory itself is never made a repository."""
    home = Path(os.environ["HOME"])
    expect_error(lambda: ExperimentManager(home), quoting=str(home))
    assert not (home / ".git").exists()


@pytest.fixture
def foreign_repo(git_repo: GitRepo) -> GitRepo:
    """``git_repo`` owned by another user (uid 65534); we are root."""
    if os.geteuid() != 0:
        pytest.skip("chown to another user needs root")
    subprocess.run(["chown", "-R", "65534:65534", str(git_repo.path)], check=True)
    return git_repo


def test_another_owner_gets_gits_message_and_nothing_written(foreign_repo: GitRepo) -> None:
    """Another owner: git's "dubious ownership" and its safe.directory command come through."""
    listing = sorted(p.name for p in foreign_repo.path.iterdir())
    error = expect_error(
        lambda: ExperimentManager(foreign_repo.path), mentions=["dubious ownership"]
    )
    assert "safe.directory" in str(error)
    assert sorted(p.name for p in foreign_repo.path.iterdir()) == listing, "a file was written"
    assert "'*'" not in Path(os.environ["GIT_CONFIG_GLOBAL"]).read_text()


def test_another_owner_never_gets_safe_directory_star(foreign_repo: GitRepo) -> None:
    """Whatever the error, mlvc never adds ``safe.directory '*'`` (nor any safe.directory)."""
    with contextlib.suppress(Exception):  # the error's shape is the other test's concern
        ExperimentManager(foreign_repo.path, init=False)
    assert "safe.directory" not in Path(os.environ["GIT_CONFIG_GLOBAL"]).read_text()


def test_git_missing(git_repo: GitRepo, tmp_path: Path) -> None:
    """No git on PATH: the CLI says so with a hint, no traceback, and nothing is written."""
    bin_dir = tmp_path / "nogit"
    bin_dir.mkdir()
    os.symlink(sys.executable, bin_dir / "python")
    inv = Invariants(git_repo)
    env = {"PATH": str(bin_dir), "GIT_PYTHON_REFRESH": "quiet"}
    proc = run_mlvc(git_repo.path, "start", "e1", env=env)
    assert proc.returncode == 1, proc.stderr
    assert "git" in proc.stderr.lower(), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert shutil.which("git") is not None
    inv.check()
    assert blob_at(git_repo.path, "HEAD", "train.py") == b"print('train')\n"
