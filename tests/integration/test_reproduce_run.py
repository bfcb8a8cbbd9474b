"""Reproduce a notebook recorded through the magics in a real kernel, by re-running it.

One notebook is recorded once per module (a kernel through nbclient, as JupyterLab runs it):
a tiny scikit-learn model trained on data drawn from the seeded numpy generator, whose
``accuracy`` is deterministic given the seed, and a ``jitter`` metric drawn from os.urandom
that never repeats. Re-running it (a fresh kernel each time) reproduces ``accuracy`` and not
``jitter``: that is what the verdict must say. The same recording checks ``--load`` and
``--cell`` in that kernel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.reproduction.options import ReproduceOptions
from mlvc_jupyter.core.reproduction.verdict import Tolerance
from tests.conftest import GitRepo

pytestmark = pytest.mark.kernel

CELLS = [
    "%load_ext mlvc_jupyter",
    "import os\nimport numpy as np\nfrom sklearn.linear_model import LogisticRegression\n"
    "cfg = {'C': 1.0, 'n': 200}",
    "%vc_start clf --seed 0 --config cfg",
    "X = np.random.rand(cfg['n'], 3)\ny = (X.sum(axis=1) + 0.3 * np.random.rand(cfg['n']) > 1.6)"
    ".astype(int)\nmodel = LogisticRegression(C=cfg['C']).fit(X, y)\n"
    "results = {'accuracy': float(model.score(X, y)),\n"
    "           'jitter': 1 + int.from_bytes(os.urandom(4), 'big') / 2**32}",
    "%vc_end --metrics results",
    "%vc_reproduce clf --load loaded\nassert loaded == cfg, loaded",
    "%vc_reproduce clf --run --tolerance jitter=0.5 --cell",
]
NO_JITTER = Tolerance(per_metric={"jitter": 1e9})
"""A tolerance under which ``jitter`` always passes (it lies in [1, 2))."""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GitRepo, list[str]]]:
    """The project with experiment ``clf`` recorded by a kernel; the next inputs it set."""
    with pytest.MonkeyPatch.context() as env:
        _hermetic(env, tmp_path_factory.mktemp("home"))
        project = GitRepo(tmp_path_factory.mktemp("project"))
        project.git("init", "-q", "-b", "main")
        path = project.path / "train.ipynb"
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
        nbformat.write(notebook, path)
        project.commit("the training notebook")
        env.setenv("JPY_SESSION_NAME", str(path))  # what jupyter_server sets for a kernel
        inserted: list[str] = []
        client = NotebookClient(
            nbformat.read(path, as_version=4), timeout=120, kernel_name="python3",
            resources={"metadata": {"path": str(project.path)}},
            on_cell_executed=lambda **kw: inserted.extend(_next_inputs(kw["execute_reply"])),
        )  # fmt: skip
        client.execute()
        yield project, inserted


def _hermetic(env: pytest.MonkeyPatch, home: Path) -> None:
    (home / ".gitconfig").write_text("")
    env.setenv("HOME", str(home))
    env.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    env.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("AUTHOR", "COMMITTER"):
        env.setenv(f"GIT_{name}_NAME", "Test User")
        env.setenv(f"GIT_{name}_EMAIL", "test@example.com")


def _next_inputs(reply: Any) -> list[str]:
    payloads = reply.get("content", {}).get("payload", [])
    return [p["text"] for p in payloads if p.get("source") == "set_next_input"]


def test_cell_inserts_the_same_line_without_cell(recorded: tuple[GitRepo, list[str]]) -> None:
    _, inserted = recorded
    assert inserted == ["%vc_reproduce clf --run --tolerance jitter=0.5"]


def test_the_rerun_reproduces_the_seeded_metric_as_a_linked_run(
    recorded: tuple[GitRepo, list[str]],
) -> None:
    project, _ = recorded
    manager = ExperimentManager(project.path)
    original = manager.summary("clf")
    steps: list[tuple[int, int]] = []
    result = manager.reproduction(
        "clf",
        ReproduceOptions(run=True, tolerance=NO_JITTER),
        on_run_progress=lambda *s: steps.append(s),
    )
    assert result.verdict is not None
    assert result.verdict.line == "reproduced", result.verdict
    assert steps[-1] == (len(CELLS), len(CELLS))  # cell n of m, to the last
    accuracy = next(m for m in result.verdict.metrics if m.name == "accuracy")
    assert (accuracy.original, accuracy.delta, accuracy.within) == (
        original.metrics["accuracy"],
        0.0,
        True,
    )
    run = manager.summary(result.verdict.run_id or "")
    assert run.id == "clf-repro1"
    assert (run.extra["reproduces"], run.extra["seed"]) == ("clf", 0)
    assert manager.summary("clf") == original  # the original is untouched
    # The re-run's checkpoints hold the reproduced notebook, from the same repository.
    assert "train.ipynb" in project.git("ls-tree", "--name-only", run.commit).split()
    assert project.git("status", "--porcelain") == ""  # reproductions/ stays out of it


def test_cli_says_not_reproduced_with_exit_1_and_json(
    recorded: tuple[GitRepo, list[str]],
) -> None:
    project, _ = recorded
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.run(
        [sys.executable, "-m", "mlvc_jupyter", "reproduce", "clf", "--run", "--json"],
        cwd=project.path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    verdict = json.loads(proc.stdout)["verdict"]
    assert verdict["outcome"] == "not reproduced"
    assert verdict["reason"] == "jitter differs beyond tolerance"
    within = {m["name"]: m["within"] for m in verdict["metrics"]}
    assert within == {"accuracy": True, "jitter": False}
    assert "cell 7 of 7" in proc.stderr.splitlines()
