"""Recording checkpoints: what goes into a snapshot, and the user's state left exactly as it was."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.errors import (
    ExperimentExistsError,
    ExperimentNotFoundError,
    InvalidNameError,
    MlvcError,
    NotARepositoryError,
)
from tests.conftest import GitRepo, git


def _notebook(outputs: bool = True, tags: list[str] | None = None) -> dict:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('hi')", execution_count=3 if outputs else None)
    if tags:
        cell.metadata["tags"] = tags
    if outputs:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    nb.cells = [cell, nbformat.v4.new_markdown_cell("# notes")]
    return nb


def _tree(repo: GitRepo, rev: str) -> dict[str, str]:
    out = repo.git("ls-tree", "-r", "--name-only", rev)
    return {p: repo.git("show", f"{rev}:{p}") for p in out.split("\n") if p}


@pytest.fixture
def dirty_repo(git_repo: GitRepo) -> GitRepo:
    """A repository with staged, unstaged, untracked and deleted changes, and a notebook."""
    git_repo.write({"gone.py": "x = 1\n", "nb.ipynb": _notebook()})
    git_repo.commit("more files")
    git_repo.write({"staged.py": "staged\n"})
    git_repo.git("add", "staged.py")
    git_repo.write(
        {"train.py": "print('edited')\n", "new.txt": "untracked\n", "nb.ipynb": _notebook()}
    )
    (git_repo.path / "gone.py").unlink()
    return git_repo


def test_user_state_is_byte_identical_and_snapshot_holds_the_working_tree(
    dirty_repo: GitRepo,
) -> None:
    before = dirty_repo.fingerprint()
    manager = ExperimentManager(dirty_repo.path)
    start = manager.start("exp1", configs={"lr": 0.1})
    manager.commit("exp1", message="step 1")
    end = manager.end("exp1", metrics={"acc": 0.9})
    assert dirty_repo.fingerprint() == before

    tree = _tree(dirty_repo, end.commit)
    assert tree["train.py"] == "print('edited')\n"
    assert tree["staged.py"] == "staged\n"
    assert tree["new.txt"] == "untracked\n"
    assert "gone.py" not in tree
    stripped = json.loads(tree["nb.ipynb"])
    assert stripped["cells"][0]["outputs"] == []
    assert stripped["cells"][0]["execution_count"] is None
    assert json.loads((dirty_repo.path / "nb.ipynb").read_text())["cells"][0]["outputs"]
    record = json.loads(tree[".mlvc/experiment.json"])
    assert sorted(record["dirty_files"]) == [
        "gone.py",
        "nb.ipynb",
        "new.txt",
        "staged.py",
        "train.py",
    ]
    assert record["configs"] == {"lr": 0.1}
    assert set(record["timings"]) >= {"stage", "strip"}
    assert dirty_repo.git("rev-parse", f"{start.commit}^") == dirty_repo.git("rev-parse", "HEAD")


def test_checkpoint_without_changes_is_still_new(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    first = manager.start("exp1")
    second = manager.commit("exp1", message="nothing changed")
    assert second.commit != first.commit
    assert (second.seq, second.message) == (2, "nothing changed")
    assert git_repo.git("rev-parse", f"{second.commit}^") == first.commit + "\n"


@pytest.mark.parametrize(
    ("settings", "expect_outputs", "expect_kernelspec"),
    [
        ("", False, True),
        ('strip-extra-keys = ["metadata.kernelspec"]\n', False, False),
    ],
    ids=["defaults", "extra-key"],
)
def test_notebook_stripping_honours_settings(
    git_repo: GitRepo, settings: str, expect_outputs: bool, expect_kernelspec: bool
) -> None:
    nb = _notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    kept = _notebook(tags=["keep_output"])
    git_repo.write({".mlvc.toml": settings, "a.ipynb": nb, "b.ipynb": kept})
    manager = ExperimentManager(git_repo.path)
    commit = manager.start("exp1").commit
    a = json.loads(git_repo.git("show", f"{commit}:a.ipynb"))
    b = json.loads(git_repo.git("show", f"{commit}:b.ipynb"))
    assert bool(a["cells"][0]["outputs"]) is expect_outputs
    assert ("kernelspec" in a["metadata"]) is expect_kernelspec
    assert b["cells"][0]["outputs"], "a keep_output cell keeps its outputs"


def test_unreadable_notebook_is_stored_raw_with_a_warning(git_repo: GitRepo) -> None:
    raw = b'{"cells": [\n<<<<<<< HEAD\n'
    git_repo.write({"broken.ipynb": raw})
    manager = ExperimentManager(git_repo.path)
    commit = manager.start("exp1").commit
    assert git_repo.git("show", f"{commit}:broken.ipynb").encode() == raw
    (entry,) = manager.show("exp1").notebooks
    assert entry["path"] == "broken.ipynb"
    assert not entry["stripped"]
    assert "stored as it is" in entry["warning"]


def test_tracked_unchanged_notebook_with_outputs_is_stripped(git_repo: GitRepo) -> None:
    git_repo.write({"nb.ipynb": _notebook()})
    git_repo.commit("notebook with outputs")
    commit = ExperimentManager(git_repo.path).start("exp1").commit
    assert json.loads(git_repo.git("show", f"{commit}:nb.ipynb"))["cells"][0]["outputs"] == []


def test_repository_clean_filter_is_bypassed(git_repo: GitRepo, tmp_path: Path) -> None:
    marker = tmp_path / "filter-ran"
    git_repo.git("config", "filter.evil.clean", f"touch {marker}; false")
    git_repo.git("config", "filter.evil.required", "true")
    git_repo.write({".gitattributes": "*.ipynb filter=evil\n", "nb.ipynb": _notebook()})
    commit = ExperimentManager(git_repo.path).start("exp1").commit
    assert not marker.exists()
    assert "nb.ipynb" in git_repo.git("ls-tree", "--name-only", commit)


def test_large_files_stay_out_and_are_recorded(git_repo: GitRepo) -> None:
    git_repo.write(
        {".mlvc.toml": 'max-file-size = "1kB"\n', "big.bin": b"x" * 5000, "small.txt": "s"}
    )
    manager = ExperimentManager(git_repo.path)
    commit = manager.start("exp1").commit
    names = git_repo.git("ls-tree", "--name-only", commit).split()
    assert "big.bin" not in names
    assert "small.txt" in names
    (large,) = manager.show("exp1").large_files
    assert (large.path, large.size) == ("big.bin", 5000)
    assert large.sha256 == hashlib.sha256(b"x" * 5000).hexdigest()


def test_ignored_files_are_not_recorded(git_repo: GitRepo) -> None:
    git_repo.write({".gitignore": "*.ckpt\n", "model.ckpt": "weights", "keep.py": "k"})
    commit = ExperimentManager(git_repo.path).start("exp1").commit
    names = git_repo.git("ls-tree", "--name-only", commit).split()
    assert "model.ckpt" not in names
    assert "keep.py" in names


def test_unborn_head(empty_repo: GitRepo) -> None:
    empty_repo.write({"a.py": "a"})
    before = empty_repo.fingerprint()
    checkpoint = ExperimentManager(empty_repo.path).start("exp1")
    assert checkpoint.head is None
    assert empty_repo.git("rev-list", "--parents", "-n1", checkpoint.commit).split() == [
        checkpoint.commit
    ]
    assert empty_repo.fingerprint() == before


def test_detached_head(git_repo: GitRepo) -> None:
    first = git_repo.git("rev-parse", "HEAD").strip()
    git_repo.write({"b.py": "b"})
    git_repo.commit("second")
    git_repo.git("checkout", "-q", "--detach", first)
    checkpoint = ExperimentManager(git_repo.path).start("exp1")
    assert (checkpoint.head, checkpoint.branch) == (first, None)
    assert git_repo.git("rev-parse", "HEAD").strip() == first


def test_from_subfolder_and_linked_worktree(git_repo: GitRepo, tmp_path: Path) -> None:
    (git_repo.path / "sub").mkdir()
    sub_manager = ExperimentManager(git_repo.path / "sub")
    assert sub_manager.root == git_repo.path
    sub_manager.start("exp1")
    linked = tmp_path / "linked"
    git_repo.git("worktree", "add", "-q", "-b", "other", str(linked))
    (linked / "only_here.py").write_text("x")
    manager = ExperimentManager(linked)
    checkpoint = manager.start("exp2")
    assert checkpoint.branch == "other"
    assert "only_here.py" in git_repo.git("ls-tree", "--name-only", checkpoint.commit)
    assert {s.id for s in manager.log()} == {"exp1", "exp2"}
    assert manager.repo.runtime_dir == git_repo.path / ".git" / "mlvc"


def test_no_identity_uses_fallback_without_writing_config(
    git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("AUTHOR", "COMMITTER"):
        monkeypatch.delenv(f"GIT_{var}_NAME")
        monkeypatch.delenv(f"GIT_{var}_EMAIL")
    monkeypatch.setenv("EMAIL", "")
    global_config = Path(os.environ["GIT_CONFIG_GLOBAL"])
    before = global_config.read_bytes()
    manager = ExperimentManager(git_repo.path)
    commit = manager.start("exp1").commit
    assert (
        git_repo.git("log", "-1", "--format=%an <%ae>", commit).strip() == "mlvc <mlvc@localhost>"
    )
    assert global_config.read_bytes() == before
    assert manager.show("exp1").environment["user"]


def test_repository_config_cannot_run_commands(git_repo: GitRepo, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for hook in ("reference-transaction", "post-checkout", "pre-commit"):
        script = hooks / hook
        script.write_text(f"#!/bin/sh\ntouch {marker}\n")
        script.chmod(0o755)
    git_repo.git("config", "core.hooksPath", str(hooks))
    git_repo.git("config", "core.fsmonitor", f"touch {marker}; echo")
    manager = ExperimentManager(git_repo.path)
    manager.start("exp1")
    manager.end("exp1", tag="t1")
    manager.status()
    manager.reproduce("exp1")
    assert not marker.exists()


@pytest.mark.parametrize(
    "bad", ["../evil", "-x", "a b", ""], ids=["traversal", "dash", "space", "empty"]
)
def test_bad_id_records_nothing(git_repo: GitRepo, bad: str) -> None:
    with pytest.raises(InvalidNameError, match="Invalid experiment id"):
        ExperimentManager(git_repo.path).start(bad)
    assert git_repo.git("for-each-ref", "refs/mlvc/") == ""


def test_existing_id_needs_resume_and_case_collisions_are_refused(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("Exp1")
    with pytest.raises(ExperimentExistsError, match="already exists.*\n.*--resume"):
        manager.start("Exp1")
    with pytest.raises(
        ExperimentExistsError, match="differs only by case from the existing 'Exp1'"
    ):
        manager.start("exp1")
    resumed = manager.start("Exp1", resume=True)
    assert (resumed.seq, resumed.message) == (2, "resumed")


def test_unknown_experiment_and_not_a_repository(git_repo: GitRepo, tmp_path: Path) -> None:
    with pytest.raises(ExperimentNotFoundError, match="'nope' does not exist"):
        ExperimentManager(git_repo.path).commit("nope")
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(NotARepositoryError, match="not inside a git working tree"):
        ExperimentManager(plain, init=False)
    with pytest.raises(MlvcError, match="Unknown end status 'weird'"):
        ExperimentManager(git_repo.path).end("nope", status="weird")


def test_new_folder_is_initialised_with_ml_gitignore(tmp_path: Path) -> None:
    project = tmp_path / "fresh" / "project"
    manager = ExperimentManager(project, init=True)
    assert (project / ".git").is_dir()
    assert git(project, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    gitignore = (project / ".gitignore").read_text()
    assert "*.ckpt" in gitignore
    assert "\n*.json\n" not in gitignore
    assert "\nmodels/\n" not in gitignore
    assert manager.status().state.value == "empty"


def test_existing_gitignore_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / ".gitignore").write_text("mine\n")
    ExperimentManager(tmp_path / "p", init=True)
    assert (tmp_path / "p" / ".gitignore").read_text() == "mine\n"


def test_stale_mlvc_lock_is_cleared(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("exp1")
    lock = git_repo.path / ".git" / "refs" / "mlvc" / "experiments" / "exp1.lock"
    lock.write_text("")
    old = time.time() - 120
    os.utime(lock, (old, old))
    other = ExperimentManager(git_repo.path)
    assert other.commit("exp1", message="after a crash").seq == 2
    assert not lock.exists()


_WORKER = """
import sys
from mlvc_jupyter.core.manager import ExperimentManager
manager = ExperimentManager(sys.argv[1])
for i in range(int(sys.argv[3])):
    manager.commit("shared", message=f"{sys.argv[2]}-{i}")
"""


@pytest.mark.slow
def test_two_processes_commit_to_one_experiment_and_nothing_is_lost(git_repo: GitRepo) -> None:
    ExperimentManager(git_repo.path).start("shared")
    before = git_repo.fingerprint()
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, str(git_repo.path), name, "20"])
        for name in ("a", "b")
    ]
    assert [p.wait(timeout=240) for p in procs] == [0, 0]
    history = ExperimentManager(git_repo.path).history("shared")
    messages = sorted(c.message for c in history)
    expected = sorted([f"{w}-{i}" for w in "ab" for i in range(20)] + ["started"])
    assert messages == expected
    assert [c.seq for c in history] == list(range(1, 42))
    subprocess.run(["git", "fsck", "--strict", "--no-dangling"], cwd=git_repo.path, check=True)
    assert git_repo.fingerprint() == before


def test_phase_timings_are_recorded(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("exp1")
    manager.commit("exp1")
    in_tree = manager.show("exp1").timings
    assert set(in_tree) == {"stage", "strip", "secrets"}  # the phases before the record
    logged = ExperimentManager(git_repo.path).timings()
    assert [(t["id"], t["seq"]) for t in logged] == [("exp1", 1), ("exp1", 2)]
    assert {"stage", "strip", "write_tree", "commit", "ref_update"} <= set(logged[-1])
    assert all(logged[-1][k] >= 0 for k in ("stage", "commit", "ref_update"))


def test_file_system_errors_become_clear_errors(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("exp1")
    scratch = git_repo.path / ".git" / "mlvc" / "tmp"
    scratch.rmdir()
    scratch.write_text("a file where mlvc keeps a folder")  # fails even for root
    with pytest.raises(MlvcError, match="commit failed: File exists") as info:
        manager.commit("exp1")
    assert not isinstance(info.value.__cause__, MlvcError)
    assert manager.history("exp1")[-1].seq == 1


def test_debris_of_dead_processes_is_swept_and_live_ones_kept(git_repo: GitRepo) -> None:
    tmp = git_repo.path / ".git" / "mlvc" / "tmp"
    tmp.mkdir(parents=True)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    dead_pid = int(dead.stdout)
    (tmp / f"index.{dead_pid}.1").write_text("torn")
    (tmp / f"index.{dead_pid}.1.lock").write_text("")
    (tmp / f"blobs.{dead_pid}.abc").mkdir()
    live = tmp / f"index.{os.getppid()}.7"
    live.write_text("someone else's")
    ExperimentManager(git_repo.path).start("exp1")
    assert sorted(p.name for p in tmp.iterdir()) == [live.name]


def test_a_live_lock_is_left_alone_and_named(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("exp1")
    lock = git_repo.path / ".git" / "refs" / "mlvc" / "experiments" / "exp1.lock"
    lock.write_text("")  # fresh: its owner may be alive
    manager.writer.max_wait = 0.5
    with pytest.raises(MlvcError, match=r"exp1\.lock has been held for 0.5 s\.\nIf no mlvc"):
        manager.commit("exp1")
    assert lock.exists()
    lock.unlink()
    assert manager.commit("exp1").seq == 2


def test_opening_a_folder_that_cannot_be_made_a_repository(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(MlvcError, match="is a file, not a folder"):
        ExperimentManager(blocker)
    with pytest.raises(MlvcError, match="Cannot create the folder"):
        ExperimentManager(blocker / "project", init=True)


def _reference_tree(repo: GitRepo, tmp_path: Path) -> dict[str, str]:
    """What plain git records for the working tree: a scratch index, `add -A`, `ls-tree`."""
    env = {**os.environ, "GIT_INDEX_FILE": str(tmp_path / "reference-index")}
    run = {"cwd": repo.path, "env": env, "check": True, "capture_output": True}
    subprocess.run(["git", "read-tree", "HEAD"], **run)
    subprocess.run(["git", "add", "-A"], **run)
    tree = subprocess.run(["git", "write-tree"], **run).stdout.decode().strip()
    return _entries(repo, tree)


def _entries(repo: GitRepo, rev: str) -> dict[str, str]:
    out = subprocess.run(
        ["git", "ls-tree", "-r", "-z", rev], cwd=repo.path, capture_output=True, check=True
    ).stdout.decode()
    entries = {}
    for line in filter(None, out.split("\0")):
        meta, path = line.split("\t", 1)
        if not path.startswith(".mlvc/"):
            entries[path] = meta
    return entries


WEIRD_NAMES = [
    "a b.py", "ünïcödé.py", "tab\there.py", "-leading-dash.py", ":(exclude)magic.py",
    "*.py", "new\nline.py", "dir with space/inner.py", "quote'\"s.py",
]  # fmt: skip


def test_snapshot_matches_what_git_add_would_record(dirty_repo: GitRepo, tmp_path: Path) -> None:
    dirty_repo.write({name: f"content of {name!r}\n" for name in WEIRD_NAMES})
    (dirty_repo.path / "train.py").chmod(0o755)
    (dirty_repo.path / "link").symlink_to("train.py")
    (dirty_repo.path / "README.md").unlink()
    commit = ExperimentManager(dirty_repo.path).start("exp1").commit
    ours, reference = _entries(dirty_repo, commit), _reference_tree(dirty_repo, tmp_path)
    notebooks = {p for p in reference if p.endswith(".ipynb")}
    assert {p: m for p, m in ours.items() if p not in notebooks} == {
        p: m for p, m in reference.items() if p not in notebooks
    }
    assert ours["train.py"].startswith("100755")
    assert ours["link"].startswith("120000")
    assert set(WEIRD_NAMES) <= set(ours)
    assert "README.md" not in ours
    assert notebooks == {p for p in ours if p.endswith(".ipynb")}


def test_submodules_are_recorded_as_their_commit(git_repo: GitRepo, tmp_path: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    git(library, "init", "-q", "-b", "main")
    (library / "lib.py").write_text("x = 1\n")
    git(library, "add", "-A")
    git(library, "commit", "-q", "-m", "lib")
    git_repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "lib")
    git_repo.commit("add a submodule")
    (git_repo.path / "lib" / "lib.py").write_text("x = 2  # dirty inside the submodule\n")
    before = git_repo.fingerprint()
    commit = ExperimentManager(git_repo.path).start("exp1").commit
    head_of_lib = git(library, "rev-parse", "HEAD").strip()
    assert _entries(git_repo, commit)["lib"] == f"160000 commit {head_of_lib}"
    (warning,) = ExperimentManager(git_repo.path).show("exp1").warnings
    assert warning.startswith("Submodule 'lib' has uncommitted changes")
    assert git_repo.fingerprint() == before


_OTHER_WORKER = """
import sys
from mlvc_jupyter.core.manager import ExperimentManager
manager = ExperimentManager(sys.argv[1])
manager.start(sys.argv[2])
for i in range(10):
    manager.commit(sys.argv[2], message=str(i))
"""


def test_writers_of_different_experiments_do_not_interfere(git_repo: GitRepo) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", _OTHER_WORKER, str(git_repo.path), name])
        for name in ("left", "right")
    ]
    assert [p.wait(timeout=240) for p in procs] == [0, 0]
    manager = ExperimentManager(git_repo.path)
    for name in ("left", "right"):
        assert [c.message for c in manager.history(name)] == ["started", *map(str, range(10))]
    subprocess.run(["git", "fsck", "--strict", "--no-dangling"], cwd=git_repo.path, check=True)


@pytest.mark.parametrize("bad", [None, 42, b"bytes"], ids=["none", "int", "bytes"])
def test_a_project_root_must_be_a_path(bad: object) -> None:
    with pytest.raises(NotARepositoryError, match="Expected a folder path"):
        ExperimentManager(bad)  # type: ignore[arg-type]  # the point of the test
