"""Every verb of CONTRIBUTING.md's table, run as a real `mlvc` process, checked by its effect.

Each test asserts what the verb did to the repository (a ref moved, a file restored, a branch
made), its exit status and that its output names the thing; so a face cannot drift from core
unnoticed (`mlvc restore <id>` once passed a path where an id was meant).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mlvc_jupyter
from mlvc_jupyter.core.manager import ExperimentManager
from tests.conftest import GitRepo

PACKAGE_ROOT = str(Path(mlvc_jupyter.__file__).resolve().parent.parent)


def run(repo: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `python -m mlvc_jupyter -C repo args...` as a shell would."""
    env = {**os.environ, "PYTHONPATH": PACKAGE_ROOT}
    proc = subprocess.run(
        [sys.executable, "-m", "mlvc_jupyter", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert (proc.returncode == 0) == ok, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return proc


def tip(repo: GitRepo, experiment_id: str) -> str:
    return repo.git("rev-parse", f"refs/mlvc/experiments/{experiment_id}").strip()


@pytest.fixture
def ended(git_repo: GitRepo) -> GitRepo:
    """Experiment x (lr 0.1, params.json at 0.1) ended; the working file then moves on."""
    git_repo.write({"configs/params.json": '{"lr": 0.1}\n'})
    manager = ExperimentManager(git_repo.path)
    manager.start("x", configs={"lr": 0.1})
    manager.end("x", metrics={"acc": 0.9})
    git_repo.write({"configs/params.json": '{"lr": 0.5}\n'})
    return git_repo


def test_init(tmp_path: Path) -> None:
    proc = run(tmp_path, "init", "proj")
    assert (tmp_path / "proj" / ".git").is_dir()
    assert f"Initialised a git repository in {tmp_path / 'proj'}" in proc.stdout


def test_status(ended: GitRepo) -> None:
    proc = run(ended.path, "status")
    assert "main" in proc.stdout
    assert "configs/params.json" in proc.stdout


def test_start_commit_end(git_repo: GitRepo) -> None:
    head = git_repo.git("rev-parse", "HEAD")
    proc = run(git_repo.path, "start", "y", "-m", "baseline")
    first = tip(git_repo, "y")
    assert "Started y" in proc.stdout
    assert first[:8] in proc.stdout
    git_repo.write({"train.py": "print('tuned')\n"})
    proc = run(git_repo.path, "commit", "y", "-m", "epoch 1", "--metrics", "loss=0.3")
    second = tip(git_repo, "y")
    assert git_repo.git("rev-parse", f"{second}^").strip() == first
    assert git_repo.git("show", f"{second}:train.py") == "print('tuned')\n"
    assert f"checkpoint 2 of y: {second[:8]}" in proc.stdout
    proc = run(git_repo.path, "end", "y", "--metrics", "acc=0.8", "--tag", "v1")
    third = tip(git_repo, "y")
    assert git_repo.git("rev-parse", f"{third}^").strip() == second
    assert git_repo.git("rev-parse", "v1^{commit}").strip() == third
    assert "Ended y (success)" in proc.stdout
    assert "tagged v1" in proc.stdout
    assert git_repo.git("rev-parse", "HEAD") == head


def test_log_show_diff(ended: GitRepo) -> None:
    ExperimentManager(ended.path).start("z", configs={"lr": 0.01})
    assert {"x", "z"} <= set(run(ended.path, "log").stdout.split())
    shown = json.loads(run(ended.path, "show", "x", "--json").stdout)
    assert shown["configs"] == {"lr": 0.1}
    assert "acc" in run(ended.path, "show", "x").stdout
    diff = run(ended.path, "diff", "x", "z").stdout
    assert "lr" in diff
    assert "0.01" in diff


def test_tag_and_branch(ended: GitRepo) -> None:
    proc = run(ended.path, "tag", "x", "best")
    assert ended.git("rev-parse", "best^{commit}").strip() == tip(ended, "x")
    assert "'best'" in proc.stdout
    proc = run(ended.path, "tag", "x", "Best", ok=False)
    assert "differs only by case" in proc.stderr
    proc = run(ended.path, "branch", "x")
    assert ended.git("rev-parse", "refs/heads/mlvc/x").strip() == tip(ended, "x")
    assert "mlvc/x" in proc.stdout


def test_reproduce(ended: GitRepo, tmp_path: Path) -> None:
    target = tmp_path / "repro"
    proc = run(ended.path, "reproduce", "x", "--dir", str(target))
    assert (target / "configs/params.json").read_text() == '{"lr": 0.1}\n'
    assert str(target) in proc.stdout
    assert (ended.path / "configs/params.json").read_text() == '{"lr": 0.5}\n'


def test_restore_an_experiment_by_id(ended: GitRepo) -> None:
    proc = run(ended.path, "restore", "x")
    assert (ended.path / "configs/params.json").read_text() == '{"lr": 0.1}\n'
    safety = proc.stdout.split("saved in ", 1)[1].split()[0]
    assert ended.git("show", f"{safety}:configs/params.json") == '{"lr": 0.5}\n'
    assert "x" in proc.stdout


def test_restore_a_config_snapshot_relative_to_dash_c(ended: GitRepo) -> None:
    snapshot = ExperimentManager(ended.path).save_configs({"lr": 0.5})
    ended.write({"configs/params.json": '{"lr": 9}\n'})
    relative = snapshot.relative_to(ended.path)
    run(ended.path, "restore", str(relative))
    assert (ended.path / "configs/params.json").read_text() == '{"lr": 0.5}\n'


def test_restore_of_an_unknown_source_names_it(ended: GitRepo) -> None:
    proc = run(ended.path, "restore", "nope", ok=False)
    assert "'nope'" in proc.stderr
    assert proc.returncode == 1


def test_strip(tmp_path: Path) -> None:
    cell = {
        "cell_type": "code", "execution_count": 1, "id": "c", "metadata": {},
        "outputs": [{"name": "stdout", "output_type": "stream", "text": "hi\n"}],
        "source": "print('hi')",
    }  # fmt: skip
    nb = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "a.ipynb").write_text(json.dumps(nb))
    proc = run(tmp_path, "strip", "a.ipynb")
    stripped = json.loads((tmp_path / "a.ipynb").read_text())
    assert stripped["cells"][0]["outputs"] == []
    assert "stripped a.ipynb" in proc.stdout


def test_filter(git_repo: GitRepo) -> None:
    proc = run(git_repo.path, "filter", "install")
    assert "Installed" in proc.stdout
    assert git_repo.git("config", "filter.mlvc-strip.clean").strip()
    assert "Installed" in run(git_repo.path, "filter", "status").stdout
    run(git_repo.path, "filter", "uninstall")
    assert "Not installed" in run(git_repo.path, "filter", "status").stdout


def test_demo(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    run(tmp_path, "demo", "--dir", str(target))
    listed = subprocess.run(
        ["git", "for-each-ref", "refs/mlvc/experiments/"], cwd=target, capture_output=True
    )
    assert len(listed.stdout.splitlines()) >= 2
