"""Promotion: real branches (clean ones merge into main), tags listed, deleted and bumped."""

from __future__ import annotations

import pytest

from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.errors import ConfigError, InvalidNameError, MlvcError
from tests.conftest import GitRepo


def _ended(
    repo: GitRepo, exp: str, files: dict[str, str], status: str = "success"
) -> ExperimentManager:
    manager = ExperimentManager(repo.path)
    repo.write(files)
    manager.start(exp)
    manager.end(exp, metrics={"acc": 0.9}, status=status)
    return manager


def test_branch_with_a_name_points_at_the_last_checkpoint(git_repo: GitRepo) -> None:
    manager = _ended(git_repo, "e1", {"model.py": "w = 1\n"})
    assert manager.branch("e1", "promote/e1") == "promote/e1"
    tip = git_repo.git("rev-parse", "promote/e1").strip()
    assert tip == manager.summary("e1").commit
    assert manager.branch("e1", "promote/e1") == "promote/e1"  # again: nothing changes
    assert manager.branch("e1") == "mlvc/e1"


def test_clean_branch_has_no_mlvc_records_and_merges_into_main(git_repo: GitRepo) -> None:
    base = git_repo.git("rev-parse", "HEAD").strip()
    manager = _ended(git_repo, "e1", {"model.py": "w = 1\n", "train.py": "print('v2')\n"})
    git_repo.git("checkout", "-q", "--", "train.py")  # the user's tree goes back; recorded stays
    (git_repo.path / "model.py").unlink()
    name = manager.branch("e1", "e1-clean", clean=True)
    files = git_repo.git("ls-tree", "-r", "--name-only", name).split()
    assert ".mlvc/experiment.json" not in files
    assert "model.py" in files
    assert git_repo.git("rev-parse", f"{name}^").strip() == base
    again = manager.branch("e1", "e1-clean", clean=True)
    assert git_repo.git("rev-parse", again).strip() == git_repo.git("rev-parse", name).strip()
    git_repo.git("merge", "-q", "--no-edit", name)
    assert (git_repo.path / "model.py").read_text() == "w = 1\n"
    assert not (git_repo.path / ".mlvc").exists()


def test_branch_elsewhere_is_refused_with_the_fix(git_repo: GitRepo) -> None:
    manager = _ended(git_repo, "e1", {"a.txt": "1"})
    git_repo.git("branch", "taken")
    with pytest.raises(MlvcError, match="Branch 'taken' already exists"):
        manager.branch("e1", "taken")
    with pytest.raises(InvalidNameError, match="Invalid branch name"):
        manager.branch("e1", "bad..name")


def test_tags_list_and_delete_keep_a_trash_ref(git_repo: GitRepo) -> None:
    manager = _ended(git_repo, "e1", {"a.txt": "1"})
    manager.start("e2")
    manager.end("e2", tag="best")
    manager.tag("e1", "first")
    git_repo.git("tag", "users-own")
    assert [t.name for t in manager.tags()] == ["best", "first"]
    assert [(t.name, t.experiment_id) for t in manager.tags("e2")] == [("best", "e2")]
    kept = manager.delete_tag("best")
    assert kept.startswith("refs/mlvc/trash/tags/")
    assert "best" not in git_repo.git("tag").split()
    assert git_repo.git("cat-file", "-t", kept).strip() == "tag"
    with pytest.raises(MlvcError, match="There is no tag 'best'"):
        manager.delete_tag("best")


def test_bump_continues_the_highest_version_of_its_prefix(git_repo: GitRepo) -> None:
    manager = _ended(git_repo, "e1", {"a.txt": "1"})
    for tag in ("v1.9.3", "v1.10.0", "v2.0.0-rc1", "bert-v7.0.0", "v01.0.0", "release"):
        git_repo.git("tag", tag)
    assert manager.bump_tag("e1", "patch") == "v1.10.1"
    manager.start("e2")
    manager.end("e2")
    assert manager.bump_tag("e2", "minor", prefix="bert-") == "bert-v7.1.0"
    assert [t.name for t in manager.tags("e2")] == ["bert-v7.1.0"]
    with pytest.raises(MlvcError, match="Cannot bump 'huge'"):
        manager.bump_tag("e2", "huge")


@pytest.mark.parametrize(
    ("setting", "expected"), [("patch", "v0.0.1"), ("minor", "v0.1.0"), ("major", "v1.0.0")]
)
def test_auto_tag_tags_successful_ends_only(git_repo: GitRepo, setting: str, expected: str) -> None:
    git_repo.write({".mlvc.toml": f'auto-tag = "{setting}"\n'})
    git_repo.commit("settings")
    manager = _ended(git_repo, "ok", {"a.txt": "1"})
    assert [t.name for t in manager.tags("ok")] == [expected]
    manager.start("bad")
    checkpoint = manager.end("bad", status="failed")
    assert checkpoint.tags == []
    manager.start("ok2")
    assert len(manager.end("ok2").tags) == 1
    assert len(manager.tags()) == 2


def test_auto_tag_setting_is_checked(git_repo: GitRepo) -> None:
    git_repo.write({".mlvc.toml": 'auto-tag = "huge"\n'})
    with pytest.raises(ConfigError, match="auto-tag"):
        ExperimentManager(git_repo.path).repo.settings  # noqa: B018  # reading it checks it
