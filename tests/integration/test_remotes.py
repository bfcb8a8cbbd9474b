"""Push and pull experiments between real clones: over a bare repository (file://) and a real
``git daemon`` on 127.0.0.1 that each test starts and stops."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlvc_jupyter.cli import main
from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.records import TransferItem
from mlvc_jupyter.core.sharing import remotes
from mlvc_jupyter.errors import MlvcError
from tests.conftest import GitRepo, git


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def git_daemon(base: Path) -> Iterator[str]:
    """Serve ``base`` with ``git daemon`` (push enabled) and yield its URL prefix."""
    port = _free_port()
    proc = subprocess.Popen(
        ["git", "daemon", "--export-all", "--enable=receive-pack", "--reuseaddr",
         f"--base-path={base}", "--listen=127.0.0.1", f"--port={port}", str(base)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(200):  # readiness: the port accepts connections
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert proc.poll() is None, "git daemon exited"
            time.sleep(0.05)
        yield f"git://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture(params=["file", "daemon"])
def remote_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty bare repository, over file:// or git:// (a real daemon)."""
    served = tmp_path / "served"
    served.mkdir()
    git(served, "init", "-q", "--bare", "team.git")
    if request.param == "file":
        yield (served / "team.git").as_uri()
    else:
        with git_daemon(served) as prefix:
            yield f"{prefix}/team.git"


def _clone(tmp_path: Path, name: str, url: str) -> ExperimentManager:
    """Return the manager of a new working repository whose origin is ``url``."""
    path = tmp_path / name
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "train.py").write_text("print('train')\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    git(path, "remote", "add", "origin", url)
    return ExperimentManager(path)


def _outcomes(report: object) -> dict[tuple[str, str], str]:
    return {(i.kind, i.name): i.outcome for i in report.items}  # type: ignore[attr-defined]


def _record(manager: ExperimentManager, experiment_id: str, *, tag: str | None = None) -> str:
    manager.start(experiment_id, configs={"lr": 0.1})
    return manager.end(experiment_id, metrics={"acc": 0.5}, tag=tag).commit


def test_two_clones_share_experiments_both_ways_with_their_tags(
    tmp_path: Path, remote_url: str
) -> None:
    alice, bob = _clone(tmp_path, "alice", remote_url), _clone(tmp_path, "bob", remote_url)
    a1 = _record(alice, "a1", tag="alice-best")
    seen: list[tuple[int, int]] = []

    pushed = alice.push(on_progress=lambda done, total: seen.append((done, total)))
    assert _outcomes(pushed) == {("experiment", "a1"): "new", ("tag", "alice-best"): "new"}
    assert seen
    assert all(0 <= done <= total for done, total in seen)
    pulled = bob.pull()
    assert _outcomes(pulled) == {("experiment", "a1"): "new", ("tag", "alice-best"): "new"}
    assert bob.summary("a1").commit == a1
    assert bob.summary("a1").tags == ["alice-best"]

    b1 = _record(bob, "b1", tag="bob-best")
    assert _outcomes(bob.push())[("experiment", "b1")] == "new"
    back = alice.pull()
    assert [i.name for i in back.of("new")] == ["b1"]
    assert _outcomes(back)[("tag", "bob-best")] == "new"
    assert alice.summary("b1").commit == b1
    assert {s.id for s in alice.log()} == {"a1", "b1"}
    assert _outcomes(alice.push()) == {
        ("experiment", "a1"): "up to date", ("experiment", "b1"): "up to date",
        ("tag", "alice-best"): "up to date", ("tag", "bob-best"): "up to date",
    }  # fmt: skip


def test_push_sends_only_the_named_experiments_and_their_tags(
    tmp_path: Path, remote_url: str
) -> None:
    alice = _clone(tmp_path, "alice", remote_url)
    _record(alice, "keep", tag="keep-tag")
    _record(alice, "private", tag="private-tag")
    git(alice.root, "tag", "-a", "-m", "not mlvc's", "release", "HEAD")

    report = alice.push("origin", ["keep"])

    assert _outcomes(report) == {("experiment", "keep"): "new", ("tag", "keep-tag"): "new"}
    bare = tmp_path / "served" / "team.git"
    refs = git(bare, "for-each-ref", "--format=%(refname)").split()
    assert refs == ["refs/mlvc/experiments/keep", "refs/tags/keep-tag"]


def test_a_diverged_experiment_keeps_both_histories(tmp_path: Path, remote_url: str) -> None:
    alice, bob = _clone(tmp_path, "alice", remote_url), _clone(tmp_path, "bob", remote_url)
    _record(alice, "e1")
    alice.push()
    bob.pull()
    alice.start("e1", resume=True)
    theirs = alice.end("e1", metrics={"acc": 0.9}).commit
    alice.push()
    bob.start("e1", resume=True)
    mine = bob.end("e1", metrics={"acc": 0.7}).commit

    rejected = bob.push()
    assert _outcomes(rejected)[("experiment", "e1")] == "rejected"
    assert "pull" in rejected.of("rejected")[0].note
    pulled = bob.pull()

    assert _outcomes(pulled)[("experiment", "e1")] == "diverged"
    assert "origin/e1" in pulled.of("diverged")[0].note
    assert bob.summary("e1").commit == mine  # nothing overwritten
    remote = bob.show("origin/e1")
    assert remote.summary.commit == theirs
    assert remote.summary.id == "origin/e1"
    assert remote.summary.metrics == {"acc": 0.9}
    assert bob.diff("e1", "origin/e1").metrics["acc"]["delta"] == pytest.approx(0.2)
    assert [c.commit for c in bob.history("origin/e1")][-1] == theirs
    listed = {s.id: s.commit for s in bob.query(limit=None, remotes=True).items}
    assert listed["e1"] == mine
    assert listed["origin/e1"] == theirs
    assert "origin/e1" not in {s.id for s in bob.query(limit=None).items}


def test_pull_fast_forwards_and_a_lease_guards_force(tmp_path: Path, remote_url: str) -> None:
    alice, bob = _clone(tmp_path, "alice", remote_url), _clone(tmp_path, "bob", remote_url)
    _record(alice, "e1")
    alice.push()
    bob.pull()
    alice.start("e1", resume=True)
    newer = alice.end("e1", metrics={"acc": 0.8}).commit
    alice.push()

    assert _outcomes(bob.pull())[("experiment", "e1")] == "updated"
    assert bob.summary("e1").commit == newer

    # Alice moves on; Bob has not seen it, so his forced push of a rewrite must not win.
    alice.start("e1", resume=True)
    latest = alice.end("e1", metrics={"acc": 0.95}).commit
    alice.push()
    git(bob.root, "update-ref", "refs/mlvc/experiments/e1", bob.summary("e1").commit + "~1")
    assert _outcomes(bob.push(force=True))[("experiment", "e1")] == "rejected"
    bare = tmp_path / "served" / "team.git"
    assert git(bare, "rev-parse", "refs/mlvc/experiments/e1").strip() == latest


def test_a_pulled_tag_never_replaces_a_local_one(tmp_path: Path, remote_url: str) -> None:
    alice, bob = _clone(tmp_path, "alice", remote_url), _clone(tmp_path, "bob", remote_url)
    _record(alice, "e1", tag="best")
    alice.push()
    _record(bob, "mine", tag="best")
    before = git(bob.root, "rev-parse", "refs/tags/best")

    pulled = bob.pull()

    assert _outcomes(pulled)[("tag", "best")] == "conflict"
    assert git(bob.root, "rev-parse", "refs/tags/best") == before
    assert not pulled.ok


def test_share_adds_refspecs_plain_git_uses_and_disable_removes_exactly_them(
    tmp_path: Path,
) -> None:
    bare = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    alice, bob = _clone(tmp_path, "alice", str(bare)), _clone(tmp_path, "bob", str(bare))
    _record(alice, "e1")
    config_before = (alice.root / ".git" / "config").read_text()

    shared = alice.share("origin", enable=True)
    assert shared.changed
    assert alice.share("origin", enable=True).changed is False  # idempotent
    git(alice.root, "push", "-q", "origin")  # plain git push now carries experiments
    assert git(bare, "for-each-ref", "--format=%(refname)") == "refs/heads/main\n" + (
        "refs/mlvc/experiments/e1\n"
    )
    bob.share(enable=True)
    git(bob.root, "fetch", "-q", "origin")
    assert git(bob.root, "rev-parse", "refs/mlvc/remotes/origin/experiments/e1").strip() == (
        alice.summary("e1").commit
    )

    alice.share("origin", enable=False)
    assert (alice.root / ".git" / "config").read_text() == config_before


def test_a_shallow_clone_pushes_where_the_remote_has_its_history_else_gets_the_hint(
    tmp_path: Path,
) -> None:
    bare = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    alice = _clone(tmp_path, "alice", bare.as_uri())
    for n in range(3):
        (alice.root / "train.py").write_text(f"print({n})\n")
        git(alice.root, "commit", "-qam", f"change {n}")
    git(alice.root, "push", "-q", "origin", "main")
    git(tmp_path, "clone", "-q", "--depth", "1", bare.as_uri(), "shallow")
    shallow = ExperimentManager(tmp_path / "shallow")
    assert git(shallow.root, "rev-parse", "--is-shallow-repository").strip() == "true"
    commit = _record(shallow, "from-shallow")

    report = shallow.push()

    assert _outcomes(report)[("experiment", "from-shallow")] == "new"
    assert git(bare, "rev-parse", "refs/mlvc/experiments/from-shallow").strip() == commit
    empty = tmp_path / "empty.git"
    git(tmp_path, "init", "-q", "--bare", str(empty))
    git(shallow.root, "remote", "add", "empty", empty.as_uri())
    refused = shallow.push("empty")  # the remote lacks the commits below the shallow tip
    assert "git fetch --unshallow" in refused.of("rejected")[0].note


def test_cli_push_and_pull_print_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    alice, bob = _clone(tmp_path, "alice", str(bare)), _clone(tmp_path, "bob", str(bare))
    _record(alice, "e1")
    _record(bob, "e1")

    assert main(["-C", str(alice.root), "push"]) == 0
    assert "Push to origin" in capsys.readouterr().out
    assert main(["-C", str(bob.root), "pull"]) == 0
    out = capsys.readouterr().out
    assert "1 diverged" in out
    assert "mlvc diff e1 origin/e1" in out
    assert main(["-C", str(bob.root), "log", "--all"]) == 0
    assert "origin/e1" in capsys.readouterr().out
    assert main(["-C", str(bob.root), "show", "origin/e1"]) == 0


def test_a_missing_remote_and_a_remote_less_repository_say_what_to_do(tmp_path: Path) -> None:
    bare = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    alice = _clone(tmp_path, "alice", str(bare))
    _record(alice, "e1")
    with pytest.raises(MlvcError, match="no remote 'e1'") as info:
        alice.push("e1")
    assert "mlvc push origin e1" in (info.value.hint or "")
    git(alice.root, "remote", "remove", "origin")
    with pytest.raises(MlvcError, match="has no remote"):
        alice.pull()


def test_an_experiment_written_here_during_a_pull_is_skipped_not_overwritten(
    git_repo: GitRepo,
) -> None:
    manager = ExperimentManager(git_repo.path)
    first, second = _record(manager, "e1"), _record(manager, "e2")
    planned = [  # planned as if e1 were new here: it was recorded meanwhile
        TransferItem("experiment", "e1", "new", None, second),
        TransferItem("experiment", "e3", "new", None, first),
    ]

    moved = remotes._move(manager.repo, planned, "refs/mlvc/experiments/")

    assert [(i.name, i.outcome) for i in moved] == [("e1", "skipped"), ("e3", "new")]
    assert "pull again" in moved[0].note
    assert manager.summary("e1").commit == first
    assert git_repo.git("rev-parse", "refs/mlvc/experiments/e3").strip() == first
