"""The git clean filter: installed idempotently, removed without touching the user's lines."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

import mlvc_jupyter
from mlvc_jupyter.core.notebooks.gitfilter import (
    ATTRIBUTES_LINE,
    CLEAN_COMMAND,
    filter_status,
    install_filter,
    uninstall_filter,
)
from mlvc_jupyter.core.notebooks.strip import strip_bytes
from mlvc_jupyter.errors import NotARepositoryError

if TYPE_CHECKING:
    from tests.conftest import GitRepo

PROJECT_ROOT = Path(mlvc_jupyter.__file__).resolve().parent.parent
# The `mlvc` console script belongs to the CLI; this stand-in runs the same strip_bytes.
STAND_IN_CLEAN = shlex.join(
    [
        sys.executable,
        "-c",
        "import sys; from mlvc_jupyter.core.notebooks.strip import strip_bytes; "
        "sys.stdout.buffer.write(strip_bytes(sys.stdin.buffer.read()))",
    ]
)


def _attributes(repo: GitRepo) -> Path:
    return repo.path / ".git" / "info" / "attributes"


def _config(repo: GitRepo, key: str) -> str:
    return repo.git("config", "--local", "--get-all", key).strip()


def _executed_notebook() -> bytes:
    cell = new_code_cell("print('hi')", id="c1", execution_count=7)
    cell.outputs = [new_output("stream", name="stdout", text="hi\n")]
    return (nbformat.writes(new_notebook(cells=[cell])) + "\n").encode()


def test_status_of_a_fresh_repository(git_repo: GitRepo) -> None:
    status = filter_status(git_repo.path)

    assert status.to_dict() == {
        "installed": False,
        "attributes_path": str(_attributes(git_repo)),
        "clean_command": "",
    }


def test_install_twice_writes_one_line_and_sets_the_config(git_repo: GitRepo) -> None:
    install_filter(git_repo.path)
    status = install_filter(git_repo.path)

    assert status.installed
    assert status.clean_command == CLEAN_COMMAND == "mlvc strip --stdin"
    assert _attributes(git_repo).read_text().splitlines().count(ATTRIBUTES_LINE) == 1
    assert _config(git_repo, "filter.mlvc-strip.clean") == "mlvc strip --stdin"
    assert _config(git_repo, "filter.mlvc-strip.required") == "false"
    assert git_repo.git("check-attr", "filter", "a/b.ipynb") == "a/b.ipynb: filter: mlvc-strip\n"


def test_install_writes_nothing_tracked(git_repo: GitRepo) -> None:
    install_filter(git_repo.path)

    assert git_repo.git("status", "--porcelain") == ""
    assert not (git_repo.path / ".gitattributes").exists()


def test_install_creates_a_missing_info_directory(empty_repo: GitRepo) -> None:
    for child in (empty_repo.path / ".git" / "info").iterdir():
        child.unlink()
    (empty_repo.path / ".git" / "info").rmdir()

    assert install_filter(empty_repo.path).installed
    assert _attributes(empty_repo).read_text() == ATTRIBUTES_LINE + "\n"


def test_install_from_a_subdirectory_and_a_linked_worktree_share_one_file(
    git_repo: GitRepo, tmp_path: Path
) -> None:
    (git_repo.path / "sub").mkdir()
    git_repo.git("worktree", "add", "-q", str(tmp_path / "wt"))

    from_sub = install_filter(git_repo.path / "sub")
    from_worktree = install_filter(tmp_path / "wt")

    assert from_sub.attributes_path == from_worktree.attributes_path == str(_attributes(git_repo))
    assert _attributes(git_repo).read_text().count(ATTRIBUTES_LINE) == 1


@pytest.mark.parametrize(
    ("user_content", "after_uninstall"),
    [
        pytest.param(None, b"", id="no-file"),
        pytest.param(b"", b"", id="empty-file"),
        pytest.param(b"*.csv diff=csv\n", b"*.csv diff=csv\n", id="one-line"),
        pytest.param(
            b"# mine\n*.png binary\n\n*.ipynb diff=jupyternotebook\n",
            b"# mine\n*.png binary\n\n*.ipynb diff=jupyternotebook\n",
            id="many-lines",
        ),
        # The line end install added before its line stays: the user's line is unchanged.
        pytest.param(b"*.csv -text", b"*.csv -text\n", id="no-final-newline"),
        pytest.param(
            b"*.csv -text\r\n*.bin binary\r\n", b"*.csv -text\r\n*.bin binary\r\n", id="crlf"
        ),
    ],
)
def test_uninstall_leaves_the_users_attributes_as_they_were(
    git_repo: GitRepo, user_content: bytes | None, after_uninstall: bytes
) -> None:
    attributes = _attributes(git_repo)
    if user_content is not None:
        attributes.write_bytes(user_content)

    installed = install_filter(git_repo.path)
    with_filter = attributes.read_bytes()
    removed = uninstall_filter(git_repo.path)

    assert installed.installed
    assert not removed.installed
    assert with_filter.splitlines()[-1] == ATTRIBUTES_LINE.encode()
    assert attributes.read_bytes() == after_uninstall
    assert git_repo.git("check-attr", "filter", "x.ipynb") == "x.ipynb: filter: unspecified\n"


def test_uninstall_removes_only_our_config_section(git_repo: GitRepo) -> None:
    git_repo.git("config", "filter.other.clean", "other-tool")
    git_repo.git("config", "core.autocrlf", "input")
    install_filter(git_repo.path)

    status = uninstall_filter(git_repo.path)

    assert status.clean_command == ""
    assert git_repo.git("config", "--local", "--get-regexp", "^filter\\.").strip() == (
        "filter.other.clean other-tool"
    )
    assert _config(git_repo, "core.autocrlf") == "input"


def test_uninstall_when_not_installed_changes_nothing(git_repo: GitRepo) -> None:
    _attributes(git_repo).write_bytes(b"*.csv diff=csv\n")

    status = uninstall_filter(git_repo.path)

    assert not status.installed
    assert _attributes(git_repo).read_bytes() == b"*.csv diff=csv\n"


def test_add_stores_a_stripped_blob_and_leaves_the_working_file(
    git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(PROJECT_ROOT))
    install_filter(git_repo.path)
    git_repo.git("config", "filter.mlvc-strip.clean", STAND_IN_CLEAN)
    raw = _executed_notebook()
    git_repo.write({"nb/train.ipynb": raw})

    git_repo.commit("add notebook")

    stored = git_repo.git("cat-file", "blob", "HEAD:nb/train.ipynb").encode()
    assert stored == strip_bytes(raw) != raw
    assert (git_repo.path / "nb" / "train.ipynb").read_bytes() == raw


def test_after_uninstall_add_stores_the_raw_notebook(
    git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(PROJECT_ROOT))
    install_filter(git_repo.path)
    git_repo.git("config", "filter.mlvc-strip.clean", STAND_IN_CLEAN)
    uninstall_filter(git_repo.path)
    raw = _executed_notebook()
    git_repo.write({"train.ipynb": raw})

    git_repo.commit("add notebook")

    assert git_repo.git("cat-file", "blob", "HEAD:train.ipynb").encode() == raw


def test_outside_a_repository_raises(tmp_path: Path) -> None:
    with pytest.raises(NotARepositoryError, match="is not inside a git working tree"):
        install_filter(tmp_path)
