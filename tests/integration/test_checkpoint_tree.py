"""What a checkpoint's tree holds when the working tree races, lies about its stat, or leads out.

Each test drives real git in a real repository and compares the checkpoint's blobs with the bytes
that were on disk when the checkpoint was taken.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from mlvc_jupyter.blocks import checkpoint_blocks
from mlvc_jupyter.cli import main
from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.errors import GitOperationError
from mlvc_jupyter.render import as_text
from tests.conftest import GitCalls, GitRepo


def _notebook(source: str = "print('hi')", output: str = "hi\n") -> dict:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(source, execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=output)]
    nb.cells = [cell]
    return nb


def _blob(repo: GitRepo, commit: str, path: str) -> bytes:
    return subprocess.run(
        ["git", "cat-file", "blob", f"{commit}:{path}"],
        cwd=repo.path,
        capture_output=True,
        check=True,
    ).stdout


def _entry(repo: GitRepo, commit: str, path: str) -> tuple[str, str]:
    """Return (mode, blob content as text) of ``path`` in ``commit``'s tree."""
    line = repo.git("ls-tree", commit, "--", path)
    assert line, f"{path} is not in {commit}"
    mode = line.split()[0]
    return mode, _blob(repo, commit, path).decode()


def _source(notebook: bytes) -> str:
    """Return the first cell's source of a notebook file (a string or a list of lines)."""
    source = json.loads(notebook)["cells"][0]["source"]
    return source if isinstance(source, str) else "".join(source)


def _all_blobs(repo: GitRepo, commit: str) -> bytes:
    names = repo.git("ls-tree", "-r", "--name-only", commit).splitlines()
    return b"".join(_blob(repo, commit, name) for name in names)


# -- racy git (issue 7) ---------------------------------------------------------------------------


def test_racily_clean_edit_is_recorded_with_its_new_content(git_repo: GitRepo) -> None:
    """An edit of the same size and mtime as the user's index entry is still seen.

    git re-checks an entry by content when its mtime is not older than the index file's; a
    private copy of the index with a fresh mtime would hide that and record the old bytes.
    ``core.trustctime=false`` and ``os.utime`` make the stat identical without waiting.
    """
    git_repo.git("config", "core.trustctime", "false")
    params = git_repo.path / "params.py"
    past = (int(time.time()) - 60) * 10**9
    params.write_text("LR = 0.1\n")
    os.utime(params, ns=(past, past))
    git_repo.git("add", "params.py")
    os.utime(git_repo.path / ".git" / "index", ns=(past, past))  # written in the same second
    params.write_text("LR = 0.5\n")
    os.utime(params, ns=(past, past))
    manager = ExperimentManager(git_repo.path)
    commit = manager.start("x").commit
    assert _blob(git_repo, commit, "params.py") == b"LR = 0.5\n"


def test_same_size_edits_in_the_same_second_are_all_recorded(git_repo: GitRepo) -> None:
    """The way the racy loss was found: scripted same-size edits, many rounds, no pauses."""
    params, nb = git_repo.path / "params.py", git_repo.path / "nb.ipynb"
    params.write_text("LR = 0.0\n")
    git_repo.write({"nb.ipynb": _notebook("x = 0")})
    git_repo.commit("init")
    manager = ExperimentManager(git_repo.path)
    manager.start("x")
    wrong = []
    for round_ in range(50):
        if round_ % 3 == 0:
            git_repo.git("add", "-A")  # the user's own git writes the index mid-session
        params.write_text(f"LR = 0.{round_ % 10}\n")
        git_repo.write({"nb.ipynb": _notebook(f"x = {round_ % 10}")})
        on_disk = params.read_bytes(), _source(nb.read_bytes())
        commit = manager.commit("x", message=f"round {round_}").commit
        stored = _blob(git_repo, commit, "params.py"), _source(_blob(git_repo, commit, "nb.ipynb"))
        if stored != on_disk:
            wrong.append(round_)
    assert wrong == []


def test_the_issue_cli_sequence_records_the_edit_in_every_later_checkpoint(
    empty_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 7's reproduction, run 10 times: start, same-size edit, commit, end."""
    repo, root = empty_repo, str(empty_repo.path)
    (repo.path / "params.py").write_text("LR = 0.1\n")
    repo.commit("init")
    for i in range(10):
        (repo.path / "params.py").write_text("LR = 0.1\n")
        repo.git("add", "-A")
        assert main(["-C", root, "start", f"x{i}"]) == 0
        (repo.path / "params.py").write_text("LR = 0.5\n")
        assert main(["-C", root, "commit", f"x{i}", "-m", "edit"]) == 0
        assert main(["-C", root, "end", f"x{i}"]) == 0
        commits = repo.git("rev-list", f"refs/mlvc/experiments/x{i}", "--max-count=2").split()
        assert [_blob(repo, c, "params.py") for c in commits] == [b"LR = 0.5\n"] * 2
    capsys.readouterr()


def test_notebook_rewritten_with_the_same_size_and_mtime_is_stripped_again(
    git_repo: GitRepo,
) -> None:
    """The stripped-notebook cache must not trust a stat that an edit can leave unchanged."""
    nb = git_repo.path / "nb.ipynb"
    git_repo.write({"nb.ipynb": _notebook("x = 1")})
    past = (int(time.time()) - 60) * 10**9
    os.utime(nb, ns=(past, past))
    manager = ExperimentManager(git_repo.path)
    manager.start("x")
    git_repo.write({"nb.ipynb": _notebook("x = 2")})
    os.utime(nb, ns=(past, past))
    commit = manager.commit("x").commit
    assert _source(_blob(git_repo, commit, "nb.ipynb")) == "x = 2"


# -- the size limit (issue 7) ---------------------------------------------------------------------


def test_notebook_is_measured_after_stripping(git_repo: GitRepo) -> None:
    git_repo.write(
        {
            ".mlvc.toml": 'max-file-size = "2kB"\n',
            "big-outputs.ipynb": _notebook("plot()", output="#" * 20_000),
            "big-source.ipynb": _notebook("x = '" + "y" * 5000 + "'"),
        }
    )
    manager = ExperimentManager(git_repo.path)
    checkpoint = manager.start("x")
    names = git_repo.git("ls-tree", "--name-only", checkpoint.commit).split()
    assert "big-outputs.ipynb" in names
    assert "big-source.ipynb" not in names
    (large,) = manager.show("x").large_files
    assert large.path == "big-source.ipynb"
    assert 5000 < large.size < 20_000, "the size of what would be stored, not of the raw file"


def test_a_file_left_out_is_named_once_in_the_checkpoint_output(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    git_repo.write({".mlvc.toml": 'max-file-size = "1kB"\n', "weights.bin": b"w" * 5000})
    manager = ExperimentManager(git_repo.path)
    checkpoint = manager.start("x")
    (warning,) = [w for w in checkpoint.warnings if "weights.bin" in w]
    assert "left out" in warning
    text = as_text(checkpoint_blocks(checkpoint))
    assert text.count("weights.bin") == 1
    capsys.readouterr()
    assert main(["-C", str(git_repo.path), "commit", "x", "-m", "again"]) == 0
    out, err = capsys.readouterr()
    assert (out + err).count("weights.bin") == 1


# -- symlinks (issue 8, item 2) -------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the project holding a secret file and a secret notebook."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text("TOP-SECRET\n")
    (folder / "nb.ipynb").write_text(json.dumps(_notebook("TOP-SECRET")))
    (folder / "x.py").write_text("TOP-SECRET\n")
    return folder


@pytest.mark.parametrize("tracked", [True, False], ids=["tracked", "untracked"])
def test_symlinked_notebook_is_stored_as_a_symlink(
    git_repo: GitRepo, outside: Path, tracked: bool
) -> None:
    target = str(outside / "secret.txt")
    (git_repo.path / "passwd.ipynb").symlink_to(target)
    if tracked:
        git_repo.commit("a link")
    commit = ExperimentManager(git_repo.path).start("x").commit
    assert _entry(git_repo, commit, "passwd.ipynb") == ("120000", target)
    assert b"TOP-SECRET" not in _all_blobs(git_repo, commit)


def test_nothing_is_read_through_a_symlinked_folder(git_repo: GitRepo, outside: Path) -> None:
    git_repo.write({"data/nb.ipynb": _notebook(), "data/x.py": "inside\n"})
    git_repo.commit("data")
    for child in (git_repo.path / "data").iterdir():
        child.unlink()
    (git_repo.path / "data").rmdir()
    (git_repo.path / "data").symlink_to(outside)
    before = git_repo.fingerprint()
    commit = ExperimentManager(git_repo.path).start("x").commit
    assert _entry(git_repo, commit, "data") == ("120000", str(outside))
    assert b"TOP-SECRET" not in _all_blobs(git_repo, commit)
    assert git_repo.fingerprint() == before


# -- notebooks saved while a checkpoint runs (issue 8, item 4) ------------------------------------

_SAVER = r"""
import json, os, shutil, sys, time
folder, stop = sys.argv[1], sys.argv[2]
path = os.path.join(folder, "nb.ipynb")
def notebook(n):
    cell = {"cell_type": "code", "execution_count": n, "id": "c1", "metadata": {},
            "source": f"version = {n}",
            "outputs": [{"output_type": "stream", "name": "stdout",
                         "text": "#" * (50_000 + n % 97)}]}
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
                      indent=1)
n = 0
while not os.path.exists(stop):
    n += 1
    text = notebook(n)
    if n % 2:  # Jupyter's save: keep a copy, write in place, remove the copy
        copy = os.path.join(folder, ".~nb.ipynb")
        shutil.copy2(path, copy)
        with open(path, "w") as f:
            for i in range(0, len(text), 4096):
                f.write(text[i:i + 4096]); f.flush()
        os.remove(copy)
    else:  # an atomic save: write a temporary file, rename it over the notebook
        tmp = os.path.join(folder, f".nb.ipynb.{n}.tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    time.sleep(0.002)
"""


@pytest.mark.slow
def test_notebook_saved_during_checkpoints_is_stored_whole(git_repo: GitRepo) -> None:
    git_repo.write({"nb.ipynb": _notebook("version = 0")})
    git_repo.commit("notebook")
    manager = ExperimentManager(git_repo.path)
    manager.start("x")
    stop = git_repo.path.parent / "stop-saver"
    saver = subprocess.Popen([sys.executable, "-c", _SAVER, str(git_repo.path), str(stop)])
    failures, commits = [], []
    try:
        for i in range(100):
            try:
                commits.append(manager.commit("x", message=f"c{i}").commit)
            except Exception as exc:  # noqa: BLE001  # counted: the assertion names them
                failures.append(repr(exc))
    finally:
        stop.touch()
        saver.wait(timeout=30)
    assert failures == []
    for commit in commits:
        for name in ("nb.ipynb", ".~nb.ipynb"):
            if git_repo.git("ls-tree", commit, "--", name):
                blob = _blob(git_repo, commit, name)
                assert _source(blob).startswith("version = ")
                assert json.loads(blob)["cells"][0]["outputs"] == []


# -- names that are not UTF-8 (issue 7) -----------------------------------------------------------


def test_a_name_that_is_not_utf8_is_recorded_and_the_record_stays_valid_json(
    git_repo: GitRepo,
) -> None:
    root = os.fsencode(git_repo.path)
    subprocess.run(["git", "checkout", "-q", "-b", b"br\xe9"], cwd=git_repo.path, check=True)
    for name in (b"caf\xe9.py", b"r\xe9sultats.ipynb"):
        with open(os.path.join(root, name), "wb") as f:
            f.write(json.dumps(_notebook()).encode() if name.endswith(b".ipynb") else b"x = 1\n")
    manager = ExperimentManager(git_repo.path)
    commit = manager.start("x").commit
    listed = subprocess.run(
        ["git", "ls-tree", "-z", "--name-only", commit],
        cwd=git_repo.path,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    assert {b"caf\xe9.py", b"r\xe9sultats.ipynb"} <= set(listed)
    record = json.loads(_blob(git_repo, commit, ".mlvc/experiment.json").decode("utf-8"))
    assert {"caf\\xe9.py", "r\\xe9sultats.ipynb"} <= set(record["dirty_files"])
    assert [n["path"] for n in record["notebooks"]] == ["r\\xe9sultats.ipynb"]
    message = subprocess.run(
        ["git", "cat-file", "commit", commit], cwd=git_repo.path, capture_output=True, check=True
    ).stdout
    message.decode("utf-8")  # the summary is valid UTF-8 (and so valid JSON text)
    assert "caf\\xe9.py" in manager.show("x").dirty_files
    assert manager.show("x").summary.branch == "br\\xe9"


# -- the user's clean filters (issue 8, item 9) ---------------------------------------------------


def _ref(repo: GitRepo, experiment_id: str) -> str:
    return repo.git("rev-parse", f"refs/mlvc/experiments/{experiment_id}").strip()


def test_clean_filters_run_for_files_but_not_for_notebooks(git_repo: GitRepo) -> None:
    git_repo.git("config", "filter.upper.clean", "tr a-z A-Z")
    git_repo.write(
        {".gitattributes": "*.py filter=upper\n*.ipynb filter=upper\n", "nb.ipynb": _notebook()}
    )
    git_repo.write({"train.py": "print('edited')\n"})
    commit = ExperimentManager(git_repo.path).start("x").commit
    assert _blob(git_repo, commit, "train.py") == b"PRINT('EDITED')\n"
    assert _source(_blob(git_repo, commit, "nb.ipynb")) == "print('hi')"


@pytest.mark.parametrize("required", [True, False], ids=["required", "optional"])
def test_a_failing_clean_filter_fails_the_checkpoint_and_names_filter_and_file(
    git_repo: GitRepo, required: bool
) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("x")
    before = _ref(git_repo, "x")
    git_repo.git("config", "filter.broken.clean", "false")
    git_repo.git("config", "filter.broken.required", str(required).lower())
    git_repo.write({".gitattributes": "train.py filter=broken\n", "train.py": "edited = 1\n"})
    with pytest.raises(GitOperationError, match=r"clean filter 'broken' \(`false`\) on 'train.py'"):
        manager.commit("x", message="after the filter broke")
    assert _ref(git_repo, "x") == before


def test_a_slow_clean_filter_times_out_and_names_filter_and_file(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("x")
    before = _ref(git_repo, "x")
    git_repo.git("config", "filter.slow.clean", "sleep 30; cat")
    git_repo.write({".gitattributes": "*.py filter=slow\n", "train.py": "edited = 1\n"})
    manager.writer.tree_builder.timeout = 1.0
    with pytest.raises(GitOperationError, match=r"'slow' \(`sleep 30; cat`\) on 'train.py'.*time"):
        manager.commit("x", message="slow")
    assert _ref(git_repo, "x") == before
    assert not list((git_repo.path / ".git" / "mlvc" / "tmp").glob("index.*"))


def test_the_users_index_is_refreshed_once_not_at_every_checkpoint(
    git_repo: GitRepo, git_calls: GitCalls
) -> None:
    """Racy entries are re-read once (`update-index --refresh`), until the user's index changes."""
    manager = ExperimentManager(git_repo.path)
    manager.start("e1")
    for step in range(3):
        git_repo.write({"train.py": f"print({step})\n"})
        manager.commit("e1", message=f"step {step}")
    assert sum("--refresh" in line for line in git_calls.lines) == 1
    git_repo.write({"new.txt": "staged\n"})
    git_repo.git("add", "new.txt")  # the user's index changed: refreshed again
    manager.commit("e1", message="after git add")
    assert sum("--refresh" in line for line in git_calls.lines) == 2
    stored = git_repo.git("show", "refs/mlvc/experiments/e1:train.py")
    assert stored == "print(2)\n"
