"""`mlvc filter` and `mlvc strip --filter`: the git clean filter, driven as a user drives it.

The filter runs this interpreter (`sys.executable -m mlvc_jupyter`), the command `mlvc filter
install` writes, so these tests need no console script on PATH and always run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mlvc_jupyter
from mlvc_jupyter import ExperimentManager
from tests.conftest import GitRepo
from tests.integration.test_cli import mlvc, notebook

PROJECT_ROOT = Path(mlvc_jupyter.__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _filter_imports_this_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    """git runs the filter in a new process: let it import this checkout, installed or not."""
    monkeypatch.setenv("PYTHONPATH", str(PROJECT_ROOT))


def test_filter_install_makes_git_add_store_stripped_notebooks(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = mlvc(capsys, git_repo.path, "filter", "status")
    assert (code, out.startswith("Not installed")) == (0, True)
    for _ in range(2):  # idempotent
        code, out, _ = mlvc(capsys, git_repo.path, "filter", "install")
        assert (code, out.startswith("Installed")) == (0, True)
        assert f"{sys.executable} -m mlvc_jupyter strip" in out
    assert (git_repo.path / ".git/info/attributes").read_text().count("mlvc-strip") == 1
    git_repo.write({"nb.ipynb": notebook()})
    git_repo.git("add", "nb.ipynb")
    stored = json.loads(git_repo.git("cat-file", "-p", ":nb.ipynb"))
    assert stored["cells"][0]["outputs"] == []
    assert json.loads((git_repo.path / "nb.ipynb").read_text())["cells"][0]["outputs"]
    code, out, _ = mlvc(capsys, git_repo.path, "filter", "uninstall")
    assert (code, out.startswith("Not installed")) == (0, True)
    git_repo.write({"nb2.ipynb": notebook()})
    git_repo.git("add", "nb2.ipynb")
    assert json.loads(git_repo.git("cat-file", "-p", ":nb2.ipynb"))["cells"][0]["outputs"]


@pytest.mark.parametrize(
    ("clean", "problem"),
    [
        pytest.param("'/gone/venv/bin/python' -m mlvc_jupyter strip --filter=%f",
                     "error: The filter's interpreter '/gone/venv/bin/python' does not exist.",
                     id="interpreter-gone"),
        pytest.param("mlvc strip --stdin", "error: The clean command `mlvc strip --stdin` runs "
                     "`mlvc` from PATH", id="older-install-from-path"),
    ],
)  # fmt: skip
def test_filter_status_names_a_filter_that_cannot_run_and_exits_1(
    clean: str, problem: str, git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    mlvc(capsys, git_repo.path, "filter", "install")
    git_repo.git("config", "filter.mlvc-strip.clean", clean)

    code, out, err = mlvc(capsys, git_repo.path, "filter", "status")

    assert code == 1
    assert out.startswith(f"Installed: git add stores notebooks stripped by `{clean}`.")
    assert err.startswith(problem)
    assert "hint: Until it can run, git add cannot strip notebooks." in err
    assert "Run `mlvc filter install`" in err


def test_strip_filter_passes_an_unreadable_notebook_through_with_a_warning(tmp_path: Path) -> None:
    broken = b'{"cells": ['
    proc = subprocess.run(
        [sys.executable, "-m", "mlvc_jupyter", "-C", str(tmp_path), "strip", "--filter=a b.ipynb"],
        input=broken, capture_output=True, timeout=60, check=False,
    )  # fmt: skip

    assert (proc.returncode, proc.stdout) == (0, broken)
    assert proc.stderr.decode().startswith("warning: a b.ipynb: The notebook is not valid JSON")


def test_strip_stdin_still_fails_on_an_unreadable_notebook(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mlvc_jupyter", "-C", str(tmp_path), "strip", "--stdin"],
        input=b'{"cells": [', capture_output=True, timeout=60, check=False,
    )  # fmt: skip

    assert (proc.returncode, proc.stdout) == (1, b"")
    assert proc.stderr.decode().startswith("error: The notebook is not valid JSON")


def test_a_broken_notebook_filter_never_blocks_a_checkpoint(git_repo: GitRepo) -> None:
    """Checkpoints strip notebooks themselves: a notebook filter is never run, even broken.

    git's status re-reads a file through its clean filter when the stat data changed but the
    size did not (a notebook saved again, or only touched): that is the case tested.
    """
    git_repo.write({"nb.ipynb": notebook(), ".gitattributes": "*.ipynb filter=broken\n"})
    git_repo.commit("notebook")
    marker = git_repo.path.parent / "filter-ran"
    git_repo.git("config", "filter.broken.clean", f"touch '{marker}'; exit 1")
    git_repo.git("config", "filter.broken.required", "true")
    path = git_repo.path / "nb.ipynb"
    later = path.stat().st_mtime + 10
    os.utime(path, (later, later))
    commit = ExperimentManager(git_repo.path).start("e1").commit
    stored = json.loads(git_repo.git("cat-file", "-p", f"{commit}:nb.ipynb"))
    assert stored["cells"][0]["outputs"] == []
    assert not marker.exists()
