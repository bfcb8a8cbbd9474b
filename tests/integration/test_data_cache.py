"""The content cache and data fingerprints, over real repositories in tmp_path."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from mlvc_jupyter.core.data.cache import ContentCache
from mlvc_jupyter.core.data.fingerprint import (
    DataFingerprint,
    FingerprintCache,
    compare_fingerprints,
    fingerprint,
)
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.errors import DirtyWorkingTreeError, MlvcError
from tests.conftest import GitRepo

OLD = 1_600_000_000  # an mtime well outside the racy window


def _write_old(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (OLD, OLD))


def _dataset(root: Path) -> Path:
    data = root / "data"
    for i in range(5):
        _write_old(data / f"part-{i}.bin", os.urandom(100_000 + i))
    _write_old(data / "nested" / "labels.csv", b"a,b\n1,2\n")
    return data


# -- the content cache --------------------------------------------------------------------------


def test_cache_brings_back_a_deleted_file_byte_identical(git_repo: GitRepo) -> None:
    repo = Repository.open(git_repo.path)
    cache = ContentCache(repo)
    model = git_repo.path / "model.bin"
    content = os.urandom(3_000_000)
    model.write_bytes(content)
    digest = cache.add(model)
    assert digest == hashlib.sha256(content).hexdigest()
    assert digest in cache
    assert cache.path_of(digest).parent.parent == repo.paths.common_dir / "mlvc" / "content"
    model.unlink()
    assert cache.restore(digest, model) is True
    assert model.read_bytes() == content


def test_restore_of_an_absent_entry_is_false(git_repo: GitRepo) -> None:
    cache = ContentCache.for_repository(Repository.open(git_repo.path))
    assert cache.restore("0" * 64, git_repo.path / "x.bin") is False
    assert not (git_repo.path / "x.bin").exists()


def test_restore_refuses_to_overwrite_a_different_file(git_repo: GitRepo) -> None:
    cache = ContentCache(Repository.open(git_repo.path))
    source = git_repo.path / "w.bin"
    source.write_bytes(b"weights v1")
    digest = cache.add(source)
    other = git_repo.path / "w2.bin"
    other.write_bytes(b"my own edits")
    with pytest.raises(DirtyWorkingTreeError, match="exists with other content"):
        cache.restore(digest, other)
    assert other.read_bytes() == b"my own edits"
    assert cache.restore(digest, other, overwrite=True)
    assert other.read_bytes() == b"weights v1"


def test_an_entry_changed_in_place_through_a_hard_link_is_not_restored(
    git_repo: GitRepo,
) -> None:
    """A hard-linked entry shares the user's inode: a rewrite in place must not be restored."""
    cache = ContentCache(Repository.open(git_repo.path))
    model = git_repo.path / "model.bin"
    model.write_bytes(b"version one")
    digest = cache.add(model)
    with open(model, "r+b") as handle:  # in place: same inode
        handle.write(b"VERSION")
    target = git_repo.path / "restored.bin"
    assert cache.restore(digest, target) is False
    assert not target.exists()
    assert digest not in cache


def test_prune_keeps_what_is_asked_and_counts_the_rest(git_repo: GitRepo) -> None:
    cache = ContentCache(Repository.open(git_repo.path))
    digests = []
    for i in range(3):
        f = git_repo.path / f"f{i}"
        f.write_bytes(b"x" * (10 + i))
        digests.append(cache.add(f))
    result = cache.prune({digests[0]})
    assert (result.count, result.bytes) == (2, 11 + 12)
    assert digests[0] in cache
    assert digests[1] not in cache


def test_adding_a_folder_is_refused_with_the_path(git_repo: GitRepo) -> None:
    cache = ContentCache(Repository.open(git_repo.path))
    with pytest.raises(MlvcError, match="Cannot put .* in the content cache"):
        cache.add(git_repo.path)


# -- fingerprints -------------------------------------------------------------------------------


def test_a_folder_fingerprint_changes_when_one_file_changes(git_repo: GitRepo) -> None:
    data = _dataset(git_repo.path)
    (first,) = fingerprint(["data"], root=git_repo.path)
    assert (first.path, first.kind, first.files) == ("data", "dir", 6)
    assert first.size == sum(100_000 + i for i in range(5)) + 8
    _write_old(data / "nested" / "labels.csv", b"a,b\n1,3\n")
    (second,) = fingerprint(["data"], root=git_repo.path)
    assert second.sha256 != first.sha256
    (drift,) = compare_fingerprints([first], [second])
    assert (drift.path, drift.change) == ("data", "changed")


def test_a_renamed_file_changes_the_folder_hash(git_repo: GitRepo) -> None:
    data = _dataset(git_repo.path)
    (before,) = fingerprint([data], root=git_repo.path)
    (data / "part-0.bin").rename(data / "part-9.bin")
    (after,) = fingerprint([data], root=git_repo.path)
    assert before.sha256 != after.sha256
    assert before.size == after.size


def test_an_unchanged_folder_is_served_from_the_cache(git_repo: GitRepo) -> None:
    _dataset(git_repo.path)
    repo = Repository.open(git_repo.path)
    cache = FingerprintCache.for_repository(repo)
    (first,) = fingerprint(["data"], root=repo.root, cache=cache)
    assert cache.bytes_read == first.size
    again = FingerprintCache.for_repository(repo)  # a new process would start like this
    (second,) = fingerprint(["data"], root=repo.root, cache=again)
    assert again.bytes_read == 0
    assert second == first
    _write_old(git_repo.path / "data" / "part-1.bin", os.urandom(100_001))
    (third,) = fingerprint(["data"], root=repo.root, cache=again)
    assert again.bytes_read == 100_001  # only the changed file was read
    assert third.sha256 != first.sha256


def test_a_file_written_just_now_is_not_cached(git_repo: GitRepo) -> None:
    """Within the racy window a same-size rewrite could keep its mtime: hash it every time."""
    (git_repo.path / "fresh.bin").write_bytes(b"12345")
    cache = FingerprintCache.for_repository(Repository.open(git_repo.path))
    fingerprint(["fresh.bin"], root=git_repo.path, cache=cache)
    fingerprint(["fresh.bin"], root=git_repo.path, cache=cache)
    assert cache.bytes_read == 10


def test_a_file_fingerprint_and_paths_outside_the_repository(
    git_repo: GitRepo, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.bin"
    _write_old(outside, b"abc")
    (inside, out) = fingerprint(["train.py", outside], root=git_repo.path)
    assert inside.path == "train.py"
    assert inside.sha256 == hashlib.sha256(b"print('train')\n").hexdigest()
    assert (out.path, out.kind, out.files) == (outside.as_posix(), "file", 1)
    assert DataFingerprint.from_dict(out.to_dict()) == out


def test_links_inside_a_folder_are_entries_and_never_followed(
    git_repo: GitRepo, tmp_path: Path
) -> None:
    data = _dataset(git_repo.path)
    secret = tmp_path / "outside"
    secret.mkdir()
    _write_old(secret / "big.bin", b"y" * 1000)
    (data / "linked").symlink_to(secret)
    (fp,) = fingerprint(["data"], root=git_repo.path)
    assert fp.files == 6
    assert fp.size == sum(100_000 + i for i in range(5)) + 8


def test_a_missing_path_names_itself(git_repo: GitRepo) -> None:
    with pytest.raises(MlvcError, match="Cannot fingerprint data 'nope/x.csv'"):
        fingerprint(["nope/x.csv"], root=git_repo.path)


def test_compare_reports_added_and_removed_and_ignores_a_touch(git_repo: GitRepo) -> None:
    a = DataFingerprint("a.csv", "file", 3, 1.0, "1" * 64, 1)
    b = DataFingerprint("b.csv", "file", 3, 1.0, "2" * 64, 1)
    touched = DataFingerprint("a.csv", "file", 3, 2.0, "1" * 64, 1)
    drifts = compare_fingerprints([a], [touched, b])
    assert [(d.path, d.change) for d in drifts] == [("b.csv", "added")]
    assert [d.change for d in compare_fingerprints([a, b], [a])] == ["removed"]
