"""The spec's usage examples, run against the package.

Imports are rewritten to ``mlvc_jupyter``; ``train_loader``, ``train_step`` and ``run_tests``
(left undefined by the spec) get small stand-ins; ``tracking_backend="local"`` replaces
"wandb" until the tracking bridges exist.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import pytest

from mlvc_jupyter import (
    DirtyWorkingTreeError,
    ExperimentVersionControl,
    IntegratedVersionControl,
    MlvcError,
    VersionControlManager,
    integrated_experiment_context,
)


class _Loss:
    def __init__(self, value: float) -> None:
        self.value = value

    def item(self) -> float:
        return self.value


def train_step(model, data, target, optimizer) -> _Loss:  # noqa: ARG001 -- the spec's signature
    return _Loss(1.0 / (1 + data))


train_loader = [(i, i % 2) for i in range(201)]
model = optimizer = None


@dataclasses.dataclass
class OptimizationConfig:
    enable_mixed_precision: bool = True
    learning_rate: float = 2e-5


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "my_project"
    root.mkdir()
    (root / "config_manager.py").write_text("LR = 0.1\n")
    (root / "configs").mkdir()
    (root / "configs" / "model_config.yaml").write_text("model: bert\nlr: 0.1\n")
    return root


def test_basic_version_control(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vc_manager = VersionControlManager("./my_project")
    status = vc_manager.get_git_status()
    print(f"Git status: {status.value}")
    assert status.value == "empty"

    vc_manager.manager.repo.git.run("add", "-A")
    vc_manager.manager.repo.git.run("commit", "-q", "-m", "first")
    commit = vc_manager.get_current_commit()
    print(f"Current commit: {commit.hash} - {commit.message}")
    version_info = vc_manager.get_file_version_info("config_manager.py")
    print(f"File version: {version_info.git_hash}")

    out = capsys.readouterr().out
    assert "Git status: empty" in out
    assert f"Current commit: {commit.hash} - first" in out
    assert version_info.git_hash
    assert version_info.git_hash in out
    assert version_info.last_commit.hash == commit.hash
    assert not version_info.modified
    assert (project / ".gitignore").read_text().startswith("# ML project .gitignore")


def test_experiment_version_control(project: Path) -> None:
    exp_vc = ExperimentVersionControl("./my_project")
    configs = {
        "model": {"name": "bert_model", "type": "transformer"},
        "training": {"batch_size": 32, "learning_rate": 2e-5},
    }
    commit_hash = exp_vc.start_experiment("exp_001", "BERT Classification", configs)
    updated_configs = {**configs, "training": {"batch_size": 64, "learning_rate": 1e-5}}
    exp_vc.commit_experiment_changes(
        "exp_001", "BERT Classification", updated_configs, "Updated hyperparameters"
    )
    final_metrics = {"accuracy": 0.91, "loss": 0.23}
    final_commit = exp_vc.end_experiment(
        "exp_001", "BERT Classification", configs, final_metrics, "v1.0"
    )

    history = exp_vc.get_experiment_history("exp_001")
    assert [c.commit for c in (history[0], history[-1])] == [commit_hash, final_commit]
    assert [c.message for c in history] == ["started", "Updated hyperparameters", "ended: success"]
    assert history[-1].metrics == final_metrics
    assert history[-1].tags == ["v1.0"]
    (summary,) = exp_vc.list_experiments()
    assert (summary.id, summary.status, summary.checkpoints) == ("exp_001", "success", 3)
    assert summary.tags == ["v1.0"]


def test_config_snapshots_and_changes(project: Path) -> None:
    vc_manager = ExperimentVersionControl("./my_project")
    configs = {"model": {"name": "bert"}}
    snapshot_file = vc_manager.create_config_snapshot(configs)
    assert isinstance(snapshot_file, str)
    assert json.loads(Path(snapshot_file).read_text())["files"] == {
        "configs/model_config.yaml": "model: bert\nlr: 0.1\n"
    }
    assert vc_manager.load_config_snapshot(snapshot_file) == configs

    (project / "configs" / "model_config.yaml").write_text("model: bert\nlr: 0.5\n")
    vc_manager.start_experiment("exp_001", "Test", configs)
    success = vc_manager.restore_config_snapshot(snapshot_file)
    assert success is True
    assert (project / "configs" / "model_config.yaml").read_text() == "model: bert\nlr: 0.1\n"

    changes = vc_manager.get_config_changes("configs/model_config.yaml")
    assert changes[0].source == "exp_001"
    assert "+lr: 0.5" in changes[0].diff
    config_history = vc_manager.get_experiment_history("exp_001")
    assert len(config_history) == 1


def test_reproducibility_and_branches(project: Path) -> None:
    vc_manager = ExperimentVersionControl("./my_project")
    vc_manager.start_experiment("exp_001", "Test", {"lr": 0.1})
    success = vc_manager.reproduce_experiment("exp_001")
    assert success is True
    worktree = Path(vc_manager.get_experiment("exp_001").worktree)
    assert (worktree / "config_manager.py").read_text() == "LR = 0.1\n"

    branch_name = vc_manager.create_experiment_branch("exp_001")
    assert branch_name == "mlvc/exp_001"
    vc_manager.manager.repo.git.run("commit", "-q", "--allow-empty", "-m", "base")
    with pytest.raises(DirtyWorkingTreeError, match="would overwrite untracked files"):
        vc_manager.switch_to_branch("mlvc/exp_001")
    vc_manager.manager.repo.git.run("add", "-A")
    vc_manager.manager.repo.git.run("commit", "-q", "-m", "track the project")
    assert vc_manager.switch_to_branch("mlvc/exp_001") is True
    assert (
        vc_manager.get_current_commit().hash == vc_manager.get_experiment("exp_001").summary.commit
    )
    success = vc_manager.switch_to_branch("main")
    assert success is True


def test_integrated_version_control(project: Path) -> None:
    integrated_vc = IntegratedVersionControl("./my_project")
    configs = {"optimization": OptimizationConfig(), "model": {"name": "bert"}}
    commit_hash, tracker = integrated_vc.start_integrated_experiment(
        "exp_001", "BERT Classification", configs, create_branch=True, tracking_backend="local"
    )
    for _epoch in range(2):
        for batch_idx, (data, target) in enumerate(train_loader):
            loss = train_step(model, data, target, optimizer)
            tracker.log_metrics({"loss": loss.item()}, step=batch_idx)
            if batch_idx % 100 == 0:
                integrated_vc.commit_experiment_changes(
                    "exp_001", "BERT Classification", configs, f"Step {batch_idx}"
                )
    if configs["optimization"].enable_mixed_precision:
        integrated_vc.commit_experiment_changes(
            "exp_001", "Test", configs, "Enabled mixed precision"
        )
    final_metrics = {"loss": 0.005}
    final_commit = integrated_vc.end_integrated_experiment(
        "exp_001", "BERT Classification", configs, final_metrics, "v1.0"
    )
    vc = integrated_vc.vc_manager
    assert vc.get_experiment_history("exp_001")[0].commit == commit_hash
    repo = vc.manager.repo
    assert repo.ref_exists("refs/heads/mlvc/exp_001") == final_commit
    record = vc.get_experiment("exp_001")
    assert record.configs["optimization"] == {
        "enable_mixed_precision": True,
        "learning_rate": 2e-5,
    }
    metrics = repo.read_blobs([f"{final_commit}:.mlvc/metrics.jsonl"])[0]
    assert metrics is not None
    assert len(metrics.splitlines()) == 2 * len(train_loader)

    snapshot_file = integrated_vc.create_experiment_snapshot("exp_001")
    with zipfile.ZipFile(snapshot_file) as archive:
        assert sorted(archive.namelist()) == ["experiment.json", "metrics.jsonl", "reproduce.py"]
        document = json.loads(archive.read("experiment.json"))
        assert document["final_metrics"] == final_metrics
        assert document["git"]["commit"] == final_commit

    (project / "config_manager.py").write_text("LR = 'edited after the experiment'\n")
    rerun = integrated_vc.reproduce_integrated_experiment("exp_001")
    rerun.log_metrics({"loss": 0.004}, step=0)
    integrated_vc.commit_experiment_changes(rerun.experiment_id, "rerun", configs, "halfway")
    rerun_commit = integrated_vc.end_integrated_experiment(rerun.experiment_id, "rerun", configs)
    linked = vc.get_experiment(rerun.experiment_id)
    assert linked.summary.extra["reproduces"] == "exp_001"
    assert linked.summary.metrics == {"loss": 0.004}
    assert [c.seq for c in vc.get_experiment_history(rerun.experiment_id)] == [1, 2, 3]
    # Every checkpoint of the re-run holds the reproduced files, not the edited working tree.
    reproduced = repo.read_blobs([f"{rerun_commit}:config_manager.py"])[0]
    assert reproduced == b"LR = 0.1\n"


def test_integrated_context_and_ci_workflow(project: Path) -> None:
    configs = {"model": {"name": "bert"}}
    with integrated_experiment_context("exp_001", "Test", configs, project_root="./my_project") as (
        vc,
        tracker,
        commit_hash,
    ):
        for batch_idx, (data, target) in enumerate(train_loader):
            loss = train_step(model, data, target, optimizer)
            tracker.log_metrics({"loss": loss.item()}, step=batch_idx)
            if batch_idx % 100 == 0:
                vc.commit_experiment_changes("exp_001", "Test", configs, f"Step {batch_idx}")
    (summary,) = vc.vc_manager.list_experiments()
    assert summary.status == "success"
    assert summary.metrics == {"loss": pytest.approx(1 / 201)}
    assert commit_hash == vc.vc_manager.get_experiment_history("exp_001")[0].commit

    integrated_vc = IntegratedVersionControl("./my_project")

    def run_tests() -> bool:
        return True

    def ci_cd_workflow(experiment_id: str, configs: dict) -> None:
        commit_hash, tracker = integrated_vc.start_integrated_experiment(
            experiment_id, "CI/CD Experiment", configs
        )
        tests_passed = run_tests()
        if tests_passed:
            integrated_vc.vc_manager.tag_experiment(experiment_id, "release-v1.0")
        integrated_vc.end_integrated_experiment(
            experiment_id, "CI/CD Experiment", configs, {"tests": 1.0}
        )

    ci_cd_workflow("ci_001", configs)
    ci = integrated_vc.vc_manager.manager.summary("ci_001")
    assert ci.tags == ["release-v1.0"]


def _failing_run() -> None:
    with integrated_experiment_context("exp_bad", "Test", {}, project_root="./my_project") as (
        _vc,
        tracker,
        _commit,
    ):
        tracker.log_metrics({"loss": 1.0}, step=0)
        _ = 1 / 0


def test_context_marks_failure_and_reraises(project: Path) -> None:
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        _failing_run()
    summary = VersionControlManager("./my_project").list_experiments()[0]
    assert summary.status == "failed"
    assert "ZeroDivisionError" in summary.message


def test_unknown_backend_lists_known_ones(project: Path) -> None:
    integrated_vc = IntegratedVersionControl("./my_project")
    with pytest.raises(MlvcError, match="Known backends: local"):
        integrated_vc.start_integrated_experiment("exp_001", "x", {}, tracking_backend="nope")
    assert integrated_vc.vc_manager.list_experiments() == []
