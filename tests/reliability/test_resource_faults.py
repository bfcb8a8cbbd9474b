"""A full disk and RLIMIT_FSIZE at each phase of a checkpoint (issue 8 item 6).

Guards: a checkpoint reported as failed leaves the ref where it was, with an error that
names a fix; a checkpoint whose ref moved is reported as recorded (a log that cannot be
written afterwards is a warning); the next call succeeds once space is back.
"""

from __future__ import annotations

import json
import resource
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from mlvc_jupyter import ExperimentManager
from tests.conftest import GitRepo
from tests.reliability.conftest import Invariants, ref_of, worker_argv

# From "nothing can be written" through the private index, blobs, tree, commit and ref, to
# only the timings log failing: the log is grown past the record's size first.
LIMITS = [0, 512, 1024, 2048, 4096, 6144, 8192, 12288, 16384, 32768, 1 << 20]


def _limited(limit: int):  # noqa: ANN202  # a preexec_fn
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def _commit_under_limit(inv: Invariants, limit: int) -> str | None:
    """Record one checkpoint under ``RLIMIT_FSIZE=limit``; return a problem, or None."""
    before = ref_of(inv.path, "e1")
    proc = subprocess.run(
        worker_argv("commit-once", str(inv.path), "e1"),
        capture_output=True,
        text=True,
        preexec_fn=_limited(limit),
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        return f"limit {limit}: crashed: {proc.stderr[-300:]}"
    result = json.loads(proc.stdout)
    after = ref_of(inv.path, "e1")
    if "commit" in result:
        inv.ack("e1", result["commit"])
        return None if after == result["commit"] else f"limit {limit}: acked, ref not moved"
    if after != before:
        return f"limit {limit}: the ref moved but the caller was told: {result['message']}"
    return None if result["hint"] else f"limit {limit}: no hint: {result}"


def test_file_size_limit_at_each_phase(invariants: Invariants) -> None:
    """RLIMIT_FSIZE from 0 to 1 MiB: failure means ref unchanged; success means ref moved."""
    manager = ExperimentManager(invariants.path, init=False)
    for _ in range(60):  # grow the timings log past the size of one record
        invariants.ack("e1", manager.start("e1", resume=True).commit)
    problems = [p for limit in LIMITS if (p := _commit_under_limit(invariants, limit))]
    invariants.check(next_call="e1")
    assert not problems, "\n".join(problems)


# -- a full disk ---------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Path:
    """A 4 MiB tmpfs mounted in tmp_path (root only), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path, leave: int) -> Path:
    """Fill the file system of ``folder`` until ``leave`` bytes are free; return the filler."""
    filler = folder / "filler"
    free = shutil.disk_usage(folder).free
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, free - leave))
    return filler


@pytest.mark.parametrize("leave", [0, 8192, 65536], ids=["0k", "8k", "64k"])
def test_full_disk_fails_clearly_and_recovers(
    git_repo: GitRepo, small_disk: Path, leave: int
) -> None:
    """ENOSPC: a clear 'disk full' error with the ref unchanged, or success; then recovery."""
    repo = GitRepo(small_disk / "repo")
    shutil.copytree(git_repo.path, repo.path, symlinks=True)
    inv = Invariants(repo)
    inv.ack("e1", ExperimentManager(repo.path, init=False).start("e1").commit)
    filler = _fill(small_disk, leave)
    problem = _commit_under_limit(inv, resource.RLIM_INFINITY)
    filler.unlink()
    assert problem is None, problem
    inv.check(next_call="e1")
