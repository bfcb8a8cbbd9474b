"""`mlvc demo`: it runs end to end, leaves what it says, and refuses to clobber.

How long it takes is not asserted here (a loaded machine would fail it): speed is measured in
benchmarks. The subprocess test checks the demo does the steps it lists and nothing more.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mlvc_jupyter.cli import main
from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.demo import FIRST, SECOND, STEPS, TAG, Demo, Step, run_demo
from mlvc_jupyter.demo_project import explore_notebook
from tests.conftest import git


def test_demo_in_a_folder_records_lists_diffs_and_reproduces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "demo"
    assert main(["demo", "--dir", str(target)]) == 0
    out = capsys.readouterr().out
    numbered = re.findall(r"^ ?(\d+)\. ", out, flags=re.MULTILINE)
    assert numbered == [str(n) for n in range(1, len(STEPS) + 1)]
    assert re.search(rf"^ 2\. start {FIRST} \.\.\. commit [0-9a-f]{{8}} \(\d+ ms\)$", out, re.M)
    assert "Done in " in out
    assert f"cd {target}" in out
    manager = ExperimentManager(target, init=False)
    summaries = {s.id: s for s in manager.log()}
    assert summaries.keys() == {FIRST, SECOND}
    assert (summaries[FIRST].checkpoints, summaries[FIRST].tags) == (5, [TAG])
    assert summaries[SECOND].status == "success"
    assert git(target, "rev-list", "--count", "HEAD").strip() == "1"  # only the user's commit
    assert git(target, "status", "--porcelain").splitlines() == [
        "M  README.md", " M configs/params.json", " M train.py", "?? artifacts/", "?? notes.md",
    ]  # fmt: skip


def test_demo_cli_refuses_a_folder_with_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "keep.txt").write_text("mine\n")
    assert main(["demo", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "error: Cannot run the demo in" in err
    assert "not an empty folder" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


@pytest.mark.parametrize("keep", [False, True], ids=["removed", "kept"])
def test_demo_in_a_temporary_folder(keep: bool) -> None:
    out = io.StringIO()
    assert run_demo(None, keep=keep, out=out) == 0
    root = Path(out.getvalue().splitlines()[0].split(" ... ", 1)[1])
    assert root.name.startswith("mlvc-demo-")
    assert root.exists() is keep
    if keep:
        assert (root / ".git").is_dir()
        ExperimentManager(root, init=False).summary(FIRST)
        shutil.rmtree(root)


def test_steps_are_a_list_later_waves_can_extend(tmp_path: Path) -> None:
    def extra(demo: Demo) -> str:
        return f"{len(demo.manager.log())} experiments\nsecond line"

    out = io.StringIO()
    steps = [*STEPS[:2], Step("count experiments", extra)]
    assert run_demo(tmp_path / "d", keep=True, out=out, steps=steps) == 0
    assert " 3. count experiments ... 1 experiments\n      second line\n" in out.getvalue()


def test_demo_notebook_is_valid_and_has_outputs() -> None:
    notebook = nbformat.reads(explore_notebook(), as_version=4)
    nbformat.validate(notebook)
    assert [len(cell.get("outputs", [])) for cell in notebook.cells] == [0, 1, 1]


def test_demo_through_python_m_exits_0_after_its_listed_steps(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "mlvc_jupyter", "demo", "--dir", str(target)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr == b""
    assert b"unchanged: main @ " in proc.stdout
    steps = re.findall(rb"^ ?\d+\. ", proc.stdout, flags=re.MULTILINE)
    assert len(steps) == len(STEPS)
    # The work is what the steps say: two experiments, and no commit on the user's branch.
    refs = git(target, "for-each-ref", "--format=%(refname)", "refs/mlvc/experiments").split()
    assert sorted(refs) == sorted(f"refs/mlvc/experiments/{i}" for i in (FIRST, SECOND))
    assert git(target, "rev-list", "--count", "HEAD").strip() == "1"
