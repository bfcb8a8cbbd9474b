"""``reproduce --inplace`` and ``undo``: a restore into the working tree that loses nothing."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.reproduction import inplace
from mlvc_jupyter.errors import DirtyWorkingTreeError, MlvcError
from tests.conftest import GitRepo

WORKTREE = Path(__file__).resolve().parents[2]
BINARY_OLD = bytes(range(256)) * 4
BINARY_NEW = b"\x00\xff\xfe" * 300 + b"\r\n\x1a"


def tree_state(root: Path) -> dict[str, tuple[str, str, int]]:
    """Every file, link and folder under ``root`` (``.git`` aside): kind, content hash, mode."""
    found: dict[str, tuple[str, str, int]] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in [*dirs, *files]:
            full = Path(folder, name)
            rel = str(full.relative_to(root))
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                found[rel] = ("link", os.readlink(full), 0)
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = ("dir", "", 0)
            else:
                digest = hashlib.sha256(full.read_bytes()).hexdigest()
                found[rel] = ("file", digest, stat.S_IMODE(st.st_mode))
    return found


def git_state(repo: GitRepo) -> tuple[str, str, bytes]:
    """HEAD, every branch and tag, and the user's index bytes."""
    refs = repo.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/tags")
    return repo.git("rev-parse", "HEAD"), refs, (repo.path / ".git" / "index").read_bytes()


@pytest.fixture
def recorded(git_repo: GitRepo) -> tuple[GitRepo, ExperimentManager]:
    """An experiment whose checkpoint differs from the later working tree in every way."""
    git_repo.write({".gitignore": "*.log\n", "config.json": '{"lr": 0.1}\n'})
    git_repo.write({"weights.bin": BINARY_OLD, "gone_later.py": "x = 1\n"})
    git_repo.commit("base")
    git_repo.write({"train.py": "print('experiment')\n", "features/new.py": "F = 2\n"})
    git_repo.write({"model.py": "MODEL = 'experiment'\n"})  # untracked, in the checkpoint
    manager = ExperimentManager(git_repo.path)
    manager.start("exp1", configs={"lr": 0.1})
    manager.end("exp1", metrics={"acc": 0.9})
    for name in ("features/new.py", "model.py"):
        (git_repo.path / name).unlink()
    (git_repo.path / "features").rmdir()
    git_repo.write({"train.py": "print('committed later')\n", "later.py": "L = 1\n"})
    git_repo.commit("after the experiment")
    # Uncommitted and untracked work of every kind:
    git_repo.write({"train.py": "print('uncommitted edit')\n", "weights.bin": BINARY_NEW})
    os.chmod(git_repo.path / "weights.bin", 0o755)
    git_repo.write({"model.py": "MODEL = 'mine, untracked'\n", "notes.txt": "my notes\n"})
    git_repo.write({"run.log": "ignored\n"})
    (git_repo.path / "config.json").unlink()  # a deleted tracked file
    (git_repo.path / "gone_later.py").unlink()
    (git_repo.path / "gone_later.py").symlink_to("train.py")  # now a link
    return git_repo, manager


def test_inplace_then_undo_loses_nothing(recorded: tuple[GitRepo, ExperimentManager]) -> None:
    repo, manager = recorded
    before, refs_before = tree_state(repo.path), git_state(repo)

    restored = manager.reproduce_inplace("exp1")

    root = repo.path
    assert (root / "train.py").read_text() == "print('experiment')\n"
    assert (root / "model.py").read_text() == "MODEL = 'experiment'\n"
    assert (root / "features/new.py").read_text() == "F = 2\n"
    assert (root / "weights.bin").read_bytes() == BINARY_OLD
    assert json.loads((root / "config.json").read_text()) == {"lr": 0.1}
    assert not (root / "gone_later.py").is_symlink()
    assert not (root / "later.py").exists()  # tracked now, not in the checkpoint: removed
    assert (root / "notes.txt").read_text() == "my notes\n"  # untracked, not in it: kept
    assert (root / "run.log").read_text() == "ignored\n"
    assert not (root / ".mlvc").exists()
    assert git_state(repo) == refs_before  # HEAD, branches, tags and the index
    assert set(restored.created) == {"features/new.py", "config.json"}
    assert restored.removed == ["later.py"]
    assert restored.safety_ref.startswith("refs/mlvc/safety/")
    saved = repo.git("show", f"{restored.safety_ref}:.mlvc/undo.json")
    assert json.loads(saved)["files"]["features/new.py"] is None

    undone = manager.undo()

    assert tree_state(root) == before  # byte for byte, modes and links included
    assert git_state(repo) == refs_before
    assert set(undone.removed) == {"features/new.py", "config.json"}
    with pytest.raises(MlvcError, match="Nothing to undo"):
        manager.undo()


def test_undo_refuses_files_changed_since_then_force_saves_them(
    recorded: tuple[GitRepo, ExperimentManager],
) -> None:
    repo, manager = recorded
    before = tree_state(repo.path)
    manager.reproduce_inplace("exp1")
    (repo.path / "train.py").write_text("edited after the restore\n")

    with pytest.raises(DirtyWorkingTreeError, match="1 of its files changed since") as caught:
        manager.undo()
    assert caught.value.paths == ["train.py"]
    assert (repo.path / "train.py").read_text() == "edited after the restore\n"

    undone = manager.undo(force=True)

    assert tree_state(repo.path) == before
    assert undone.forced_safety_ref is not None
    manifest = json.loads(repo.git("show", f"{undone.forced_safety_ref}:.mlvc/undo.json"))
    copy = manifest["files"]["train.py"]["copy"]
    saved = repo.git("show", f"{undone.forced_safety_ref}:{copy}")
    assert saved == "edited after the restore\n"


def test_two_restores_undo_in_reverse_order(recorded: tuple[GitRepo, ExperimentManager]) -> None:
    repo, manager = recorded
    first = tree_state(repo.path)
    manager.reproduce_inplace("exp1")
    (repo.path / "notes.txt").write_text("between the restores\n")  # untouched by either
    middle = tree_state(repo.path)
    second = manager.reproduce_inplace("exp1")
    assert second.written == []
    assert second.removed == []

    manager.undo()
    assert tree_state(repo.path) == middle
    manager.undo()
    expected = {**first, "notes.txt": middle["notes.txt"]}
    assert tree_state(repo.path) == expected


def test_refuses_a_symlinked_folder_on_the_way(git_repo: GitRepo, tmp_path: Path) -> None:
    git_repo.write({"pkg/a.py": "A = 1\n"})
    manager = ExperimentManager(git_repo.path)
    manager.start("exp1")
    manager.end("exp1")
    (git_repo.path / "pkg/a.py").unlink()
    (git_repo.path / "pkg").rmdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (git_repo.path / "pkg").symlink_to(outside)
    before = tree_state(git_repo.path)

    with pytest.raises(MlvcError, match="'pkg/a.py' in place: a folder above it is a symbolic"):
        manager.reproduce_inplace("exp1")

    assert tree_state(git_repo.path) == before
    assert list(outside.iterdir()) == []
    with pytest.raises(MlvcError, match="Nothing to undo"):
        manager.undo()


def test_refuses_a_folder_where_the_checkpoint_has_a_file(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("exp1")
    manager.end("exp1")
    (git_repo.path / "train.py").unlink()
    git_repo.write({"train.py/inside.txt": "mine\n"})

    with pytest.raises(MlvcError, match="'train.py' is a folder or a special file"):
        manager.reproduce_inplace("exp1")
    assert (git_repo.path / "train.py/inside.txt").read_text() == "mine\n"


def _cli(repo: GitRepo, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(WORKTREE)}
    return subprocess.run(
        [sys.executable, "-m", "mlvc_jupyter", "-C", str(repo.path), *args],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip


def test_cli_reproduce_inplace_and_undo(recorded: tuple[GitRepo, ExperimentManager]) -> None:
    repo, _ = recorded
    before = tree_state(repo.path)

    restore = _cli(repo, "reproduce", "exp1", "--inplace")
    assert restore.returncode == 0, restore.stderr
    assert "mlvc undo" in restore.stdout
    assert "refs/mlvc/safety/" in restore.stdout
    assert (repo.path / "train.py").read_text() == "print('experiment')\n"

    undo = _cli(repo, "undo")
    assert undo.returncode == 0, undo.stderr
    assert tree_state(repo.path) == before

    again = _cli(repo, "undo")
    assert again.returncode == 1
    assert "Nothing to undo" in again.stderr

    mixed = _cli(repo, "reproduce", "exp1", "--inplace", "--dir", str(repo.path.parent / "x"))
    assert mixed.returncode == 1
    assert "--inplace cannot be combined with --dir" in mixed.stderr
    assert tree_state(repo.path) == before


def test_refuses_a_checkpoint_with_a_hostile_path(git_repo: GitRepo, tmp_path: Path) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("exp1")
    commit = manager.end("exp1").commit
    blob = git_repo.git("hash-object", "-w", "--stdin", stdin=b"evil").strip()
    inner = git_repo.git("mktree", stdin=f"100644 blob {blob}\tpasswd\n".encode()).strip()
    tree = git_repo.git("mktree", stdin=f"040000 tree {inner}\t..\n".encode()).strip()
    message = git_repo.git("cat-file", "commit", commit).split("\n\n", 1)[1]
    forged = git_repo.git("commit-tree", tree, stdin=message.encode()).strip()
    git_repo.git("update-ref", "refs/mlvc/experiments/exp1", forged)
    before = tree_state(git_repo.path)

    with pytest.raises(MlvcError, match=r"Refusing the path '\.\./passwd'"):
        manager.reproduce_inplace("exp1")

    assert tree_state(git_repo.path) == before
    assert not (git_repo.path.parent / "passwd").exists()


def test_an_interrupted_restore_can_still_be_undone(
    recorded: tuple[GitRepo, ExperimentManager], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, manager = recorded
    before = tree_state(repo.path)
    real_checkout = inplace._checkout

    def interrupted(*args: object) -> None:
        real_checkout(*args)  # type: ignore[arg-type]  # the same arguments, passed on
        raise KeyboardInterrupt  # killed before removing files and finishing the journal

    monkeypatch.setattr(inplace, "_checkout", interrupted)
    with pytest.raises(KeyboardInterrupt):
        manager.reproduce_inplace("exp1")
    assert (repo.path / "train.py").read_text() == "print('experiment')\n"

    undone = manager.undo()  # the state after is unknown: saved first, then undone

    assert undone.forced_safety_ref is not None
    assert tree_state(repo.path) == before


def test_undo_in_a_linked_worktree_leaves_the_main_one_alone(
    recorded: tuple[GitRepo, ExperimentManager],
) -> None:
    repo, manager = recorded
    before = tree_state(repo.path)
    linked = repo.path.parent / "linked"
    repo.git("worktree", "add", "-q", "--detach", str(linked))
    manager.reproduce_inplace("exp1")

    with pytest.raises(MlvcError, match="Nothing to undo"):
        ExperimentManager(linked).undo()  # the journal is shared; the restore is not its own

    manager.undo()
    assert tree_state(repo.path) == before


def test_restores_an_earlier_checkpoint(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    git_repo.write({"train.py": "print('first')\n"})
    manager.start("exp1")
    git_repo.write({"train.py": "print('second')\n"})
    manager.end("exp1")

    restored = manager.reproduce_inplace("exp1", checkpoint=1)

    assert restored.seq == 1
    assert (git_repo.path / "train.py").read_text() == "print('first')\n"
    with pytest.raises(MlvcError, match="'exp1' has no checkpoint 7"):
        manager.reproduce_inplace("exp1", checkpoint=7)
    manager.undo()
    assert (git_repo.path / "train.py").read_text() == "print('second')\n"


def test_a_tracked_file_below_a_link_is_neither_followed_nor_removed(
    git_repo: GitRepo, tmp_path: Path
) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("exp1")
    manager.end("exp1")
    git_repo.write({"lib/a.py": "A = 1\n"})
    git_repo.commit("lib, after the experiment")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.py").write_text("not the project's\n")
    (git_repo.path / "lib/a.py").unlink()
    (git_repo.path / "lib").rmdir()
    (git_repo.path / "lib").symlink_to(outside)

    restored = manager.reproduce_inplace("exp1")

    assert restored.removed == []
    assert (outside / "a.py").read_text() == "not the project's\n"
    assert (git_repo.path / "lib").is_symlink()
