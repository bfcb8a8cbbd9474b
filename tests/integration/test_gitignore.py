"""`mlvc init` on an existing repository: lists the missing ML .gitignore entries, appends them
only with --gitignore, and never changes a line of the user's."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlvc_jupyter.cli import main
from mlvc_jupyter.core.repo.gitignore import (
    add_missing_entries,
    missing_entries,
    ml_entries,
)
from tests.conftest import GitRepo

USER_LINES = "# mine\n/data/\n!*.csv\nnotes.txt\n*.log   "  # no newline at the end


def test_init_without_the_flag_lists_and_writes_nothing(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    git_repo.write({".gitignore": USER_LINES})
    assert main(["-C", str(git_repo.path), "init"]) == 0
    out = capsys.readouterr().out
    assert "(nothing changed)" in out
    assert "lacks" in out
    assert "mlvc init --gitignore" in out
    assert (git_repo.path / ".gitignore").read_text() == USER_LINES


def test_init_with_the_flag_appends_only_what_is_missing(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    git_repo.write({".gitignore": USER_LINES})
    assert main(["-C", str(git_repo.path), "init", "--gitignore"]) == 0
    assert "Added" in capsys.readouterr().out
    text = (git_repo.path / ".gitignore").read_text()
    assert text.startswith(USER_LINES + "\n\n# ML entries added by mlvc-jupyter")
    added = text[len(USER_LINES) :].splitlines()
    assert "data/" not in added  # the user's /data/ covers it
    assert "*.csv" not in added  # the user negated it: appending would undo their choice
    assert "*.log" not in added  # trailing spaces do not make it another entry
    assert "*.pt" in added
    assert missing_entries(git_repo.path).missing == []
    assert add_missing_entries(git_repo.path).added == []  # idempotent
    assert (git_repo.path / ".gitignore").read_text() == text


def test_a_repository_without_gitignore_gets_every_entry(git_repo: GitRepo) -> None:
    report = add_missing_entries(git_repo.path)
    assert report.added == ml_entries()
    assert (git_repo.path / ".gitignore").read_text().splitlines()[1:] == ml_entries()


def test_a_new_repository_lacks_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path / "fresh")]) == 0
    out = capsys.readouterr().out
    assert "Initialised a git repository" in out
    assert "of the ML entries" not in out
    assert missing_entries(tmp_path / "fresh").missing == []
