"""Shared parts of the reliability suite (issue 8): counts, the invariant checker, helpers.

Every test here checks the promises of issue 8 with :class:`Invariants`:

- ``git fsck --strict`` is clean;
- every checkpoint the API acknowledged is reachable from ``refs/mlvc/experiments/<id>`` and
  holds the expected files;
- the user's HEAD, ``.git/index`` and working files are byte-identical;
- no stale ``*.lock`` under ``.git/refs/mlvc`` (nor the user's ``index.lock``) is left, and the
  next call succeeds and leaves no temporary file of ours under ``.git/mlvc/tmp``;
- an expected failure is an ``MlvcError`` that names the problem and whose ``hint`` names a fix.

The fast subset runs by default; ``pytest --reliability-full`` switches to the full counts.
``MLVC_RELIABILITY_SEED`` fixes the random seed; ``MLVC_RELIABILITY_REPORT`` names a JSON file
that collects latency figures.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mlvc_jupyter import ExperimentManager, MlvcError
from tests.conftest import GitRepo

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
EXPERIMENTS = "refs/mlvc/experiments"


# -- marker, counts, seed -------------------------------------------------------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test of this folder ``reliability``."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.reliability)


@dataclass(frozen=True)
class Counts:
    """How hard each test pushes: the fast subset, or issue 8's full counts."""

    full: bool
    writers: int
    checkpoints: int
    kills: int
    syscall_points: int
    examples: int
    notebook_checkpoints: int
    racy_rounds: int


FAST = Counts(
    False,
    writers=4,
    checkpoints=8,
    kills=12,
    syscall_points=4,
    examples=300,
    notebook_checkpoints=50,
    racy_rounds=12,
)
FULL = Counts(
    True,
    writers=16,
    checkpoints=50,
    kills=200,
    syscall_points=40,
    examples=10_000,
    notebook_checkpoints=150,
    racy_rounds=200,
)


@pytest.fixture(scope="session")
def counts(pytestconfig: pytest.Config) -> Counts:
    """Return the counts this run uses (``--reliability-full`` for the full ones)."""
    return FULL if pytestconfig.getoption("--reliability-full") else FAST


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    """Return a seeded random generator; the seed is printed so a failure can be replayed."""
    seed = int(os.environ.get("MLVC_RELIABILITY_SEED") or random.randrange(2**32))
    print(f"{request.node.nodeid}: MLVC_RELIABILITY_SEED={seed}")
    return random.Random(seed)


@pytest.fixture(autouse=True)
def child_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make children import this checkout and keep our own ``git status`` off the index."""
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), path) if p))
    monkeypatch.setenv("GIT_OPTIONAL_LOCKS", "0")


# -- running things -------------------------------------------------------------------------------


def run_mlvc(
    cwd: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 180, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run the ``mlvc`` CLI as a subprocess in ``cwd`` and return the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "mlvc_jupyter", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,  # a hang guard, not a latency assertion
        check=False,
        **kwargs,
    )


def worker_argv(*args: str) -> list[str]:
    """Return the argv of a child process from :mod:`tests.reliability.workers`."""
    return [sys.executable, "-m", "tests.reliability.workers", *args]


def read_acks(path: Path) -> list[dict[str, Any]]:
    """Return the JSON lines a worker appended after each acknowledged checkpoint."""
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.endswith("}")]


def git_run(
    repo: Path, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run git in ``repo`` without raising; return the finished process."""
    return subprocess.run(["git", *args], cwd=repo, input=stdin, capture_output=True, check=False)


def blob_at(repo: Path, rev: str, path: str) -> bytes | None:
    """Return the bytes of ``path`` in ``rev``'s tree, or None when it is not there."""
    proc = git_run(repo, "cat-file", "blob", f"{rev}:{path}")
    return proc.stdout if proc.returncode == 0 else None


def mode_at(repo: Path, rev: str, path: str) -> str | None:
    """Return the tree mode of ``path`` in ``rev`` (``120000`` is a symlink), or None."""
    out = git_run(repo, "ls-tree", "-z", rev, "--", path).stdout.decode()
    return out.split(" ", 1)[0] if out else None


def ref_of(repo: Path, experiment_id: str) -> str | None:
    """Return the commit an experiment's ref points at, or None."""
    proc = git_run(repo, "rev-parse", "-q", "--verify", f"{EXPERIMENTS}/{experiment_id}")
    return proc.stdout.decode().strip() or None


def checkpoint_count(repo: Path, experiment_id: str) -> int:
    """Return how many checkpoints an experiment's ref holds (0 when it has no ref)."""
    tip = ref_of(repo, experiment_id)
    if tip is None:
        return 0
    head = git_run(repo, "rev-parse", "-q", "--verify", "HEAD").stdout.decode().strip()
    args = ["rev-list", "--count", tip] + ([f"^{head}"] if head else [])
    return int(git_run(repo, *args).stdout)


# -- expected failures ----------------------------------------------------------------------------


def _quotes(text: str, value: str) -> bool:
    forms = {value, repr(value), repr(value)[1:-1], ascii(value)[1:-1], value.strip()}
    return any(form[:20] in text for form in forms if form)


def assert_clear_error(
    exc: BaseException, *, quoting: str | None = None, mentions: Iterable[str] = ()
) -> MlvcError:
    """Assert ``exc`` is an MlvcError with a hint, quoting ``quoting`` and naming ``mentions``."""
    assert isinstance(exc, MlvcError), f"expected an MlvcError, got {type(exc).__name__}: {exc!r}"
    assert exc.hint, f"the error names no fix: {exc!r}"
    text = str(exc)
    if quoting is not None:
        assert _quotes(text, quoting), f"the error does not quote {quoting!r}: {text!r}"
    for word in mentions:
        assert word.lower() in text.lower(), f"the error does not mention {word!r}: {text!r}"
    return exc


def expect_error(
    call: Callable[[], object], *, quoting: str | None = None, mentions: Iterable[str] = ()
) -> MlvcError:
    """Run ``call``, which must fail with a clear MlvcError (see :func:`assert_clear_error`)."""
    try:
        call()
    except Exception as exc:  # noqa: BLE001  # any type is caught so the assertion can name it
        return assert_clear_error(exc, quoting=quoting, mentions=mentions)
    pytest.fail("expected an MlvcError, but the call succeeded")


# -- the invariant checker ------------------------------------------------------------------------


@dataclass
class Ack:
    """A checkpoint the API acknowledged, with files its tree must hold (None: absent)."""

    experiment_id: str
    commit: str
    files: dict[str, bytes | None] = field(default_factory=dict)


class Invariants:
    """Record the user's state and acknowledged checkpoints; :meth:`check` asserts issue 8's."""

    def __init__(self, repo: GitRepo) -> None:
        self.repo = repo
        self.before = repo.fingerprint()
        self.acks: list[Ack] = []

    @property
    def path(self) -> Path:
        return self.repo.path

    def ack(
        self, experiment_id: str, commit: str, files: Mapping[str, bytes | None] | None = None
    ) -> None:
        """Remember a checkpoint the API acknowledged."""
        self.acks.append(Ack(experiment_id, commit, dict(files or {})))

    def check(self, *, next_call: str | None = None, ignore: Iterable[str] = ()) -> None:
        """Assert every invariant; with ``next_call``, also that a checkpoint of it lands."""
        self.assert_fsck_clean()
        self.assert_acked_reachable()
        self.assert_user_state_unchanged(ignore)
        if next_call is not None:  # a lock of a dead writer may remain until the next call
            self.assert_next_call_succeeds(next_call)
            self.assert_fsck_clean()
        self.assert_no_stale_locks()

    def assert_fsck_clean(self) -> None:
        proc = git_run(self.path, "fsck", "--strict", "--no-dangling", "--no-progress")
        output = (proc.stdout + proc.stderr).decode("utf-8", "replace")
        assert proc.returncode == 0, f"git fsck --strict failed:\n{output}"
        for word in ("error", "missing", "broken", "invalid"):
            assert word not in output.lower(), f"git fsck --strict reports a problem:\n{output}"

    def assert_acked_reachable(self) -> None:
        reachable: dict[str, set[str]] = {}
        for ack in self.acks:
            if ack.experiment_id not in reachable:
                tip = ref_of(self.path, ack.experiment_id)
                out = git_run(self.path, "rev-list", tip).stdout.decode() if tip else ""
                reachable[ack.experiment_id] = set(out.split())
            assert ack.commit in reachable[ack.experiment_id], (
                f"acknowledged checkpoint {ack.commit} of {ack.experiment_id!r} is not reachable"
            )
            for path, content in ack.files.items():
                stored = blob_at(self.path, ack.commit, path)
                where = f"{ack.commit[:8]}:{path}"
                assert stored == content, f"{where} holds {stored!r}, not {content!r}"

    def assert_user_state_unchanged(self, ignore: Iterable[str] = ()) -> None:
        skip = set(ignore)
        before = {k: v for k, v in self.before.items() if k not in skip}
        after = {k: v for k, v in self.repo.fingerprint().items() if k not in skip}
        assert after == before, "the user's HEAD, index or working files changed"

    def assert_no_stale_locks(self) -> None:
        git_dir = self.path / ".git"
        locks = sorted((git_dir / "refs" / "mlvc").rglob("*.lock"))
        assert not locks, f"stale locks left under refs/mlvc: {locks}"
        assert not (git_dir / "index.lock").exists(), "the user's index.lock was left behind"

    def assert_next_call_succeeds(self, experiment_id: str) -> None:
        """A fresh manager records a checkpoint; afterwards none of our temp files remain."""
        checkpoint = ExperimentManager(self.path, init=False).start(experiment_id, resume=True)
        self.ack(experiment_id, checkpoint.commit)
        self.assert_acked_reachable()
        tmp = self.path / ".git" / "mlvc" / "tmp"
        left = sorted(tmp.iterdir()) if tmp.is_dir() else []
        assert not left, f"temporary files of ours left after the next call: {left}"


@pytest.fixture
def invariants(git_repo: GitRepo) -> Invariants:
    """Return the invariant checker of ``git_repo``, fingerprinted before the test acts."""
    return Invariants(git_repo)


# -- latency figures ------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Return the ``q`` quantile (0..1) of ``values`` by the nearest-rank method."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))
    return ordered[rank]


def report_latency(name: str, seconds: list[float], **extra: Any) -> dict[str, Any]:
    """Print p50/p95 of ``seconds`` and add them to ``$MLVC_RELIABILITY_REPORT`` if it is set."""
    figures = {
        "count": len(seconds),
        "p50_ms": round(percentile(seconds, 0.50) * 1000, 1),
        "p95_ms": round(percentile(seconds, 0.95) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
        **extra,
    }
    print(f"{name}: {json.dumps(figures)}")
    target = os.environ.get("MLVC_RELIABILITY_REPORT")
    if target:
        path = Path(target)
        data = json.loads(path.read_text()) if path.exists() else {}
        data[name] = figures
        path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return figures
