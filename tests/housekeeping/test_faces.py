"""The faces of promotion and retention: %vc_tag/%vc_branch options, %vc_rm, %vc_gc, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from IPython.core.interactiveshell import InteractiveShell

from mlvc_jupyter.display import TagsView
from mlvc_jupyter.magics.housekeeping import HousekeepingMagics
from tests.conftest import GitRepo
from tests.integration.test_magics import displayed, run, usage_error

WORKTREE = Path(__file__).resolve().parents[2]


def mlvc(repo: GitRepo, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(WORKTREE)}
    proc = subprocess.run(
        [sys.executable, "-m", "mlvc_jupyter", "-C", str(repo.path), *args],
        capture_output=True, text=True, env=env, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert (proc.returncode == 0) == ok, proc.stderr
    return proc


def test_help_of_the_housekeeping_magics(shell: InteractiveShell) -> None:
    magics = shell.magics_manager.registry["HousekeepingMagics"]
    assert isinstance(magics, HousekeepingMagics)
    assert "\nRemove experiments (kept in the trash for 14 days" in magics.vc_rm.__doc__
    assert "\nRemove experiments by policy (plan shown first)" in magics.vc_gc.__doc__


def test_tag_bump_list_delete_and_clean_branch_magics(
    shell: InteractiveShell, git_repo: GitRepo
) -> None:
    run(shell, "%vc_start a\n%vc_end")
    run(shell, "%vc_tag a --bump minor --prefix m-")
    listed = run(shell, "%vc_tag --list a")
    assert isinstance(listed, TagsView)
    assert [t.name for t in listed.record] == ["m-v0.1.0"]
    run(shell, "%vc_tag --delete m-v0.1.0")
    assert git_repo.git("tag").split() == []
    assert "either a tag name or --bump" in usage_error(shell, "%vc_tag a")
    run(shell, "%vc_branch a promoted --clean")
    assert ".mlvc/" not in git_repo.git("ls-tree", "-r", "--name-only", "promoted")


def test_rm_undo_and_gc_magics(shell: InteractiveShell, git_repo: GitRepo) -> None:
    run(shell, "%vc_start a\n%vc_end --status failed\n%vc_start b\n%vc_end")
    shown, _ = displayed(shell, "%vc_rm a")
    assert "%vc_rm --undo a" in shown[0]
    run(shell, "%vc_rm --undo a")
    shown, _ = displayed(shell, "%vc_gc --failed --dry-run")
    assert "Will remove 1 of 2 experiments" in shown[0]
    assert "refs/mlvc/experiments/a" in git_repo.git("for-each-ref")
    shown, _ = displayed(shell, "%vc_gc --failed")
    assert "Removed 1 of 2 experiments" in shown[-1]
    assert "Loose objects" in shown[-1]
    assert "refs/mlvc/experiments/a" not in git_repo.git("for-each-ref")


def test_cli_rm_gc_and_tag_forms(git_repo: GitRepo) -> None:
    for exp, status in (("a", "failed"), ("b", "success")):
        mlvc(git_repo, "start", exp)
        mlvc(git_repo, "end", exp, "--status", status)
    out = mlvc(git_repo, "rm", "b").stdout
    assert "mlvc rm --undo b" in out
    mlvc(git_repo, "rm", "--undo", "b")
    plan = mlvc(git_repo, "gc", "--failed", "--dry-run").stdout
    assert "Will remove 1 of 2" in plan
    assert "Dry run" in plan
    done = mlvc(git_repo, "gc", "--failed").stdout  # stdin is not a terminal: no question
    assert "Removed 1 of 2" in done
    assert mlvc(git_repo, "tag", "b", "--bump", "patch").stdout.strip().endswith("'v0.0.1'.")
    assert "v0.0.1" in mlvc(git_repo, "tag", "--list").stdout
    mlvc(git_repo, "tag", "--delete", "v0.0.1")
    assert "either a tag name or --bump" in mlvc(git_repo, "tag", "b", ok=False).stderr
    mlvc(git_repo, "branch", "b", "to-merge", "--clean")
    git_repo.git("merge", "-q", "--no-edit", "to-merge")
    assert not (git_repo.path / ".mlvc").exists()


def test_cli_gc_asks_on_a_terminal_and_no_changes_nothing(git_repo: GitRepo) -> None:
    import pty

    mlvc(git_repo, "start", "a")
    mlvc(git_repo, "end", "a", "--status", "failed")
    controller, terminal = pty.openpty()
    os.write(controller, b"n\n")
    env = {**os.environ, "PYTHONPATH": str(WORKTREE)}
    proc = subprocess.run(
        [sys.executable, "-m", "mlvc_jupyter", "-C", str(git_repo.path), "gc", "--failed"],
        stdin=terminal, capture_output=True, text=True, env=env, check=False, timeout=120,
    )  # fmt: skip
    os.close(controller)
    os.close(terminal)
    assert proc.returncode == 1
    assert "Will remove 1 of 1" in proc.stdout
    assert "Nothing was changed." in proc.stdout
    assert "refs/mlvc/experiments/a" in git_repo.git("for-each-ref")
