"""The git clean filter: installed idempotently, removed without touching the user's lines."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import venv
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

import mlvc_jupyter
from mlvc_jupyter.core.notebooks.gitfilter import (
    ATTRIBUTES_LINE,
    clean_command,
    filter_status,
    install_filter,
    uninstall_filter,
)
from mlvc_jupyter.core.notebooks.strip import strip_bytes
from mlvc_jupyter.errors import NotARepositoryError

if TYPE_CHECKING:
    from tests.conftest import GitRepo

PROJECT_ROOT = Path(mlvc_jupyter.__file__).resolve().parent.parent
# What the filter runs: this interpreter, importing mlvc_jupyter as a user's venv would.
FILTER_ARGV = [sys.executable, "-m", "mlvc_jupyter", "strip", "--filter=%f"]


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
        "problem": "",
    }


def test_install_twice_writes_one_line_and_sets_the_config(git_repo: GitRepo) -> None:
    install_filter(git_repo.path)
    status = install_filter(git_repo.path)

    assert (status.installed, status.problem) == (True, "")
    assert shlex.split(status.clean_command) == FILTER_ARGV
    assert _attributes(git_repo).read_text().splitlines().count(ATTRIBUTES_LINE) == 1
    assert _config(git_repo, "filter.mlvc-strip.clean") == status.clean_command
    assert _config(git_repo, "filter.mlvc-strip.required") == "true"
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
    uninstall_filter(git_repo.path)
    raw = _executed_notebook()
    git_repo.write({"train.ipynb": raw})

    git_repo.commit("add notebook")

    assert git_repo.git("cat-file", "blob", "HEAD:train.ipynb").encode() == raw


def test_outside_a_repository_raises(tmp_path: Path) -> None:
    with pytest.raises(NotARepositoryError, match="is not inside a git working tree"):
        install_filter(tmp_path)


# -- the filter runs where the environment is not on PATH, or says it cannot ----------------------


def _interpreter_in_a_folder_with_spaces(tmp_path: Path) -> str:
    folder = tmp_path / "my env's bin (copy)"
    folder.mkdir()
    (folder / "python").symlink_to(sys.executable)
    return str(folder / "python")


@pytest.mark.parametrize(
    "python",
    [pytest.param(None, id="this-interpreter"), pytest.param("spaces", id="path-with-spaces")],
)
def test_add_from_a_shell_without_the_environment_stores_a_stripped_blob(
    python: str | None, git_repo: GitRepo, tmp_path: Path
) -> None:
    interpreter = _interpreter_in_a_folder_with_spaces(tmp_path) if python else None
    assert install_filter(git_repo.path, python=interpreter).problem == ""
    raw = _executed_notebook()
    git_repo.write({"nb/train.ipynb": raw})

    # A shell without the venv on PATH; PYTHONPATH stands in for the package a venv has installed.
    bare_env = ["env", "-i", "PATH=/usr/bin:/bin", f"PYTHONPATH={PROJECT_ROOT}"]
    subprocess.run([*bare_env, "git", "add", "nb/train.ipynb"], cwd=git_repo.path, check=True)

    assert git_repo.git("cat-file", "blob", ":nb/train.ipynb").encode() == strip_bytes(raw) != raw


def test_add_of_an_unreadable_notebook_stores_it_as_it_is_with_a_warning(
    git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(PROJECT_ROOT))
    install_filter(git_repo.path)
    conflicted = b"<<<<<<< HEAD\n{}\n=======\n[]\n>>>>>>> other\n"
    git_repo.write({"odd name.ipynb": conflicted})

    proc = subprocess.run(
        ["git", "add", "odd name.ipynb"], cwd=git_repo.path, capture_output=True, check=True
    )

    assert git_repo.git("cat-file", "blob", ":odd name.ipynb").encode() == conflicted
    assert b"warning: odd name.ipynb: The notebook contains git merge conflict" in proc.stderr


def _not_executable(tmp_path: Path) -> str:
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    return str(script)


def _without_mlvc(tmp_path: Path) -> str:
    venv.create(tmp_path / "venv", with_pip=False)
    return str(tmp_path / "venv" / "bin" / "python")


@pytest.mark.parametrize(
    ("make_python", "problem"),
    [
        pytest.param(lambda _: "/no dir/python", "'/no dir/python' does not exist", id="missing"),
        pytest.param(_not_executable, "is not executable", id="not-executable"),
        pytest.param(_without_mlvc, "No module named mlvc_jupyter", id="not-importable"),
    ],
)  # fmt: skip
def test_status_reports_an_interpreter_that_cannot_run_the_filter(
    make_python: object, problem: str, git_repo: GitRepo, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.delenv("PYTHONPATH", raising=False)  # the venv must not see this checkout
    python = make_python(tmp_path)  # type: ignore[operator]  # one of the makers above

    status = install_filter(git_repo.path, python=python)

    assert status.installed
    assert shlex.split(status.clean_command)[0] == python
    assert problem in status.problem
    assert filter_status(git_repo.path).problem == status.problem


def test_status_reports_a_command_that_depends_on_path(git_repo: GitRepo) -> None:
    install_filter(git_repo.path)
    git_repo.git("config", "filter.mlvc-strip.clean", "mlvc strip --stdin")  # an older install

    status = filter_status(git_repo.path)

    assert status.installed
    assert "runs `mlvc` from PATH" in status.problem


def test_clean_command_quotes_the_interpreter_for_the_shell() -> None:
    command = clean_command("/opt/my env/it's/python")

    assert shlex.split(command) == ["/opt/my env/it's/python", *FILTER_ARGV[1:]]
    assert os.path.isabs(shlex.split(clean_command())[0])
