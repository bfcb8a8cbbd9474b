"""The query layer: search, filters, sorting, paging, the in-memory listing and its freshness."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlvc_jupyter.cli import main
from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.reading import freshness
from mlvc_jupyter.core.repo import runner
from mlvc_jupyter.errors import MlvcError
from tests.conftest import GitRepo

# id, name, message, end metrics (None: still running), tag
EXPERIMENTS = [
    ("base", "Baseline", "plain SGD", {"acc": 0.70, "loss": 0.9}, None),
    ("lr-high", "LR sweep", "Learning rate 0.1", {"acc": 0.85}, "Best-Run"),
    ("lr-low", "LR sweep", "learning rate 0.001", {"acc": 0.60, "loss": 0.4}, None),
    ("wide", "Wide net", "more CHANNELS", None, None),
    ("deep", "Deep net", "depth 50", {"loss": 0.2}, "candidate"),
]


@pytest.fixture
def manager(git_repo: GitRepo) -> ExperimentManager:
    """A repository with the five experiments above, recorded oldest (base) to newest (deep)."""
    manager = ExperimentManager(git_repo.path)
    for exp_id, name, message, metrics, tag in EXPERIMENTS:
        manager.start(exp_id, name=name, message=message, configs={"id": exp_id, "opt": {"n": 1}})
        if metrics is not None:
            manager.end(exp_id, metrics=metrics, tag=tag, message=message)
    return manager


def ids(manager: ExperimentManager, **kwargs: object) -> list[str]:
    return [s.id for s in manager.query(**kwargs).items]  # type: ignore[arg-type]


def git_calls(manager: ExperimentManager, **kwargs: object) -> list[str]:
    """Run a query; return the git subcommands it ran."""
    runner.reset_timings()
    manager.query(**kwargs)  # type: ignore[arg-type]
    return [command for command, _ in runner.recent_timings()]


def age_refs(repo: Path, seconds: float = 3600) -> None:
    """Backdate every ref file and folder, so the refs' state is no longer racy."""
    then = time.time() - seconds
    for folder in (repo / ".git" / "refs", repo / ".git" / "packed-refs"):
        paths = [folder, *folder.rglob("*")] if folder.is_dir() else [folder]
        for path in paths:
            if path.exists():
                os.utime(path, (then, then))


def run_python(code: str, cwd: Path) -> None:
    """Run ``code`` in another Python process (a second kernel or a training script)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, check=True)


# -- search and filters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("LR-", ["lr-low", "lr-high"]),  # id, any case
        ("wide NET", ["wide"]),  # name
        ("channels", ["wide"]),  # message
        ("best-run", ["lr-high"]),  # tag
        ("learning RATE", ["lr-low", "lr-high"]),  # message, differently cased in each
        ("nothing-matches", []),
    ],
    ids=["id", "name", "message", "tag", "two-messages", "none"],
)
def test_search_ignores_case_across_id_name_message_and_tags(
    manager: ExperimentManager, search: str, expected: list[str]
) -> None:
    page = manager.query(search)
    assert [s.id for s in page.items] == expected
    assert page.total == len(expected)


def test_status_and_tag_filters(manager: ExperimentManager) -> None:
    assert ids(manager, status="running") == ["wide"]
    assert ids(manager, status="success") == ["deep", "lr-low", "lr-high", "base"]
    assert ids(manager, status="failed") == []
    assert ids(manager, tag="candidate") == ["deep"]
    assert ids(manager, tag="Best-Run", status="success") == ["lr-high"]
    assert ids(manager, tag="best-run") == []  # tags match exactly
    assert ids(manager, search="lr", status="success", sort="name") == ["lr-low", "lr-high"]


# -- sorting -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-created", ["deep", "wide", "lr-low", "lr-high", "base"]),
        ("created", ["base", "lr-high", "lr-low", "wide", "deep"]),
        ("id", ["base", "deep", "lr-high", "lr-low", "wide"]),
        ("-checkpoints", ["deep", "lr-low", "lr-high", "base", "wide"]),
        ("metrics.acc", ["lr-low", "base", "lr-high", "deep", "wide"]),
        ("-metrics.acc", ["lr-high", "base", "lr-low", "deep", "wide"]),
        ("metrics.loss", ["deep", "lr-low", "base", "wide", "lr-high"]),
        ("-metrics.loss", ["base", "lr-low", "deep", "wide", "lr-high"]),
        ("metrics.unknown", ["deep", "wide", "lr-low", "lr-high", "base"]),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_sort_by_field_or_metric_with_missing_values_last(
    manager: ExperimentManager, sort: str, expected: list[str]
) -> None:
    """Ties and missing values keep the newest-first order, in both directions."""
    assert ids(manager, sort=sort) == expected


def test_sort_mixes_numbers_text_and_nan(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    for exp_id, score in [("n1", 2), ("s", "high"), ("nan", float("nan")), ("n2", 0.5)]:
        manager.start(exp_id)
        manager.end(exp_id, metrics={"score": score})
    assert ids(manager, sort="metrics.score") == ["n2", "n1", "s", "nan"]
    assert ids(manager, sort="-metrics.score") == ["s", "n1", "n2", "nan"]


# -- paging --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "limit", "expected"),
    [
        (0, 2, ["deep", "wide"]),
        (2, 2, ["lr-low", "lr-high"]),
        (4, 2, ["base"]),
        (5, 2, []),
        (1, None, ["wide", "lr-low", "lr-high", "base"]),
    ],
    ids=["first", "middle", "last-partial", "past-the-end", "no-limit"],
)
def test_paging(
    manager: ExperimentManager, offset: int, limit: int | None, expected: list[str]
) -> None:
    page = manager.query(offset=offset, limit=limit)
    assert [s.id for s in page.items] == expected
    assert (page.total, page.offset, page.limit) == (5, offset, limit)
    assert page.to_dict() == {
        "total": 5,
        "items": [s.to_dict() for s in page.items],
        "offset": offset,
        "limit": limit,
    }


def test_default_page_holds_fifty(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    page = manager.query()
    assert (page.total, page.items, page.offset, page.limit) == (0, [], 0, 50)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sort": "colour"}, "Cannot sort by 'colour'"),
        ({"sort": "-metrics."}, "Cannot sort by '-metrics.'"),
        ({"sort": "extra"}, "Cannot sort by 'extra'"),
        ({"offset": -1}, "Invalid offset -1"),
        ({"offset": 1.5}, "Invalid offset 1.5"),
        ({"limit": 0}, "Invalid limit 0: a page holds 1 to 1000"),
        ({"limit": 1001}, "Invalid limit 1001"),
        ({"limit": True}, "Invalid limit True"),
        ({"status": "done"}, "Unknown status 'done'"),
        ({"tag": 3}, "Invalid tag 3"),
    ],
    ids=lambda v: str(v),
)
def test_bad_input_is_refused_with_a_hint(
    git_repo: GitRepo, kwargs: dict[str, object], match: str
) -> None:
    manager = ExperimentManager(git_repo.path)
    with pytest.raises(MlvcError, match=match) as info:
        manager.query(**kwargs)  # type: ignore[arg-type]
    assert info.value.hint


# -- the listing kept in memory ------------------------------------------------------------------


def test_repeated_query_runs_no_git(manager: ExperimentManager) -> None:
    assert git_calls(manager) == ["for-each-ref"]  # the manager's own writes changed the refs
    assert git_calls(manager) == []
    assert git_calls(manager, search="lr", sort="-metrics.acc", offset=1, limit=1) == []
    assert git_calls(manager, status="running") == []
    runner.reset_timings()
    assert len(manager.log()) == 5
    assert runner.recent_timings() == []


def test_log_reads_through_the_same_listing(manager: ExperimentManager) -> None:
    assert [s.id for s in manager.log()] == ["deep", "wide", "lr-low", "lr-high", "base"]
    assert manager.log() == manager.query(limit=None).items


def test_a_checkpoint_from_another_process_is_seen(
    manager: ExperimentManager, git_repo: GitRepo
) -> None:
    """The refs are old (stat alone decides) when another process records a checkpoint."""
    age_refs(git_repo.path)
    assert ids(manager, sort="-metrics.acc", limit=1) == ["lr-high"]
    assert git_calls(manager) == []
    run_python(
        "from mlvc_jupyter.core.manager import ExperimentManager\n"
        "m = ExperimentManager('.')\n"
        "m.end('wide', metrics={'acc': 0.99})\n"
        "m.start('new', message='from elsewhere')\n",
        git_repo.path,
    )
    assert ids(manager, sort="-metrics.acc", limit=1) == ["wide"]
    assert ids(manager, search="elsewhere") == ["new"]
    assert manager.query().total == 6


def test_a_deleted_experiment_and_a_moved_tag_are_seen(
    manager: ExperimentManager, git_repo: GitRepo
) -> None:
    age_refs(git_repo.path)
    assert ids(manager, tag="candidate") == ["deep"]
    git_repo.git("update-ref", "-d", "refs/mlvc/experiments/base")
    git_repo.git("tag", "-d", "candidate")
    assert ids(manager, tag="candidate") == []
    assert "base" not in ids(manager)


def test_packing_refs_from_another_process_is_seen(
    manager: ExperimentManager, git_repo: GitRepo
) -> None:
    git_repo.git("pack-refs", "--all")
    age_refs(git_repo.path)
    assert manager.query().total == 5
    old_tip = git_repo.git("rev-parse", "refs/mlvc/experiments/lr-low~1").strip()
    git_repo.git("update-ref", "refs/mlvc/experiments/lr-low", old_tip)  # a loose ref again
    git_repo.git("pack-refs", "--all")  # and packed: only packed-refs changed
    summary = next(s for s in manager.query().items if s.id == "lr-low")
    assert (summary.status, summary.checkpoints) == ("running", 1)


def test_an_update_within_one_clock_tick_is_seen(
    manager: ExperimentManager, git_repo: GitRepo
) -> None:
    """The worst case of a same-tick update: the ref file and its folder keep inode, size and
    mtime, only the content changes. A just-captured state checks racy files by content."""
    folder = git_repo.path / ".git" / "refs" / "mlvc" / "experiments"
    ref = folder / "wide"
    soon = time.time_ns() + 10**9  # a second ahead: racy however busy the machine is
    for path in (ref, folder):
        os.utime(path, ns=(soon, soon))  # as a checkpoint in the same tick would leave them
    assert ids(manager, status="running") == ["wide"]
    before = [os.stat(p) for p in (folder, ref)]
    finished = git_repo.git("rev-parse", "refs/mlvc/experiments/deep").strip()
    ref.write_text(finished + "\n")  # same inode, same 41 bytes
    for path, st in zip((folder, ref), before, strict=True):
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert [(os.stat(p).st_ino, os.stat(p).st_mtime_ns) for p in (folder, ref)] == [
        (st.st_ino, st.st_mtime_ns) for st in before
    ]
    assert ids(manager, status="running") == []


def test_two_quick_updates_from_another_process_are_seen(
    manager: ExperimentManager, git_repo: GitRepo
) -> None:
    assert manager.query().total == 5
    head = git_repo.git("rev-parse", "refs/mlvc/experiments/deep~1").strip()
    run_python(
        "import subprocess\n"
        f"for rev in ('refs/mlvc/experiments/base', '{head}'):\n"
        "    subprocess.run(['git', 'update-ref', 'refs/mlvc/experiments/deep', rev])\n",
        git_repo.path,
    )
    deep = next(s for s in manager.query().items if s.id == "deep")
    assert (deep.status, deep.checkpoints) == ("running", 1)


def test_a_linked_worktree_shares_the_listing_state(
    manager: ExperimentManager, git_repo: GitRepo, tmp_path: Path
) -> None:
    linked = tmp_path / "linked"
    git_repo.git("worktree", "add", "-q", "--detach", str(linked))
    other = ExperimentManager(linked)
    age_refs(git_repo.path)
    assert other.query().total == 5
    manager.start("from-main")
    assert ids(other, search="from-main") == ["from-main"]


def test_a_folder_that_appears_or_vanishes_makes_the_state_stale(tmp_path: Path) -> None:
    (tmp_path / "refs" / "tags").mkdir(parents=True)
    state = freshness.capture(tmp_path)
    assert state.is_current()
    (tmp_path / "refs" / "mlvc" / "experiments").mkdir(parents=True)
    assert not state.is_current()
    state = freshness.capture(tmp_path)
    (tmp_path / "refs" / "tags").rmdir()
    assert not state.is_current()


def test_whole_second_mtimes_widen_the_racy_window(tmp_path: Path) -> None:
    """On a file system that keeps whole seconds (FAT, HFS+), a change 2 s before the capture
    may still share its tick with a later one: it is checked by content."""
    tags = tmp_path / "refs" / "tags"
    tags.mkdir(parents=True)
    (tags / "v1").write_text("a" * 40 + "\n")
    then = (time.time_ns() // 10**9 - 2) * 10**9
    paths = [tags / "v1", tags, tmp_path / "refs", tmp_path]
    for path in paths:
        os.utime(path, ns=(then, then))
    state = freshness.capture(tmp_path)
    (tags / "v1").write_text("b" * 40 + "\n")  # same inode and size
    for path in paths:
        os.utime(path, ns=(then, then))
    assert not state.is_current()


# -- faces: CLI and DataFrame --------------------------------------------------------------------


def test_mlvc_log_searches_sorts_and_pages(
    manager: ExperimentManager, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(manager.root)
    code = main(["-C", root, "log", "--search", "LR", "--sort", "-metrics.acc", "--limit", "1"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["ID", "NAME"]
    assert lines[1].startswith("lr-high ")
    assert lines[-1] == "showing 1–1 of 2 (--offset 1 for more)"
    main(["-C", root, "log", "--status", "success", "--sort", "metrics.loss", "-n", "2",
          "--offset", "1"])  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[1:3]] == ["lr-low", "base"]
    assert lines[-1] == "showing 2–3 of 4 (--offset 3 for more)"


def test_mlvc_log_reports_no_match_and_bad_input(
    manager: ExperimentManager, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(manager.root)
    assert main(["-C", root, "log", "--search", "zzz"]) == 0
    assert capsys.readouterr().out.strip() == "No experiment matches."
    assert main(["-C", root, "log", "--sort", "colour"]) == 1
    assert "Cannot sort by 'colour'" in capsys.readouterr().err


def test_to_dataframe_has_metric_and_param_columns(manager: ExperimentManager) -> None:
    pytest.importorskip("pandas")
    page = manager.query(sort="id", limit=3)
    frame = page.to_dataframe()
    assert list(frame["id"]) == ["base", "deep", "lr-high"]
    assert [c for c in frame.columns if c.startswith("metrics.")] == ["metrics.acc", "metrics.loss"]
    assert frame.loc[0, "metrics.loss"] == 0.9
    assert frame.loc[2, "metrics.acc"] == 0.85
    with_params = page.to_dataframe(params=True)
    assert list(with_params["params.id"]) == ["base", "deep", "lr-high"]
    assert list(with_params["params.opt.n"]) == [1, 1, 1]


def test_to_dataframe_without_pandas_says_how_to_get_it(
    manager: ExperimentManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(MlvcError, match="pandas is not installed") as info:
        manager.query().to_dataframe()
    assert "pip install pandas" in str(info.value.hint)


def test_query_reports_progress_over_every_experiment_it_makes(manager: ExperimentManager) -> None:
    calls: list[tuple[int, int]] = []
    page = manager.query(
        sort="metrics.acc", on_progress=lambda done, total: calls.append((done, total))
    )
    assert page.total == len(EXPERIMENTS)
    assert calls[0] == (0, 5)
    assert calls[-1] == (5, 5)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
