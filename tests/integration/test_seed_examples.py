"""The spec's usage examples, run against the package.

Imports are rewritten to ``mlvc_jupyter``; ``train_loader``, ``train_step`` and ``run_tests``
(left undefined by the spec) get small stand-ins. The integrated examples run with
``tracking_backend="wandb"`` as the spec writes it (the context example too), in W&B's offline
mode: no account, no network. Each example asserts what it demonstrates, read back from git
itself: the refs and tags it creates, the commits it returns being their tips, the configs and
metrics recorded in those commits, the files restored; and the offline W&B runs, read back from
their files.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from mlvc_jupyter import (
    DirtyWorkingTreeError,
    ExperimentVersionControl,
    IntegratedVersionControl,
    MlvcError,
    VersionControlManager,
    integrated_experiment_context,
)
from mlvc_jupyter.core.records import GitStatus
from tests.conftest import git
from tests.integration.wandb_files import offline_runs

EXP_REF = "refs/mlvc/experiments/exp_001"


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
    for name in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_PROJECT"):  # offline W&B, no account
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "my_project"
    root.mkdir()
    (root / "config_manager.py").write_text("LR = 0.1\n")
    (root / "configs").mkdir()
    (root / "configs" / "model_config.yaml").write_text("model: bert\nlr: 0.1\n")
    return root


def _rev(project: Path, rev: str) -> str:
    """The object a revision names, as git itself resolves it."""
    return git(project, "rev-parse", "--verify", "--quiet", rev).strip()


def _recorded(project: Path, commit: str) -> dict[str, Any]:
    """The experiment record a checkpoint commit stores."""
    return json.loads(git(project, "show", f"{commit}:.mlvc/experiment.json"))


def test_basic_version_control(project: Path) -> None:
    vc_manager = VersionControlManager("./my_project")
    status = vc_manager.get_git_status()
    assert status is GitStatus.EMPTY  # a repository was created, with nothing committed yet
    assert git(project, "rev-parse", "--show-toplevel").strip() == str(project.resolve())

    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "first")
    assert vc_manager.get_git_status() is GitStatus.CLEAN
    commit = vc_manager.get_current_commit()
    assert (commit.hash, commit.message) == (_rev(project, "HEAD"), "first")
    version_info = vc_manager.get_file_version_info("config_manager.py")
    assert version_info.git_hash == _rev(project, "HEAD:config_manager.py")
    assert version_info.last_commit.hash == commit.hash
    assert not version_info.modified

    (project / "config_manager.py").write_text("LR = 0.2\n")
    edited = vc_manager.get_file_version_info("config_manager.py")
    assert (edited.modified, edited.git_hash) == (True, version_info.git_hash)
    assert edited.working_hash == git(project, "hash-object", "config_manager.py").strip()
    assert vc_manager.get_git_status() is GitStatus.MODIFIED
    assert (project / ".gitignore").read_text().startswith("# ML project .gitignore")


def test_experiment_version_control(project: Path) -> None:
    exp_vc = ExperimentVersionControl("./my_project")
    configs = {
        "model": {"name": "bert_model", "type": "transformer"},
        "training": {"batch_size": 32, "learning_rate": 2e-5},
    }
    commit_hash = exp_vc.start_experiment("exp_001", "BERT Classification", configs)
    assert _rev(project, EXP_REF) == commit_hash
    updated_configs = {**configs, "training": {"batch_size": 64, "learning_rate": 1e-5}}
    middle = exp_vc.commit_experiment_changes(
        "exp_001", "BERT Classification", updated_configs, "Updated hyperparameters"
    )
    assert _rev(project, EXP_REF) == middle
    assert _rev(project, f"{middle}^") == commit_hash
    final_metrics = {"accuracy": 0.91, "loss": 0.23}
    final_commit = exp_vc.end_experiment(
        "exp_001", "BERT Classification", configs, final_metrics, "v1.0"
    )
    assert _rev(project, EXP_REF) == final_commit
    assert _rev(project, f"{final_commit}^") == middle
    assert _rev(project, "v1.0^{commit}") == final_commit  # an annotated git tag
    assert _recorded(project, commit_hash)["configs"] == configs
    assert _recorded(project, middle)["configs"] == updated_configs
    assert _recorded(project, final_commit)["configs"] == configs
    assert git(project, "for-each-ref", "refs/heads") == ""  # the user's branches: untouched

    history = exp_vc.get_experiment_history("exp_001")
    assert [c.commit for c in history] == [commit_hash, middle, final_commit]
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
    (checkpoint,) = vc_manager.get_experiment_history("exp_001")
    assert git(project, "show", f"{checkpoint.commit}:configs/model_config.yaml") == (
        "model: bert\nlr: 0.5\n"  # the experiment recorded the file as it was then
    )


def test_reproducibility_and_branches(project: Path) -> None:
    vc_manager = ExperimentVersionControl("./my_project")
    vc_manager.start_experiment("exp_001", "Test", {"lr": 0.1})
    success = vc_manager.reproduce_experiment("exp_001")
    assert success is True
    worktree = Path(vc_manager.get_experiment("exp_001").worktree)
    assert (worktree / "config_manager.py").read_text() == "LR = 0.1\n"
    assert _rev(worktree, "HEAD") == _rev(project, EXP_REF)

    branch_name = vc_manager.create_experiment_branch("exp_001")
    assert branch_name == "mlvc/exp_001"
    assert _rev(project, "refs/heads/mlvc/exp_001") == _rev(project, EXP_REF)
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
        "exp_001", "BERT Classification", configs, create_branch=True, tracking_backend="wandb"
    )
    returned = [commit_hash]
    for _epoch in range(2):
        for batch_idx, (data, target) in enumerate(train_loader):
            loss = train_step(model, data, target, optimizer)
            tracker.log_metrics({"loss": loss.item()}, step=batch_idx)
            if batch_idx % 100 == 0:
                returned.append(
                    integrated_vc.commit_experiment_changes(
                        "exp_001", "BERT Classification", configs, f"Step {batch_idx}"
                    )
                )
                assert _rev(project, EXP_REF) == returned[-1]
    if configs["optimization"].enable_mixed_precision:
        returned.append(
            integrated_vc.commit_experiment_changes(
                "exp_001", "Test", configs, "Enabled mixed precision"
            )
        )
    final_metrics = {"loss": 0.005}
    final_commit = integrated_vc.end_integrated_experiment(
        "exp_001", "BERT Classification", configs, final_metrics, "v1.0"
    )
    vc = integrated_vc.vc_manager
    assert [c.commit for c in vc.get_experiment_history("exp_001")] == [*returned, final_commit]
    assert _rev(project, EXP_REF) == final_commit
    assert _rev(project, "v1.0^{commit}") == final_commit
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
    run = offline_runs(repo.runtime_dir)["exp_001"]
    assert [row["loss"] for row in run.history] == [
        json.loads(line)["metrics"]["loss"] for line in metrics.splitlines()
    ] + [0.005]  # every point, then end's final metric
    assert (run.config["mlvc.commit"], run.config["mlvc.experiment"]) == (final_commit, "exp_001")
    assert run.config["optimization.learning_rate"] == 2e-5
    assert (run.summary["loss"], run.exit_code) == (0.005, 0)

    snapshot_file = integrated_vc.create_experiment_snapshot("exp_001")
    with zipfile.ZipFile(snapshot_file) as archive:
        assert "experiment.bundle" in archive.namelist()
        assert "reproduce.py" in archive.namelist()
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
    with integrated_experiment_context(
        "exp_001", "Test", configs, project_root="./my_project", tracking_backend="wandb"
    ) as (vc, tracker, commit_hash):
        for batch_idx, (data, target) in enumerate(train_loader):
            loss = train_step(model, data, target, optimizer)
            tracker.log_metrics({"loss": loss.item()}, step=batch_idx)
            if batch_idx % 100 == 0:
                vc.commit_experiment_changes("exp_001", "Test", configs, f"Step {batch_idx}")
    (summary,) = vc.vc_manager.list_experiments()
    assert summary.status == "success"
    assert summary.metrics == {"loss": pytest.approx(1 / 201)}
    assert summary.checkpoints == 5  # start, steps 0, 100 and 200, end
    assert summary.commit == _rev(project, EXP_REF)
    assert commit_hash == vc.vc_manager.get_experiment_history("exp_001")[0].commit
    metrics = git(project, "show", f"{summary.commit}:.mlvc/metrics.jsonl").splitlines()
    assert [json.loads(line)["step"] for line in metrics] == list(range(len(train_loader)))
    run = offline_runs(vc.vc_manager.manager.repo.runtime_dir)["exp_001"]
    assert [row["mlvc/step"] for row in run.history] == list(range(len(train_loader)))
    assert (run.summary["loss"], run.config["mlvc.commit"]) == (
        pytest.approx(1 / 201),
        summary.commit,
    )

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
    assert ci.metrics == {"tests": 1.0}
    # The tag was made while the run was open: it names the checkpoint before the final one.
    assert _rev(project, "release-v1.0^{commit}") == _rev(project, "refs/mlvc/experiments/ci_001^")


def _failing_run() -> None:
    with integrated_experiment_context(
        "exp_bad", "Test", {}, project_root="./my_project", tracking_backend="wandb"
    ) as (_vc, tracker, _commit):
        tracker.log_metrics({"loss": 1.0}, step=0)
        _ = 1 / 0


def test_context_marks_failure_and_reraises(project: Path) -> None:
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        _failing_run()
    summary = VersionControlManager("./my_project").list_experiments()[0]
    assert summary.status == "failed"
    assert "ZeroDivisionError" in summary.message
    assert summary.commit == _rev(project, "refs/mlvc/experiments/exp_bad")
    assert git(project, "show", f"{summary.commit}:.mlvc/metrics.jsonl").count("\n") == 1
    run = offline_runs(project / ".git" / "mlvc")["exp_bad"]
    assert (run.summary["mlvc/status"], run.exit_code) == ("failed", 1)


def test_unknown_backend_lists_known_ones(project: Path) -> None:
    integrated_vc = IntegratedVersionControl("./my_project")
    with pytest.raises(MlvcError, match="Known backends: local"):
        integrated_vc.start_integrated_experiment("exp_001", "x", {}, tracking_backend="nope")
    assert integrated_vc.vc_manager.list_experiments() == []
    assert git(project, "for-each-ref", "refs/mlvc") == ""
