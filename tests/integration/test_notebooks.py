"""Execute every notebook in notebooks/ with a real kernel, then check what git recorded."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from mlvc_jupyter.core.manager import ExperimentManager
from tests.conftest import GitRepo, git

pytestmark = pytest.mark.kernel

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))
EXPERIMENT = re.compile(r"^\s*%%?vc_(?:start|experiment)\s+([A-Za-z0-9][\w.-]*)", re.MULTILINE)
TAG = re.compile(
    r"^\s*(?:%%?vc_(?:end|experiment)\b.*?--tag\s+|%vc_tag\s+\S+\s+)([^\s-]\S*)", re.MULTILINE
)
REPRODUCED = re.compile(r"^\s*%vc_reproduce\s+([A-Za-z0-9][\w.-]*)\s+--run\s*$", re.MULTILINE)
CELL_TIMEOUT = 120


def test_there_are_notebooks_and_each_is_listed_in_the_readme() -> None:
    assert NOTEBOOKS
    readme = (NOTEBOOKS[0].parent / "README.md").read_text()
    for notebook in NOTEBOOKS:
        assert f"`{notebook.name}`" in readme


def _sources(notebook: Any) -> str:
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")


def _with_outputs(notebook: Any) -> Any:
    """Return a copy whose code cells carry outputs, as a saved, executed notebook would."""
    copy = nbformat.from_dict(json.loads(json.dumps(notebook)))
    for count, cell in enumerate((c for c in copy.cells if c.cell_type == "code"), start=1):
        cell.execution_count = count
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="old output\n")]
    return copy


def _user_state(path: Path) -> tuple[str, str, bytes | None]:
    head = subprocess.run(
        ["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=path, capture_output=True, text=True
    ).stdout
    index = path / ".git" / "index"
    return (
        (path / ".git" / "HEAD").read_text(),
        head,
        index.read_bytes() if index.exists() else None,
    )


@pytest.mark.parametrize("layout", ["repository", "plain-folder"])
@pytest.mark.parametrize("source", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_a_real_kernel_and_records_in_git(
    source: Path, layout: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    notebook = nbformat.read(source, as_version=4)
    target = project / source.name
    nbformat.write(_with_outputs(notebook), target)
    before = None
    if layout == "repository":
        repo = GitRepo(project)
        repo.git("init", "-q", "-b", "main")
        repo.commit("the notebook, with outputs")
        before = _user_state(project)
    monkeypatch.setenv("JPY_SESSION_NAME", str(target))  # what jupyter_server sets for a kernel

    client = NotebookClient(
        nbformat.read(target, as_version=4),
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(project)}},
    )
    client.execute()

    experiments = EXPERIMENT.findall(_sources(notebook))
    tags = TAG.findall(_sources(notebook))
    assert experiments, "a notebook in notebooks/ should record at least one experiment"
    for experiment_id in experiments:
        _check_experiment(project, experiment_id, source.name)
    for experiment_id in REPRODUCED.findall(_sources(notebook)):  # the re-run reproduced it
        manager = ExperimentManager(project)
        rerun = manager.summary(f"{experiment_id}-repro1")
        assert rerun.extra["reproduces"] == experiment_id
        assert rerun.metrics == manager.summary(experiment_id).metrics
    assert sorted(git(project, "tag", "--list").split()) == sorted(tags)
    if before is not None:
        assert _user_state(project) == before
    else:  # %vc_init made the repository: still no commit on main, and no index written
        assert _user_state(project)[1:] == ("", None)


def _check_experiment(project: Path, experiment_id: str, notebook_name: str) -> None:
    ref = f"refs/mlvc/experiments/{experiment_id}"
    record = json.loads(git(project, "show", f"{ref}:.mlvc/experiment.json"))
    assert record["details"]["notebook"] == notebook_name
    assert record["details"]["out_of_order"] is False
    assert record["details"]["execution"], "the executed cells are recorded"
    stored = nbformat.reads(git(project, "show", f"{ref}:{notebook_name}"), as_version=4)
    code = [cell for cell in stored.cells if cell.cell_type == "code"]
    assert code
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
