"""Files saved while checkpoints run: notebooks (issue 8 item 4) and racy git (issue 7).

Guards: every acknowledged checkpoint holds a whole notebook, the old or the new one
stripped, never torn; checkpoints do not fail while Jupyter saves; and a checkpoint holds
the bytes on disk at that moment even when an edit keeps the size within the same second.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mlvc_jupyter import ExperimentManager, MlvcError
from tests.conftest import GitRepo, git
from tests.reliability.conftest import Counts, Invariants, blob_at, run_mlvc, worker_argv


def _notebook(tag: str, size: int) -> bytes:
    """Return a notebook whose output (stripped in checkpoints) is ``size`` bytes."""
    cell = {
        "cell_type": "code",
        "execution_count": 1,
        "id": "c1",
        "metadata": {},
        "source": f"print('{tag}')",
        "outputs": [{"output_type": "stream", "name": "stdout", "text": tag * size}],
    }
    nb = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb, indent=1).encode()


def _stripped_blobs(inv: Invariants, versions: list[bytes], tmp: Path) -> set[bytes]:
    """Return what a checkpoint stores for each version (recorded alone, before the race)."""
    manager = ExperimentManager(inv.path, init=False)
    blobs = set()
    for i, content in enumerate(versions):
        (inv.path / "nb.ipynb").write_bytes(content)
        (tmp / f"v{i}.ipynb").write_bytes(content)
        commit = manager.start("nb", resume=True).commit
        inv.ack("nb", commit)
        blobs.add(blob_at(inv.path, commit, "nb.ipynb"))
    return blobs


def _race(inv: Invariants, mode: str, n: int, tmp: Path, allowed: set[bytes]) -> list[str]:
    """Checkpoint ``n`` times while a writer saves; return every problem seen."""
    stop = tmp / f"stop-{mode}"
    argv = worker_argv(
        "save-notebook",
        str(inv.path / "nb.ipynb"),
        mode,
        str(stop),
        str(tmp / "v0.ipynb"),
        str(tmp / "v1.ipynb"),
    )
    writer = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    manager = ExperimentManager(inv.path, init=False)
    problems = []
    try:
        for i in range(n):
            try:
                commit = manager.commit("nb").commit
            except MlvcError as exc:
                problems.append(f"checkpoint {i} failed: {exc.message}")
                continue
            inv.ack("nb", commit)
            if blob_at(inv.path, commit, "nb.ipynb") not in allowed:
                problems.append(f"checkpoint {i} ({commit[:8]}) holds a torn notebook")
    finally:
        stop.touch()
        saves = writer.communicate(timeout=60)[0].strip()
    print(f"{mode}: {n} checkpoints against {saves} saves: {len(problems)} problems")
    return problems


@pytest.mark.parametrize("mode", ["jupyter", "atomic"])
def test_notebook_saved_during_checkpoints(
    git_repo: GitRepo, counts: Counts, tmp_path: Path, mode: str
) -> None:
    """Saves racing checkpoints: no checkpoint fails, each holds old or new, stripped."""
    git_repo.write({"nb.ipynb": _notebook("a", 10)})
    inv = Invariants(git_repo)
    versions = [_notebook("a", 300_000), _notebook("b", 200_000)]
    allowed = _stripped_blobs(inv, versions, tmp_path)
    problems = _race(inv, mode, counts.notebook_checkpoints, tmp_path, allowed)
    (git_repo.path / "nb.ipynb").write_bytes(_notebook("a", 10))
    for leftover in git_repo.path.glob(".*nb.ipynb*"):
        leftover.unlink()
    inv.check(next_call="nb")
    assert not problems, "\n".join(problems[:10])


# -- racy git (issue 7) ---------------------------------------------------------------------------


def _racy_round(tmp_path: Path, i: int) -> list[str]:
    """Issue 7's script, exactly: init, commit LR 0.1, start, edit to LR 0.5, commit, end."""
    repo = tmp_path / f"r{i}"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "params.py").write_text("LR = 0.1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    problems = []
    steps = [
        (None, ["start", "x"]),
        (b"LR = 0.5\n", ["commit", "x", "-m", "edit"]),
        (None, ["end", "x"]),
    ]
    for edit, args in steps:
        if edit is not None:
            (repo / "params.py").write_bytes(edit)
        on_disk = (repo / "params.py").read_bytes()
        proc = run_mlvc(repo, *args)
        assert proc.returncode == 0, proc.stderr
        stored = blob_at(repo, "refs/mlvc/experiments/x", "params.py")
        if stored != on_disk:
            problems.append(f"round {i}, `mlvc {args[0]}`: stored {stored!r}, disk {on_disk!r}")
    return problems


def test_same_size_edit_in_the_same_second_is_recorded(counts: Counts, tmp_path: Path) -> None:
    """Every checkpoint's params.py equals the bytes on disk when it was taken."""
    problems = [p for i in range(counts.racy_rounds) for p in _racy_round(tmp_path, i)]
    print(f"racy git: {len(problems)} wrong checkpoints in {counts.racy_rounds} rounds")
    assert not problems, "\n".join(problems[:10])
