"""`mlvc filter install --merge`: git merges notebooks cell by cell through nbdime's driver."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from mlvc_jupyter.core.notebooks.gitfilter import install_merge_driver, uninstall_merge_driver
from mlvc_jupyter.errors import MlvcError
from tests.conftest import GitRepo

WORKTREE = Path(__file__).resolve().parents[2]


def _notebook(first: str, second: str) -> str:
    """A notebook on one line: any two edits collide for git's line-based merge."""
    cells = [
        {"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
         "outputs": [], "source": [source]}
        for i, source in enumerate((first, second))
    ]  # fmt: skip
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def _diverge(repo: GitRepo) -> None:
    """main changes the first cell, branch `other` the second; main is checked out."""
    repo.write({"nb.ipynb": _notebook("a = 1", "b = 2")})
    repo.commit("notebook")
    repo.git("switch", "-q", "-c", "other")
    repo.write({"nb.ipynb": _notebook("a = 1", "b = 20")})
    repo.commit("second cell")
    repo.git("switch", "-q", "main")
    repo.write({"nb.ipynb": _notebook("a = 10", "b = 2")})
    repo.commit("first cell")


def _merge(repo: GitRepo) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "merge", "--no-edit", "other"], cwd=repo.path, capture_output=True, text=True,
        check=False,
    )  # fmt: skip


def test_without_the_driver_git_conflicts(git_repo: GitRepo) -> None:
    _diverge(git_repo)
    assert _merge(git_repo).returncode != 0
    assert "<<<<<<<" in (git_repo.path / "nb.ipynb").read_text()


def test_with_nbdime_s_driver_git_merges_different_cells(git_repo: GitRepo) -> None:
    install_merge_driver(git_repo.path)
    _diverge(git_repo)
    merged = _merge(git_repo)
    assert merged.returncode == 0, merged.stderr
    text = (git_repo.path / "nb.ipynb").read_text()
    assert "<<<<<<<" not in text
    sources = [cell["source"] for cell in json.loads(text)["cells"]]
    assert sources in (["a = 10", "b = 20"], [["a = 10"], ["b = 20"]])


def test_cli_filter_install_merge_configures_both_drivers(
    git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(WORKTREE))  # git add runs the strip filter: this copy
    proc = subprocess.run(
        [sys.executable, "-m", "mlvc_jupyter", "-C", str(git_repo.path), "filter", "install",
         "--merge"], capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "merge.jupyternotebook.driver" in proc.stdout
    attr = git_repo.git("check-attr", "merge", "diff", "filter", "--", "nb.ipynb")
    assert "merge: jupyternotebook" in attr
    assert "diff: jupyternotebook" in attr
    assert "filter: mlvc-strip" in attr
    assert git_repo.git("status", "--porcelain") == ""  # nothing tracked was written


def test_install_twice_then_uninstall_leaves_other_lines(git_repo: GitRepo) -> None:
    attributes = git_repo.path / ".git" / "info" / "attributes"
    attributes.parent.mkdir(exist_ok=True)
    attributes.write_text("*.csv -diff\n")
    install_merge_driver(git_repo.path)
    install_merge_driver(git_repo.path)
    assert attributes.read_text().count("merge=jupyternotebook") == 1
    uninstall_merge_driver(git_repo.path)
    assert attributes.read_text() == "*.csv -diff\n"
    assert "jupyternotebook" not in git_repo.git("config", "--local", "--list")


def test_without_nbdime_it_says_how_to_get_it(git_repo: GitRepo, tmp_path: Path) -> None:
    env_dir = tmp_path / "bare-env"
    venv.create(env_dir, with_pip=False)  # no site-packages of ours: no nbdime
    python = env_dir / "bin" / "python"
    with pytest.raises(MlvcError, match="nbdime is not installed") as caught:
        install_merge_driver(git_repo.path, python=str(python))
    assert "pip install nbdime" in (caught.value.hint or "")
    assert "jupyternotebook" not in git_repo.git("config", "--local", "--list")
