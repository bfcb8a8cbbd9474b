"""atomic_write: the one way mlvc replaces a file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mlvc_jupyter.core.files import atomic_write


@pytest.mark.parametrize(("data", "expected"), [(b"\x00raw", b"\x00raw"), ("é\n", "é\n".encode())])
def test_writes_bytes_and_text_as_utf8(tmp_path: Path, data: bytes | str, expected: bytes) -> None:
    target = tmp_path / "f"
    atomic_write(target, data)
    assert target.read_bytes() == expected
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


@pytest.mark.parametrize("fsync", [True, False])
def test_replacing_a_file_keeps_its_permissions(tmp_path: Path, fsync: bool) -> None:
    target = tmp_path / "script.sh"
    target.write_text("old")
    target.chmod(0o750)
    atomic_write(target, "new", fsync=fsync)
    assert (target.read_text(), stat.S_IMODE(target.stat().st_mode)) == ("new", 0o750)


def test_a_new_file_gets_the_umask_permissions(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        atomic_write(tmp_path / "new", "x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o640


def test_a_failed_write_leaves_the_target_and_no_debris(tmp_path: Path) -> None:
    target = tmp_path / "a-folder"
    target.mkdir()
    (target / "kept").write_text("mine")
    with pytest.raises(OSError, match="a-folder"):
        atomic_write(target, "cannot replace a folder with a file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-folder"]
    assert (target / "kept").read_text() == "mine"


def test_a_missing_folder_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing"):
        atomic_write(tmp_path / "missing" / "f", "x")
