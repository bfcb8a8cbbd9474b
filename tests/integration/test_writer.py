"""The experiment writer: ref locks left by killed writers, ending, tagging, and errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.errors import ExperimentExistsError, InvalidNameError, MlvcError
from tests.conftest import GitCalls, GitRepo, git


def _lock(repo: GitRepo, experiment_id: str, *, age: float) -> Path:
    """Leave ``refs/mlvc/experiments/<id>.lock`` as a writer killed ``age`` seconds ago would."""
    lock = repo.path / ".git" / "refs" / "mlvc" / "experiments" / f"{experiment_id}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")
    then = time.time() - age
    os.utime(lock, (then, then))
    return lock


def _tip(repo: GitRepo, experiment_id: str) -> str:
    out = repo.git("rev-parse", "-q", "--verify", f"refs/mlvc/experiments/{experiment_id}")
    return out.strip()


# -- item: a SIGKILL during update-ref leaves a lock ---------------------------------------------


def test_a_lock_older_than_five_seconds_is_stale_and_removed(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("e1")
    lock = _lock(git_repo, "e1", age=10)
    manager.writer.max_wait = 2.0  # the stale lock is cleared at once; no waiting is needed
    assert manager.commit("e1", message="after a kill").seq == 2
    assert not lock.exists()


def test_a_stale_lock_on_a_new_experiment_does_not_block_its_start(git_repo: GitRepo) -> None:
    lock = _lock(git_repo, "e1", age=10)
    manager = ExperimentManager(git_repo.path)
    manager.writer.max_wait = 2.0
    assert manager.start("e1").seq == 1
    assert not lock.exists()


@pytest.mark.slow
def test_a_lock_left_by_a_killed_writer_delays_the_next_checkpoint_only_briefly(
    git_repo: GitRepo,
) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("e1")
    lock = _lock(git_repo, "e1", age=0)  # just killed: the lock is fresh
    assert manager.commit("e1", message="next").seq == 2  # lands once the lock turns stale
    assert not lock.exists()


def test_a_fresh_lock_is_never_removed(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("e1")
    lock = _lock(git_repo, "e1", age=0)
    manager.writer.max_wait = 0.5
    with pytest.raises(MlvcError, match=r"e1\.lock has been held for 0\.5 s") as info:
        manager.commit("e1")
    assert "once they are 5 s old" in str(info.value)
    assert lock.exists()
    assert manager.history("e1")[-1].seq == 1


# -- item: a failed end must not have recorded its checkpoint ------------------------------------

_FAKE_GPG = """#!/bin/sh
cat >/dev/null
printf '[GNUPG:] BEGIN_SIGNING\\n[GNUPG:] SIG_CREATED D 1 8 00 0 FAKE\\n' >&2
printf -- '-----BEGIN PGP SIGNATURE-----\\n\\nfake\\n-----END PGP SIGNATURE-----\\n'
"""


def _fake_gpg(tmp_path: Path, *, works: bool) -> str:
    program = tmp_path / ("gpg-ok" if works else "gpg-broken")
    program.write_text(_FAKE_GPG if works else "#!/bin/sh\necho 'gpg: no secret key' >&2\nexit 2\n")
    program.chmod(0o755)
    return str(program)


def test_a_tag_name_git_refuses_is_refused_before_anything_is_recorded(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("e1")
    before = _tip(git_repo, "e1")
    with pytest.raises(InvalidNameError, match=r"'v1\\n'"):
        manager.end("e1", tag="v1\n")
    assert _tip(git_repo, "e1") == before
    assert manager.end("e1", tag="v1").seq == 2  # ending again records it once


def test_a_signing_failure_is_found_before_the_ref_moves(git_repo: GitRepo, tmp_path: Path) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("e1")
    before = _tip(git_repo, "e1")
    git_repo.git("config", "tag.gpgSign", "true")
    git_repo.git("config", "gpg.program", _fake_gpg(tmp_path, works=False))
    with pytest.raises(
        MlvcError,
        match=r"'v1' must be signed .* signing failed: gpg failed to sign.*nothing was recorded",
    ) as info:
        manager.end("e1", tag="v1")
    assert "git config tag.gpgSign false" in str(info.value.hint)
    assert "gpg.program" in str(info.value.hint)
    assert _tip(git_repo, "e1") == before
    assert git_repo.git("tag", "--list") == ""
    git_repo.git("config", "tag.gpgSign", "false")
    assert manager.end("e1", tag="v1").seq == 2


@pytest.mark.parametrize("asked", [True, False], ids=["gpgSign", "not-asked"])
def test_a_tag_is_signed_only_when_the_configuration_asks(
    git_repo: GitRepo, tmp_path: Path, asked: bool
) -> None:
    git_repo.git("config", "gpg.program", _fake_gpg(tmp_path, works=True))
    if asked:
        git_repo.git("config", "tag.gpgSign", "true")
    manager = ExperimentManager(git_repo.path)
    manager.start("e1")
    manager.end("e1", tag="v1")
    tag_object = git_repo.git("cat-file", "tag", "v1")
    assert ("BEGIN PGP SIGNATURE" in tag_object) is asked
    assert git_repo.git("rev-parse", "v1^{commit}").strip() == _tip(git_repo, "e1")


_LIMITED = """
import logging, resource, sys
from mlvc_jupyter.core.manager import ExperimentManager
logging.basicConfig(level=logging.WARNING)
manager = ExperimentManager(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), resource.RLIM_INFINITY))
print(manager.commit("e1", message="limited").seq)
"""


def test_a_log_that_cannot_be_written_after_the_ref_moved_is_a_warning(
    git_repo: GitRepo,
) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("e1")
    limit = 256 * 1024
    log_file = git_repo.path / ".git" / "mlvc" / "timings.jsonl"
    with log_file.open("a") as handle:
        handle.write("\n" * limit)  # the next append passes the file size limit (ulimit -f)
    proc = subprocess.run(
        [sys.executable, "-c", _LIMITED, str(git_repo.path), str(limit)],
        capture_output=True,
        text=True,
    )
    assert (proc.returncode, proc.stdout.strip()) == (0, "2"), proc.stderr
    assert "WARNING" in proc.stderr
    assert "timings" in proc.stderr
    assert manager.history("e1")[-1].message == "limited"


# -- item: an ended experiment is reopened only on purpose, in every face ------------------------


@pytest.mark.parametrize("status", ["success", "failed"])
@pytest.mark.parametrize("verb", ["commit", "end"])
def test_an_ended_experiment_takes_no_checkpoint_until_resumed(
    git_repo: GitRepo, status: str, verb: str
) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("e1")
    manager.end("e1", status=status, tag="v1")
    before = _tip(git_repo, "e1")
    with pytest.raises(ExperimentExistsError, match=rf"'e1' has ended \({status}\)") as info:
        getattr(manager, verb)("e1")
    assert "`mlvc start e1 --resume`" in str(info.value.hint)
    assert _tip(git_repo, "e1") == before
    resumed = manager.start("e1", resume=True)
    assert (resumed.seq, resumed.status) == (3, "running")
    assert manager.commit("e1").seq == 4


def test_an_experiment_ended_by_another_process_is_not_reopened(git_repo: GitRepo) -> None:
    mine = ExperimentManager(git_repo.path)
    mine.start("e1")
    ExperimentManager(git_repo.path).end("e1")  # my cached tip still says "running"
    with pytest.raises(ExperimentExistsError, match=r"'e1' has ended \(success\)"):
        mine.commit("e1")
    assert ExperimentManager(git_repo.path).summary("e1").status == "success"


def test_the_cli_refuses_to_reopen_an_ended_experiment(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("e1")
    manager.end("e1", tag="v1")
    proc = subprocess.run(
        [sys.executable, "-m", "mlvc_jupyter", "-C", str(git_repo.path), "commit", "e1"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "'e1' has ended (success)" in proc.stderr
    assert "mlvc start e1 --resume" in proc.stderr
    assert manager.summary("e1").status == "success"


# -- SHA-256 repositories --------------------------------------------------------------------


def test_every_recording_verb_works_in_a_sha256_repository(tmp_path: Path) -> None:
    path = tmp_path / "sha256"
    path.mkdir()
    git(path, "init", "-q", "-b", "main", "--object-format=sha256")
    repo = GitRepo(path)
    repo.write({"train.py": "print('train')\n"})
    repo.commit("initial")
    manager = ExperimentManager(path)
    assert manager.repo.null_oid == "0" * 64
    manager.start("e1", create_branch=True)
    manager.commit("e1", message="step")
    ended = manager.end("e1", tag="v1")
    assert len(ended.commit) == 64
    assert manager.branch("e1") == "mlvc/e1"
    assert manager.tag("e1", "best") == "best"
    assert {repo.git("rev-parse", f"{name}^{{commit}}").strip() for name in ("v1", "best")} == {
        ended.commit
    }
    assert manager.writer.save_safety_ref("probe").startswith("refs/mlvc/safety/")
    subprocess.run(["git", "fsck", "--strict"], cwd=path, check=True, capture_output=True)


# -- cost: starting an experiment does not list the others ---------------------------------------


def test_starting_an_experiment_lists_no_experiment(git_repo: GitRepo, git_calls: GitCalls) -> None:
    ExperimentManager(git_repo.path).start("first")
    for i in range(3):
        git_repo.git("update-ref", f"refs/mlvc/experiments/other-{i}", _tip(git_repo, "first"))
    manager = ExperimentManager(git_repo.path)  # a new process, say
    git_calls.commands.clear()
    manager.start("second")
    manager.start("third")
    assert "for-each-ref" not in git_calls.commands


def test_case_collisions_are_found_without_a_listing(git_repo: GitRepo) -> None:
    ExperimentManager(git_repo.path).start("Good")
    git_repo.git("update-ref", "refs/mlvc/experiments/Fetched", _tip(git_repo, "Good"))
    with pytest.raises(
        ExperimentExistsError, match="differs only by case from the existing 'Good'"
    ):
        ExperimentManager(git_repo.path).start("good")
    git_repo.git("update-ref", "-d", "refs/mlvc/experiments/Good")  # removed: no longer a clash
    assert ExperimentManager(git_repo.path).start("good").seq == 1
    shutil.rmtree(git_repo.path / ".git" / "mlvc" / "ids")  # rebuilt from the refs when missing
    with pytest.raises(ExperimentExistsError, match="from the existing 'Fetched'"):
        ExperimentManager(git_repo.path).start("FETCHED")
