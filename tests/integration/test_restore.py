"""Restoring config files says exactly what it wrote: the files and the safety ref."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlvc_jupyter.api import VersionControlManager
from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.records import ConfigRestore
from tests.conftest import GitRepo


@pytest.fixture
def manager(git_repo: GitRepo) -> ExperimentManager:
    return ExperimentManager(git_repo.path)


def _safety_refs(repo: GitRepo) -> list[str]:
    return repo.git("for-each-ref", "--format=%(refname)", "refs/mlvc/safety/").split()


def test_restoring_an_experiment_names_each_file_and_the_safety_ref(
    manager: ExperimentManager, git_repo: GitRepo
) -> None:
    git_repo.write({"configs/train.yaml": "lr: 0.1\n", "model_config.json": "{}"})
    manager.start("exp1")
    git_repo.write({"configs/train.yaml": "lr: 0.5\n"})

    restored = manager.restore("exp1")

    assert isinstance(restored, ConfigRestore)
    assert (restored.experiment, restored.files) == (
        "exp1",
        ["configs/train.yaml", "model_config.json"],
    )
    assert _safety_refs(git_repo) == [restored.safety_ref]
    assert restored.to_dict()["files"] == ["configs/train.yaml", "model_config.json"]


def test_an_experiment_without_config_files_changes_nothing(
    manager: ExperimentManager, git_repo: GitRepo
) -> None:
    manager.start("lr-0.01", configs={"lr": 0.01})  # configs from a variable only
    before = git_repo.fingerprint()

    restored = manager.restore("lr-0.01")

    assert (restored.experiment, restored.files, restored.safety_ref) == ("lr-0.01", [], None)
    assert _safety_refs(git_repo) == []  # nothing to protect: no safety snapshot
    assert git_repo.fingerprint() == before


@pytest.mark.parametrize("files", [{}, {"configs/a.yaml": "a: 1\n"}], ids=["none", "one"])
def test_a_config_snapshot_file_and_the_seed_api(
    manager: ExperimentManager, git_repo: GitRepo, files: dict[str, str]
) -> None:
    git_repo.write(files)
    snapshot = manager.save_configs({"lr": 0.1})
    restored = manager.restore(snapshot)
    assert (restored.experiment, restored.files) == (None, sorted(files))
    assert restored.source == str(snapshot)
    assert (restored.safety_ref is None) == (not files)
    assert VersionControlManager(str(git_repo.path)).restore_config_snapshot(snapshot) is True
    assert Path(snapshot).is_file()
