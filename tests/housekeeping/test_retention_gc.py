"""rm keeps a safety ref and undoes; gc removes exactly what its policy picks; objects shrink."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest

from mlvc_jupyter.core.data.cache import ContentCache
from mlvc_jupyter.core.housekeeping.gc import CACHE_GRACE_SECONDS, GcPolicy, count_objects
from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.errors import ExperimentExistsError, ExperimentNotFoundError, MlvcError
from tests.conftest import GitRepo


def _record(manager: ExperimentManager, repo: GitRepo, exp: str, status: str = "success") -> None:
    repo.write({f"out/{exp}.txt": f"result of {exp}\n"})
    manager.start(exp)
    manager.end(exp, status=status, metrics={"acc": 0.5})


def _refs(repo: GitRepo, where: str = "refs/mlvc/experiments/") -> set[str]:
    out = repo.git("for-each-ref", "--format=%(refname:lstrip=3)", where)
    return set(out.split())


def _age(repo: GitRepo, exp: str, days: int) -> None:
    """Rewrite experiment ``exp``'s last summary time ``days`` into the past (a real commit)."""
    manager = ExperimentManager(repo.path)
    summary = manager.summary(exp)
    message = repo.git("log", "-1", "--format=%B", summary.commit)
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).isoformat()
    message = message.replace(f'"time":"{summary.updated}"', f'"time":"{old}"')
    tree = repo.git("rev-parse", f"{summary.commit}^{{tree}}").strip()
    parent = repo.git("rev-parse", f"{summary.commit}^").strip()
    new = repo.git("commit-tree", tree, "-p", parent, stdin=message.encode()).strip()
    repo.git("update-ref", f"refs/mlvc/experiments/{exp}", new)


@pytest.fixture
def five(git_repo: GitRepo) -> GitRepo:
    """e1..e5 (e5 newest); e2 and e4 failed; e1 and e2 are 40 days old; e3 is tagged."""
    manager = ExperimentManager(git_repo.path)
    for i in range(1, 6):
        _record(manager, git_repo, f"e{i}", "failed" if i in (2, 4) else "success")
    manager.tag("e3", "keeper")
    _age(git_repo, "e1", 40)
    _age(git_repo, "e2", 40)
    return git_repo


def test_rm_keeps_a_trash_ref_and_undo_restores(five: GitRepo) -> None:
    manager = ExperimentManager(five.path)
    tip = manager.summary("e4").commit
    [removal] = manager.rm(["e4"])
    assert "e4" not in _refs(five)
    assert five.git("rev-parse", removal.trash_ref).strip() == tip
    assert "e4" not in {s.id for s in manager.log()}  # the same manager sees it go
    with pytest.raises(ExperimentNotFoundError, match="e9"):
        manager.rm(["e5", "e9"])
    assert "e5" in _refs(five)  # all or nothing
    [back] = manager.undo_rm(["e4"])
    assert manager.summary("e4").commit == tip == back.commit
    assert _refs(five, "refs/mlvc/trash/") == set()
    with pytest.raises(ExperimentNotFoundError, match="not in the trash"):
        manager.undo_rm(["e4"])


def test_undo_refuses_when_the_id_is_taken_again(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    _record(manager, git_repo, "x")
    manager.rm(["x"])
    _record(manager, git_repo, "x")
    with pytest.raises(ExperimentExistsError, match="exists again"):
        manager.undo_rm(["x"])


@pytest.mark.parametrize(
    ("policy", "removed", "kept_labelled"),
    [
        (GcPolicy(), set(), []),
        (GcPolicy(older_than=30), {"e1", "e2"}, []),
        (GcPolicy(failed=True), {"e2", "e4"}, []),
        (GcPolicy(failed=True, older_than=30), {"e2"}, []),
        (GcPolicy(keep=2), {"e1", "e2"}, ["e3"]),
        (GcPolicy(keep=2, include_tagged=True), {"e1", "e2", "e3"}, []),
        (GcPolicy(keep=2, tags=True), {"e1", "e2", "e3"}, []),
        (GcPolicy(keep=4, failed=True), set(), []),
    ],
    ids=["nothing", "older", "failed", "failed-and-older", "keep", "keep-tagged", "keep-tags",
         "keep-protects"],
)  # fmt: skip
def test_gc_policies_remove_exactly_the_expected_refs(
    five: GitRepo, policy: GcPolicy, removed: set[str], kept_labelled: list[str]
) -> None:
    manager = ExperimentManager(five.path)
    plan = manager.gc_plan(policy)
    assert {item.experiment_id for item in plan.experiments} == removed
    assert plan.kept_labelled == kept_labelled
    before = _refs(five)
    manager.gc(plan)
    assert _refs(five) == before - removed
    assert ("keeper" in five.git("tag").split()) == (not policy.tags or "e3" not in removed)


def test_gc_shrinks_the_object_count_and_now_prunes(five: GitRepo) -> None:
    manager = ExperimentManager(five.path)
    before = count_objects(manager.repo)
    seen: list[tuple[int, int]] = []
    policy = GcPolicy(failed=True, now=True)
    result = manager.gc(
        manager.gc_plan(policy), now=True, on_progress=lambda d, t: seen.append((d, t))
    )
    after = count_objects(manager.repo)
    assert after["count"] < before["count"] == result.loose_before
    assert result.loose_after == after["count"] == 0
    assert seen
    assert all(done <= total for done, total in seen)
    assert _refs(five, "refs/mlvc/trash/") == set()  # --now expires the trash at once
    unreachable = five.git("fsck", "--unreachable", "--no-reflogs")
    assert "commit" not in unreachable


def test_gc_branches_cleans_only_the_tools_own(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    _record(manager, git_repo, "a", "failed")
    _record(manager, git_repo, "b", "failed")
    manager.branch("a")
    manager.branch("b")
    git_repo.git("branch", "-f", "mlvc/b", "main")  # the user moved it: not the tool's any more
    plan = manager.gc_plan(GcPolicy(failed=True, branches=True))
    assert plan.branches == ["mlvc/a"]
    assert {i.experiment_id for i in plan.experiments} == {"a", "b"}
    manager.gc(plan)
    assert git_repo.git("branch", "--list", "mlvc/*").split() == ["mlvc/b"]


def test_gc_expires_old_trash_only(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    _record(manager, git_repo, "old")
    _record(manager, git_repo, "new")
    [removal] = manager.rm(["old"])
    ancient = removal.trash_ref.rsplit("/", 1)[0] + "/20000101T000000.000000Z"
    git_repo.git("update-ref", ancient, removal.commit)
    manager.rm(["new"])
    plan = manager.gc_plan(GcPolicy())
    assert plan.trash == [ancient]
    manager.gc(plan)
    left = git_repo.git("for-each-ref", "--format=%(refname)", "refs/mlvc/trash/").split()
    assert removal.trash_ref in left
    assert len(left) == 2  # "old" as rm left it, and "new"
    assert ancient not in git_repo.git("for-each-ref", "--format=%(refname)")


def test_gc_refuses_a_stale_plan(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    _record(manager, git_repo, "a", "failed")
    plan = manager.gc_plan(GcPolicy(failed=True))
    manager.start("a", resume=True)
    with pytest.raises(MlvcError, match="changed nothing"):
        manager.gc(plan)
    assert "a" in _refs(git_repo)


def test_gc_prunes_cached_large_files_no_checkpoint_names(git_repo: GitRepo) -> None:
    git_repo.write({".mlvc.toml": "max-file-size = 100\n"})
    git_repo.commit("settings")
    manager = ExperimentManager(git_repo.path)
    for exp in ("kept", "gone"):
        git_repo.write({f"{exp}.bin": exp * 200})
        manager.start(exp)
        manager.end(exp)
    cache = ContentCache(manager.repo)
    entries = dict(cache.entries())
    assert len(entries) == 2
    for path in entries.values():  # older than the grace a checkpoint in progress gets
        os.utime(path, (time.time() - 2 * CACHE_GRACE_SECONDS,) * 2)
    manager.rm(["gone"])
    kept_sha = manager.show("kept").large_files[0].sha256
    result = manager.gc(manager.gc_plan(GcPolicy()))  # "gone" is in the trash: still named
    assert result.cache_pruned == 0
    result = manager.gc(manager.gc_plan(GcPolicy(now=True)), now=True)
    assert result.cache_pruned == 1
    assert set(dict(cache.entries())) == {kept_sha}


def test_gc_moves_a_notebook_progress_bar(git_repo: GitRepo) -> None:
    from mlvc_jupyter.widgets.progress import ProgressBar

    manager = ExperimentManager(git_repo.path)
    _record(manager, git_repo, "a")
    shown: list[object] = []
    with ProgressBar("git gc", show=True, display=shown.append) as bar:
        manager.gc(manager.gc_plan(GcPolicy()), on_progress=bar)
        assert bar.bar is not None
        assert bar.bar.value == bar.bar.max  # git's last stage reached 100%
    assert len(shown) == 1
