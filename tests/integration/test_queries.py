"""Reading experiments back: list, history, diff, tags, branches, reproduce, status."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest

from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.records import GitStatus
from mlvc_jupyter.errors import DirtyWorkingTreeError, ExperimentNotFoundError, MlvcError
from tests.conftest import GitRepo


@pytest.fixture
def manager(git_repo: GitRepo) -> ExperimentManager:
    return ExperimentManager(git_repo.path)


@pytest.mark.parametrize("count", [0, 1, 5], ids=["none", "one", "many"])
def test_log_lists_every_experiment_newest_first(manager: ExperimentManager, count: int) -> None:
    for i in range(count):
        manager.start(f"exp{i}", name=f"run {i}", configs={"i": i})
        manager.end(f"exp{i}", metrics={"acc": i / 10})
    summaries = manager.log()
    assert [s.id for s in summaries] == [f"exp{i}" for i in reversed(range(count))]
    for summary in summaries:
        i = int(summary.id[3:])
        assert (summary.name, summary.status, summary.checkpoints) == (f"run {i}", "success", 2)
        assert summary.metrics == {"acc": i / 10}
        assert summary.branch == "main"
        assert summary.created <= summary.updated


def test_log_ignores_foreign_refs(manager: ExperimentManager, git_repo: GitRepo) -> None:
    manager.start("exp1")
    git_repo.git("update-ref", "refs/mlvc/experiments/foreign", "HEAD")
    git_repo.git("tag", "-a", "-m", "plain tag", "plain")
    assert [s.id for s in manager.log()] == ["exp1"]


def test_history_oldest_first_with_tags(manager: ExperimentManager) -> None:
    manager.start("exp1", message="begin")
    manager.commit("exp1", message="middle")
    manager.end("exp1", metrics={"loss": 0.5}, tag="v1")
    history = manager.history("exp1")
    assert [(c.seq, c.message, c.status) for c in history] == [
        (1, "begin", "running"),
        (2, "middle", "running"),
        (3, "ended: success", "success"),
    ]
    assert history[-1].tags == ["v1"]
    assert history[0].tags == []
    with pytest.raises(ExperimentNotFoundError, match="'missing' does not exist"):
        manager.history("missing")


def test_diff_params_metrics_and_files(manager: ExperimentManager, git_repo: GitRepo) -> None:
    manager.start("a", configs={"opt": {"lr": 0.1, "mom": 0.9}, "seed": 1})
    manager.end("a", metrics={"acc": 0.8, "loss": 0.5})
    git_repo.write({"train.py": "print('v2')\n", "extra.py": "e"})
    manager.start("b", configs={"opt": {"lr": 0.01}, "seed": 1, "epochs": 3})
    manager.end("b", metrics={"acc": 0.9, "f1": 0.7})
    diff = manager.diff("a", "b")
    assert diff.params_added == {"epochs": 3}
    assert diff.params_removed == {"opt.mom": 0.9}
    assert diff.params_changed == {"opt.lr": (0.1, 0.01)}
    assert diff.metrics["acc"]["delta"] == pytest.approx(0.1)
    assert diff.metrics["loss"] == {"a": 0.5, "b": None, "delta": None}
    assert sorted(diff.files) == [("A", "extra.py"), ("M", "train.py")]
    assert not diff.is_empty
    assert manager.diff("a", "a").is_empty
    assert json.loads(json.dumps(diff.to_dict()))["params_changed"] == {"opt.lr": [0.1, 0.01]}


def test_configs_default_to_the_last_ones(manager: ExperimentManager) -> None:
    @dataclasses.dataclass
    class Optim:
        lr: float = 0.1

    manager.start("exp1", configs={"optim": Optim()})
    manager.commit("exp1", message="no configs given")
    assert manager.show("exp1").configs == {"optim": {"lr": 0.1}}
    manager.commit("exp1", configs={"optim": Optim(lr=0.2)})
    assert manager.show("exp1").configs == {"optim": {"lr": 0.2}}


def test_unserialisable_config_names_the_key(manager: ExperimentManager) -> None:
    with pytest.raises(MlvcError, match=r"configs\.model\.net.*object"):
        manager.start("exp1", configs={"model": {"net": object()}})
    assert manager.log() == []


def test_tags(manager: ExperimentManager, git_repo: GitRepo) -> None:
    manager.start("a")
    manager.end("a", metrics={"acc": 1.0})
    manager.start("b")
    assert manager.tag("a", "best") == "best"
    assert manager.tag("a", "best") == "best"  # same place: nothing to do
    message = git_repo.git("tag", "-l", "--format=%(contents)", "best")
    assert '"acc": 1.0' in message
    assert "mlvc-experiment: a" in message
    with pytest.raises(MlvcError, match="already exists and points at.*\n.*force=True"):
        manager.tag("b", "best")
    manager.tag("b", "best", force=True)
    assert manager.summary("b").tags == ["best"]
    assert manager.summary("a").tags == []
    with pytest.raises(MlvcError, match="Tag 'best' already exists; nothing was recorded"):
        manager.end("b", tag="best")
    assert manager.summary("b").status == "running"


def test_branches(manager: ExperimentManager, git_repo: GitRepo) -> None:
    manager.start("exp1")
    assert manager.branch("exp1") == "mlvc/exp1"
    assert manager.branch("exp1") == "mlvc/exp1"
    manager.commit("exp1")
    with pytest.raises(MlvcError, match="Branch 'mlvc/exp1' already exists at"):
        manager.branch("exp1")
    assert git_repo.git("symbolic-ref", "HEAD").strip() == "refs/heads/main"


def test_create_branch_follows_checkpoints_and_refuses_checked_out(
    manager: ExperimentManager, git_repo: GitRepo
) -> None:
    manager.start("exp1", create_branch=True)
    last = manager.commit("exp1").commit
    assert git_repo.git("rev-parse", "mlvc/exp1").strip() == last
    git_repo.git("branch", "mlvc/exp2")
    git_repo.git("switch", "-q", "mlvc/exp2")
    with pytest.raises(MlvcError, match="Branch 'mlvc/exp2' is checked out"):
        manager.start("exp2", create_branch=True)
    assert manager.log()[0].id == "exp1"


def test_switch_refuses_dirty_tracked_files(manager: ExperimentManager, git_repo: GitRepo) -> None:
    git_repo.git("branch", "other")
    git_repo.write({"train.py": "edited\n"})
    with pytest.raises(DirtyWorkingTreeError, match="uncommitted changes in: train.py") as info:
        manager.switch("other")
    assert info.value.paths == ["train.py"]
    assert (git_repo.path / "train.py").read_text() == "edited\n"
    with pytest.raises(MlvcError, match="no local branch 'nope'"):
        manager.switch("nope")


@pytest.mark.parametrize(
    ("setup", "state"),
    [
        ({}, GitStatus.CLEAN),
        ({"train.py": "changed"}, GitStatus.MODIFIED),
        ({"new.py": "new"}, GitStatus.UNTRACKED),
    ],
    ids=["clean", "modified", "untracked"],
)
def test_status_states(git_repo: GitRepo, setup: dict, state: GitStatus) -> None:
    git_repo.write(setup)
    index = (git_repo.path / ".git" / "index").read_bytes()
    status = ExperimentManager(git_repo.path).status()
    assert status.state is state
    assert (git_repo.path / ".git" / "index").read_bytes() == index
    assert status.branch == "main"
    assert not status.detached


def test_status_conflicted(git_repo: GitRepo) -> None:
    git_repo.git("switch", "-q", "-c", "side")
    git_repo.write({"train.py": "side\n"})
    git_repo.commit("side")
    git_repo.git("switch", "-q", "main")
    git_repo.write({"train.py": "main\n"})
    git_repo.commit("main")
    proc = subprocess.run(
        ["git", "merge", "side", "--no-edit"], cwd=git_repo.path, capture_output=True
    )
    assert proc.returncode != 0
    status = ExperimentManager(git_repo.path).status()
    assert status.state is GitStatus.CONFLICTED
    assert status.conflicted == ["train.py"]


def test_reproduce_into_worktree_keeps_user_files(
    manager: ExperimentManager, git_repo: GitRepo, tmp_path: Path
) -> None:
    git_repo.write({"train.py": "print('experiment version')\n"})
    manager.start("exp1")
    git_repo.write({"train.py": "print('later edit')\n"})
    before = git_repo.fingerprint()
    path = manager.reproduce("exp1")
    assert path == git_repo.path / "reproductions" / "exp1"
    assert (path / "train.py").read_text() == "print('experiment version')\n"
    assert manager.show("exp1").worktree == str(path)
    assert manager.reproduce("exp1") == path  # an unedited earlier worktree is replaced
    (path / "train.py").write_text("edited in the reproduction")
    with pytest.raises(DirtyWorkingTreeError, match="has edits that replacing it would lose"):
        manager.reproduce("exp1")
    custom = manager.reproduce("exp1", path=tmp_path / "elsewhere")
    assert (custom / "train.py").read_text() == "print('experiment version')\n"
    inside = manager.reproduce("exp1", path=git_repo.path / "sub" / "inside")
    assert (inside / "train.py").read_text() == "print('experiment version')\n"
    after = git_repo.fingerprint()
    assert {
        k: v for k, v in after.items() if not k.startswith(("reproductions/", "sub/"))
    } == before


def test_file_info(manager: ExperimentManager, git_repo: GitRepo) -> None:
    info = manager.file_info("train.py")
    assert info.git_hash == git_repo.git("rev-parse", "HEAD:train.py").strip()
    assert not info.modified
    assert info.last_commit.message == "initial"
    git_repo.write({"train.py": "changed"})
    assert manager.file_info("train.py").modified
    with pytest.raises(MlvcError, match="neither tracked at HEAD nor present"):
        manager.file_info("nope.py")
    with pytest.raises(MlvcError, match="outside the repository"):
        manager.file_info("../../etc/passwd")


def test_restore_configs_from_an_experiment(manager: ExperimentManager, git_repo: GitRepo) -> None:
    git_repo.write({"configs/train.yaml": "lr: 0.1\n", "model_config.json": '{"depth": 2}'})
    manager.start("exp1")
    git_repo.write({"configs/train.yaml": "lr: 0.5\n", "train.py": "edited\n"})
    (git_repo.path / "model_config.json").unlink()
    safety = manager.restore("exp1").safety_ref
    assert safety is not None
    assert (git_repo.path / "configs/train.yaml").read_text() == "lr: 0.1\n"
    assert (git_repo.path / "model_config.json").read_text() == '{"depth": 2}'
    assert (git_repo.path / "train.py").read_text() == "edited\n"  # not a config: untouched
    assert safety.startswith("refs/mlvc/safety/")
    assert git_repo.git("show", f"{safety}:configs/train.yaml") == "lr: 0.5\n"
    with pytest.raises(ExperimentNotFoundError, match="'nope' does not exist"):
        manager.restore("nope")
    with pytest.raises(MlvcError, match="neither a config snapshot file nor an experiment id"):
        manager.restore("../no/such/file.json")


def test_restore_refuses_paths_outside_the_repository(
    manager: ExperimentManager, git_repo: GitRepo, tmp_path: Path
) -> None:
    crafted = tmp_path / "crafted.json"
    crafted.write_text(json.dumps({"configs": {}, "files": {"../escape.yaml": "x"}}))
    with pytest.raises(MlvcError, match="Refusing to write '../escape.yaml'"):
        manager.restore(crafted)
    assert not (tmp_path / "escape.yaml").exists()
    assert git_repo.git("for-each-ref", "refs/mlvc/safety/") == ""


def test_reproduce_reports_its_steps_as_progress(git_repo: GitRepo, tmp_path: Path) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("p")
    manager.end("p")
    calls: list[tuple[int, int]] = []
    manager.reproduce("p", path=tmp_path / "p", on_progress=lambda d, t: calls.append((d, t)))
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]
