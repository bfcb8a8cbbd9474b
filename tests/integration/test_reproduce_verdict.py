"""Reproduction without a kernel: command entry points, exit codes, drift, the exclude file.

A command given at start (``mlvc start --entry``) is the entry point here, so each re-run is a
plain process: the CLI's exit status (0 reproduced, 1 not, 2 could not run) and the drift
report are checked through real ``mlvc`` processes; the notebook path is
``test_reproduce_run.py``'s.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlvc_jupyter.api import ExperimentVersionControl
from mlvc_jupyter.core.data.cache import ContentCache
from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.reproduction.options import ReproduceOptions, reproduce_cell_text
from mlvc_jupyter.core.reproduction.verdict import Tolerance, judge, parse_tolerance
from mlvc_jupyter.errors import MlvcError
from tests.conftest import GitRepo

ROOT = Path(__file__).parents[2]
RUN_SH = """\
set -e
mlvc() { python -m mlvc_jupyter "$@"; }
mlvc start e --entry "sh run.sh"
noise=$(python -c "import os; print(os.urandom(1)[0] * int(os.environ.get('NOISE', '0')))")
mlvc end e --metrics acc=$(python -c "print(0.5 + $noise)") loss=0.25
"""


def mlvc(
    path: Path, *args: str, extra_path: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m mlvc_jupyter`` in ``path`` (this checkout first on the path)."""
    paths = [str(ROOT), *([str(extra_path)] if extra_path else [])]
    full = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), **env}
    return subprocess.run(
        [sys.executable, "-m", "mlvc_jupyter", *args],
        cwd=path, env=full, capture_output=True, text=True, check=False,
    )  # fmt: skip


def record(repo: GitRepo, script: str = RUN_SH, **env: str) -> None:
    """Record experiment ``e`` by running its entry point, as a user would."""
    repo.write({"run.sh": script})
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    subprocess.run(["sh", "run.sh"], cwd=repo.path, env=full, check=True, capture_output=True)


def test_a_command_entry_reproduces_as_a_linked_run(git_repo: GitRepo) -> None:
    record(git_repo)
    proc = mlvc(git_repo.path, "reproduce", "e", "--run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith("reproduced (re-run recorded as e-repro1)")
    assert "Entry point (what --run runs): sh run.sh." in proc.stdout
    run = ExperimentManager(git_repo.path).summary("e-repro1")
    assert (run.extra["reproduces"], run.metrics) == ("e", {"acc": 0.5, "loss": 0.25})
    assert git_repo.git("status", "--porcelain") == "?? run.sh\n"  # reproductions/: never


def test_a_metric_beyond_tolerance_exits_1_and_a_tolerance_lets_it_pass(
    git_repo: GitRepo,
) -> None:
    record(git_repo)
    noisy = {"NOISE": "1"}  # the re-run adds up to 255 to acc (0 in the original)
    proc = mlvc(git_repo.path, "reproduce", "e", "--run", "--json", **noisy)
    verdict = json.loads(proc.stdout)["verdict"]
    if verdict["metrics"][0]["reproduced"] == 0.5:  # os.urandom gave 0: 1 in 256
        pytest.skip("the noise happened to be zero")
    assert (proc.returncode, verdict["outcome"]) == (1, "not reproduced")
    assert verdict["run_id"] == "e-repro1"
    loose = mlvc(git_repo.path, "reproduce", "e", "--run", "--tolerance", "acc=1000", **noisy)
    assert loose.returncode == 0, loose.stdout
    assert "acc     0.5" in loose.stdout


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ('python -c "import sys; sys.exit(3)"', "exited with status 3"),
        ("python -c pass", "the re-run recorded no experiment: its code never started 'e'"),
        ("no-such-program-here", "could not start"),
    ],
    ids=["fails", "records-nothing", "not-found"],
)
def test_a_run_that_cannot_run_exits_2(git_repo: GitRepo, entry: str, reason: str) -> None:
    assert mlvc(git_repo.path, "start", "e", "--entry", entry).returncode == 0
    assert mlvc(git_repo.path, "end", "e", "--metrics", "acc=1").returncode == 0
    proc = mlvc(git_repo.path, "reproduce", "e", "--run")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("could not run: ")]
    assert reason in line


def test_the_drift_report_names_a_changed_and_a_missing_package(
    git_repo: GitRepo, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    for name in ("fakepkg", "gonepkg"):
        info = site / f"{name}-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    assert mlvc(git_repo.path, "start", "e", extra_path=site).returncode == 0
    (site / "fakepkg-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fakepkg\nVersion: 2.0\n"
    )
    (site / "gonepkg-1.0.dist-info" / "METADATA").unlink()
    proc = mlvc(git_repo.path, "reproduce", "e", "--json", extra_path=site)
    assert proc.returncode == 0, proc.stderr
    changes = json.loads(proc.stdout)["drift"]["environment"]
    assert {c["name"]: (c["change"], c["old"], c["new"]) for c in changes} == {
        "fakepkg": ("changed", "1.0", "2.0"),
        "gonepkg": ("removed", "1.0", None),
    }
    text = mlvc(git_repo.path, "reproduce", "e", extra_path=site).stdout
    assert "package  fakepkg  changed  1.0       2.0" in text


def test_large_files_come_back_from_the_cache_or_are_listed_missing(git_repo: GitRepo) -> None:
    git_repo.write({".mlvc.toml": 'max-file-size = "1kB"\n', "cached.bin": b"c" * 5000,
                    "data/gone.bin": b"g" * 5000})  # fmt: skip
    manager = ExperimentManager(git_repo.path)
    manager.start("e")
    gone = next(f for f in manager.show("e").large_files if f.path == "data/gone.bin")
    manager.writer.large_files.wait()
    ContentCache(manager.repo).path_of(gone.sha256).unlink()  # as on a machine that lacks it
    result = manager.reproduction("e")
    states = {check.path: check.state for check in result.drift.data}
    assert states == {"cached.bin": "restored", "data/gone.bin": "missing"}
    assert (Path(result.worktree) / "cached.bin").read_bytes() == b"c" * 5000
    assert result.drift.drifted


def test_the_drift_report_names_a_changed_and_a_missing_data_file(git_repo: GitRepo) -> None:
    git_repo.write({".gitignore": "data/\n", "data/train.csv": "x,y\n1,2\n",
                    "data/test.csv": "x,y\n3,4\n", "data/labels.csv": "y\n"})  # fmt: skip
    manager = ExperimentManager(git_repo.path)
    manager.start("e", data=["data/train.csv", "data/test.csv", "data/labels.csv"])
    git_repo.write({"data/train.csv": "x,y\n1,3\n"})
    (git_repo.path / "data" / "test.csv").unlink()
    drift = manager.reproduction("e").drift
    assert {c.path: (c.kind, c.state) for c in drift.data} == {
        "data/train.csv": ("data", "changed"),
        "data/test.csv": ("data", "missing"),
        "data/labels.csv": ("data", "match"),
    }
    text = mlvc(git_repo.path, "reproduce", "e").stdout
    assert "data/train.csv   data  changed" in text, text


def test_reproductions_never_show_in_status_nor_in_a_checkpoint(git_repo: GitRepo) -> None:
    exclude = git_repo.path / ".git" / "info" / "exclude"
    exclude.write_text("# mine\n*.tmp")  # the user's lines, no final newline
    git_repo.write({"analysis.ipynb": '{"cells": [], "metadata": {}, "nbformat": 4, '
                    '"nbformat_minor": 5}'})  # fmt: skip
    manager = ExperimentManager(git_repo.path)
    manager.start("e")
    manager.reproduce("e")
    manager.reproduce("e", path=git_repo.path / "sub" / "mine")
    manager.reproduce("e")  # again: the exclude file gains nothing more
    assert exclude.read_text().splitlines() == [
        "# mine", "*.tmp",
        "# added by mlvc: reproductions stay out of git status and checkpoints",
        "/reproductions/", "/sub/mine/",
    ]  # fmt: skip
    assert git_repo.git("status", "--porcelain") == "?? analysis.ipynb\n"
    tree = git_repo.git("ls-tree", "-r", "--name-only", manager.start("f").commit).split()
    assert not [name for name in tree if name.startswith(("reproductions/", "sub/"))]
    assert "analysis.ipynb" in tree  # the user's notebook is recorded, the reproduced one not


def test_checkpoint_picks_an_earlier_checkpoint(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("e")
    git_repo.write({"train.py": "print('later')\n"})
    manager.end("e")
    first = manager.reproduction("e", ReproduceOptions(checkpoint=1, dir=str(git_repo.path / "c1")))
    assert (Path(first.worktree) / "train.py").read_text() == "print('train')\n"
    with pytest.raises(MlvcError, match="Experiment 'e' has no checkpoint 3"):
        manager.reproduce("e", checkpoint=3)


def test_the_api_returns_true_or_the_result_with_run(git_repo: GitRepo) -> None:
    record(git_repo)
    vc = ExperimentVersionControl(git_repo.path)
    assert vc.reproduce_experiment("e") is True
    result = vc.reproduce_experiment("e", path=git_repo.path / "again", run=True)
    assert result
    assert result.verdict is not None
    assert result.verdict.outcome == "reproduced"


@pytest.mark.parametrize(
    ("original", "reproduced", "outcome", "within"),
    [
        ({"a": 1.0}, {"a": 1.0 + 1e-7}, "reproduced", [True]),
        ({"a": 1.0}, {"a": 1.0 + 1e-5}, "not reproduced", [False]),
        ({"a": math.nan}, {"a": math.nan}, "reproduced", [True]),
        ({"a": "x", "b": 1}, {"a": "x"}, "not reproduced", [True, False]),
        ({}, {"a": 1}, "could not run", [False]),
    ],
    ids=["within-rtol", "beyond-rtol", "nan", "missing", "nothing-recorded"],
)
def test_the_verdict_compares_every_final_metric(
    original: dict[str, object], reproduced: dict[str, object], outcome: str, within: list[bool]
) -> None:
    verdict = judge(original, reproduced, Tolerance())
    assert verdict.outcome == outcome
    assert [m.within for m in verdict.metrics] == within


def test_tolerances_parse_and_are_written_back_into_the_cell() -> None:
    assert parse_tolerance("loss=1e-3") == ("loss", 1e-3)
    with pytest.raises(MlvcError, match="--tolerance 'loss' is not NAME=RTOL"):
        parse_tolerance("loss")
    options = ReproduceOptions(
        run=True, checkpoint=2, dir="out dir", load="cfg",
        tolerance=Tolerance(rtol=1e-3, per_metric={"loss": 0.01}),
    )  # fmt: skip
    assert reproduce_cell_text("e", options) == (
        "%vc_reproduce e --run --checkpoint 2 --dir 'out dir' --load cfg --rtol 0.001 "
        "--tolerance loss=0.01"
    )
    assert reproduce_cell_text("e") == "%vc_reproduce e"  # what the sidebar inserts


def test_the_sidebar_inserts_the_cell_text_core_builds() -> None:
    """The sidebar's "Reproduce here" builds its line in TypeScript (no server round trip);
    it must stay core's default cell text (ids never need shell quoting)."""
    index = (ROOT / "labextension" / "src" / "index.ts").read_text()
    template = "setSource(`%vc_reproduce ${id}`)"
    assert template in index
    assert reproduce_cell_text("exp-1.a_b") == "%vc_reproduce exp-1.a_b"


def test_a_folder_name_is_excluded_literally_and_a_newline_is_refused(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("e")
    manager.reproduce("e", path=git_repo.path / "r*[1] ")
    git_repo.write({"rx[1] /keep.txt": "mine", "r-1 /keep.txt": "mine"})  # a wildcard would hide
    assert git_repo.git("status", "--porcelain", "-uall").splitlines() == [
        '?? "r-1 /keep.txt"', '?? "rx[1] /keep.txt"',
    ]  # fmt: skip
    with pytest.raises(MlvcError, match="control character cannot be kept out of git status"):
        manager.reproduce("e", path=git_repo.path / "a\nb")
    assert not (git_repo.path / "a\nb").exists()
    assert "b/" not in (git_repo.path / ".git" / "info" / "exclude").read_text().splitlines()


def test_a_rerun_does_not_rerun_again(git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry point that itself reproduces (`mlvc reproduce --run` in train.sh) would recurse."""
    manager = ExperimentManager(git_repo.path)
    manager.start("e", details={"entry": "sh train.sh"})
    manager.end("e", metrics={"acc": 1})
    monkeypatch.setenv("MLVC_REPRODUCES", "outer")
    verdict = manager.reproduction("e", ReproduceOptions(run=True)).verdict
    assert verdict is not None
    assert verdict.line == "could not run: this process is itself a re-run of outer"
    assert manager.query("repro").total == 0


TRAIN_PY = """\
import json, os
json.dump({"acc": 0.5 + int(os.environ.get("NOISE", "0"))}, open("out/metrics.json", "w"))
"""


def test_a_command_that_never_calls_mlvc_is_judged_by_its_metrics_file(git_repo: GitRepo) -> None:
    """`mlvc start --entry`, the script, `mlvc end --metrics FILE`: the re-run reads FILE anew."""
    git_repo.write({"train.py": TRAIN_PY, "out/.keep": ""})
    assert mlvc(git_repo.path, "start", "e", "--entry", "python train.py").returncode == 0
    subprocess.run([sys.executable, "train.py"], cwd=git_repo.path, check=True)
    assert mlvc(git_repo.path, "end", "e", "--metrics", "out/metrics.json").returncode == 0
    assert ExperimentManager(git_repo.path).summary("e").extra["metrics_files"] == [
        "out/metrics.json"
    ]
    proc = mlvc(git_repo.path, "reproduce", "e", "--run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = ExperimentManager(git_repo.path).summary("e-repro1")
    assert (run.extra["reproduces"], run.metrics) == ("e", {"acc": 0.5})
    noisy = mlvc(git_repo.path, "reproduce", "e", "--run", "--dir", "r2", NOISE="1")
    assert noisy.returncode == 1, noisy.stdout + noisy.stderr
    assert "not reproduced: acc differs beyond tolerance" in noisy.stdout


def test_a_stale_metrics_file_from_the_checkpoint_is_never_judged(git_repo: GitRepo) -> None:
    git_repo.write({"train.py": "print('forgot to write the metrics')\n"})
    assert mlvc(git_repo.path, "start", "e", "--entry", "python train.py").returncode == 0
    git_repo.write({"metrics.json": '{"acc": 0.5}'})  # in the checkpoint, as the script's output
    assert mlvc(git_repo.path, "end", "e", "--metrics", "metrics.json").returncode == 0
    proc = mlvc(git_repo.path, "reproduce", "e", "--run")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "`python train.py` did not write metrics.json" in proc.stdout
    assert (git_repo.path / "metrics.json").read_text() == '{"acc": 0.5}'  # yours: untouched
