"""``mlvc export``: a portable zip that reproduces an experiment without the original repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.reproduction.bundle import ARCHIVE_FILES
from mlvc_jupyter.errors import MlvcError
from tests.conftest import GitRepo

WORKTREE = Path(__file__).resolve().parents[2]
TRAIN = "import json\nprint(json.dumps({'acc': 0.75}))\n"


def _env(*, with_package: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "PYTHONPATH": str(WORKTREE)} if with_package else env


def _run(
    folder: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=folder, capture_output=True, text=True,
        env=env or _env(), check=False,
    )  # fmt: skip


@pytest.fixture
def exported(git_repo: GitRepo, tmp_path: Path) -> tuple[Path, str]:
    """An experiment exported with `mlvc export -o`, unpacked into a new empty folder, and the
    original repository gone; returns the folder and the experiment's commit."""
    git_repo.write({"train.py": TRAIN, "configs/params.json": '{"lr": 0.01}\n'})
    git_repo.commit("add training")
    git_repo.write({"train.py": TRAIN + "# uncommitted tweak\n", "extra.py": "E = 1\n"})
    manager = ExperimentManager(git_repo.path)
    manager.start("exp-1", configs={"lr": 0.01})
    commit = manager.end("exp-1", metrics={"acc": 0.75}).commit
    archive = tmp_path / "exp-1.zip"
    cli = _run(git_repo.path, "-m", "mlvc_jupyter", "export", "exp-1", "-o", str(archive))
    assert cli.returncode == 0, cli.stderr
    assert str(archive) in cli.stdout
    shutil.rmtree(git_repo.path)
    unpacked = tmp_path / "elsewhere"
    unpacked.mkdir()
    with zipfile.ZipFile(archive) as opened:
        assert sorted(opened.namelist()) == sorted(ARCHIVE_FILES)
        opened.extractall(unpacked)
    return unpacked, commit


def _worktrees(repo: Path) -> list[Path]:
    out = subprocess.run(
        ["git", "-C", str(repo), "worktree", "list", "--porcelain"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    paths = [Path(line[9:]) for line in out.splitlines() if line.startswith("worktree ")]
    return [p for p in paths if p.resolve() != repo.resolve()]


def test_unpacked_bundle_materialises_the_experiment(exported: tuple[Path, str]) -> None:
    folder, commit = exported
    document = json.loads((folder / "experiment.json").read_text())
    assert document["git"]["commit"] == commit
    assert document["final_metrics"] == {"acc": 0.75}

    result = _run(folder, "reproduce.py", "--no-run")

    assert result.returncode == 0, result.stdout + result.stderr
    repo = folder / "repository"
    ref = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "refs/mlvc/experiments/exp-1"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert ref == commit
    assert (repo / "train.py").read_text() == TRAIN  # checked out where the experiment started
    (materialised,) = _worktrees(repo)
    assert (materialised / "train.py").read_text() == TRAIN + "# uncommitted tweak\n"
    assert (materialised / "extra.py").read_text() == "E = 1\n"
    assert json.loads((materialised / "configs/params.json").read_text()) == {"lr": 0.01}

    again = _run(folder, "reproduce.py", "--no-run")  # a second run reuses the repository
    assert again.returncode == 0, again.stdout + again.stderr


def test_requirements_and_install_dry_run(exported: tuple[Path, str]) -> None:
    folder, _ = exported
    printed = _run(folder, "reproduce.py", "--print-requirements")
    assert printed.returncode == 0
    lines = printed.stdout.splitlines()
    assert any(line.startswith("gitpython==") for line in lines)
    assert all("==" in line for line in lines)
    assert not any(line.startswith("pip==") for line in lines)

    dry = _run(folder, "reproduce.py", "--install", "--dry-run")

    assert dry.returncode == 0, dry.stderr
    assert f"-m pip install -r {folder / 'requirements.txt'}" in dry.stdout
    assert not (folder / "repository").exists()  # a dry run installs and runs nothing


def test_without_mlvc_says_so_and_suggests_install(exported: tuple[Path, str]) -> None:
    folder, _ = exported
    # -S: no site-packages, so neither the editable install nor any other copy is importable
    result = _run(folder, "-S", "reproduce.py", "--no-run", env=_env(with_package=False))
    assert result.returncode == 2
    assert "mlvc_jupyter is not importable" in result.stderr
    assert "python reproduce.py --install" in result.stderr


def test_export_never_overwrites_a_file(git_repo: GitRepo, tmp_path: Path) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("exp-1")
    manager.end("exp-1")
    taken = tmp_path / "taken.zip"
    taken.write_text("mine")
    with pytest.raises(MlvcError, match="Cannot export to '.*taken.zip': a file is already there"):
        manager.export("exp-1", path=taken)
    assert taken.read_text() == "mine"
    into_folder = manager.export("exp-1", path=tmp_path)
    assert into_folder.parent == tmp_path
    assert into_folder.name.startswith("exp-1-")


SELF_RECORDING = """\
import random

from mlvc_jupyter.core.manager import ExperimentManager

manager = ExperimentManager(".")
manager.start("exp-2", details={"entry": "python train.py"})
manager.end("exp-2", metrics={"acc": METRIC})
"""


@pytest.mark.parametrize(
    ("noise", "status", "verdict"),
    [
        ("0.75", 0, "reproduced (re-run recorded as exp-2-repro1)"),
        (
            "random.random()",
            1,
            "not reproduced: acc differs beyond tolerance (re-run recorded as exp-2-repro1)",
        ),
    ],
    ids=["deterministic", "noisy"],
)
def test_bundle_reproduces_end_to_end(
    git_repo: GitRepo, tmp_path: Path, noise: str, status: int, verdict: str
) -> None:
    git_repo.write({"train.py": SELF_RECORDING.replace("METRIC", noise)})
    git_repo.commit("a training script that records itself")
    recorded = _run(git_repo.path, "train.py")
    assert recorded.returncode == 0, recorded.stderr
    archive = ExperimentManager(git_repo.path).export("exp-2", path=tmp_path / "exp-2.zip")
    shutil.rmtree(git_repo.path)
    folder = tmp_path / "empty"
    folder.mkdir()
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(folder)

    result = _run(folder, "reproduce.py")

    assert result.returncode == status, result.stdout + result.stderr
    lines = result.stdout.lower().splitlines()
    assert [line for line in lines if line.startswith(("reproduced", "not reproduced"))] == [
        verdict
    ]
