"""Data fingerprints in experiment records, and large files kept in the content cache."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlvc_jupyter.api import ExperimentVersionControl, IntegratedVersionControl
from mlvc_jupyter.cli import main
from mlvc_jupyter.core.data.cache import ContentCache
from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.errors import MlvcError
from tests.conftest import GitRepo

OLD = 1_600_000_000


def _data(repo: GitRepo, name: str = "data", content: bytes = b"1,2\n") -> None:
    repo.write({f"{name}/train.csv": content, f"{name}/test.csv": b"3,4\n"})
    for file in (repo.path / name).iterdir():
        os.utime(file, (OLD, OLD))


def test_start_records_data_and_later_checkpoints_carry_it(git_repo: GitRepo) -> None:
    _data(git_repo)
    manager = ExperimentManager(git_repo.path)
    manager.start("e1", data=["data", "train.py"])
    manager.commit("e1", message="epoch 1")
    record = manager.show("e1")
    assert [(d.path, d.kind, d.files) for d in record.data] == [
        ("data", "dir", 2),
        ("train.py", "file", 1),
    ]
    assert record.to_dict()["data"][1]["sha256"] == hashlib.sha256(b"print('train')\n").hexdigest()


def test_diff_shows_data_drift(git_repo: GitRepo) -> None:
    _data(git_repo)
    manager = ExperimentManager(git_repo.path)
    manager.start("a", data=["data"])
    _data(git_repo, content=b"9,9\n")
    manager.start("b", data=["data"])
    diff = manager.diff("a", "b")
    assert [(d.path, d.change) for d in diff.data] == [("data", "changed")]
    assert not diff.is_empty
    assert manager.diff("a", "a").data == []


def test_an_old_record_without_data_loads(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("e1")
    assert manager.show("e1").data == []


def test_the_api_records_data(git_repo: GitRepo) -> None:
    _data(git_repo)
    vc = ExperimentVersionControl(git_repo.path)
    vc.start_experiment("e1", "first", {"lr": 0.1}, data=["data"])
    integrated = IntegratedVersionControl(git_repo.path)
    integrated.start_integrated_experiment("e2", "second", {}, data=[git_repo.path / "data"])
    assert vc.manager.show("e1").data[0].sha256 == vc.manager.show("e2").data[0].sha256


def test_cli_start_data_and_diff(git_repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    _data(git_repo)
    args = ["start", "a", "--data", "data", "--data", "train.py"]
    assert main(["-C", str(git_repo.path), *args]) == 0
    _data(git_repo, content=b"5,5\n")
    assert main(["-C", str(git_repo.path), "start", "b", "--data", "data"]) == 0
    capsys.readouterr()
    assert main(["-C", str(git_repo.path), "diff", "a", "b"]) == 0
    out = capsys.readouterr().out
    assert "data: changed" in out
    assert "train.py: removed" in out


def test_a_missing_data_path_records_nothing(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    with pytest.raises(MlvcError, match="Cannot fingerprint data 'nope'"):
        manager.start("e1", data=["nope"])
    assert git_repo.git("for-each-ref", "refs/mlvc/") == ""


def test_a_large_file_left_out_comes_back_from_the_cache(git_repo: GitRepo) -> None:
    content = os.urandom(5000)
    git_repo.write({".mlvc.toml": 'max-file-size = "1kB"\n', "weights.bin": content})
    before = git_repo.fingerprint()
    manager = ExperimentManager(git_repo.path)
    manager.start("e1")
    manager.writer.large_files.wait()
    assert git_repo.fingerprint() == before  # index, HEAD and working tree untouched
    (large,) = manager.show("e1").large_files
    (git_repo.path / "weights.bin").unlink()
    cache = ContentCache(manager.repo)
    assert cache.restore(large.sha256, git_repo.path / "weights.bin")
    assert (git_repo.path / "weights.bin").read_bytes() == content


def test_a_cli_process_caches_large_files_before_it_exits(git_repo: GitRepo) -> None:
    content = os.urandom(300_000)
    git_repo.write({".mlvc.toml": 'max-file-size = "1kB"\n', "model.pt": content})
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.run(
        [sys.executable, "-m", "mlvc_jupyter", "-C", str(git_repo.path), "start", "e1"],
        capture_output=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    record = json.loads(git_repo.git("show", "refs/mlvc/experiments/e1:.mlvc/experiment.json"))
    digest = record["large_files"][0]["sha256"]
    entry = git_repo.path / ".git" / "mlvc" / "content" / digest[:2] / digest[2:]
    assert entry.read_bytes() == content
