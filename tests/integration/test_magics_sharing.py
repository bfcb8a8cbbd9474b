"""%vc_push, %vc_pull and %vc_share in a real kernel (nbclient), against a bare repository."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from mlvc_jupyter.core.manager import ExperimentManager
from tests.conftest import GitRepo, git

pytestmark = pytest.mark.kernel


def _outputs(cell: object) -> str:
    """Return everything a cell showed: streams, text, HTML and errors."""
    parts = []
    for output in cell.outputs:  # type: ignore[attr-defined]
        parts.append(output.get("text", ""))
        parts.extend(str(v) for v in output.get("data", {}).values())
        parts.append(output.get("evalue", ""))
    return "\n".join(parts)


def test_push_and_pull_magics_in_a_kernel(git_repo: GitRepo, tmp_path: Path) -> None:
    bare = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git_repo.git("remote", "add", "origin", str(bare))
    git(tmp_path, "clone", "-q", str(bare), "bob")
    bob = ExperimentManager(tmp_path / "bob")
    bob.start("b1")
    bob.end("b1", metrics={"acc": 0.7})
    bob.push()
    cells = [
        "%load_ext mlvc_jupyter",
        "%vc_start a1\n%vc_end",
        "%vc_push",
        "%vc_pull origin",
        "%vc_log --all --text",
        "%vc_push 'ext::sh -c touch% marker'",
        "%vc_share\n%vc_share --disable",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.cells[5].metadata["tags"] = ["raises-exception"]
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3",
        resources={"metadata": {"path": str(git_repo.path)}},
    )  # fmt: skip

    client.execute()

    shown = [_outputs(cell) for cell in notebook.cells]
    assert "Push to origin" in shown[2]
    assert "1 new" in shown[2]
    assert "Pull from origin" in shown[3]
    assert "b1" in shown[3]
    assert "b1" in shown[4]
    assert "Refusing the remote URL" in shown[5]
    assert not (git_repo.path / "marker").exists()
    assert "now carry experiments" in shown[6]
    assert "no longer carry experiments" in shown[6]
    assert git(bare, "for-each-ref", "--format=%(refname)", "refs/mlvc/").split() == [
        "refs/mlvc/experiments/a1",
        "refs/mlvc/experiments/b1",
    ]
    assert git_repo.git("rev-parse", "refs/mlvc/experiments/b1") == git(
        bare, "rev-parse", "refs/mlvc/experiments/b1"
    )
