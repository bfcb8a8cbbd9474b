"""Finding the experiments a notebook left running (a kernel restart, a crash), in core."""

from __future__ import annotations

import pytest

from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.session import running_experiments
from tests.conftest import GitRepo


@pytest.mark.parametrize(
    ("started", "expected"),
    [
        ([], []),
        ([("a", "nb.ipynb")], ["a"]),
        ([("a", "nb.ipynb"), ("b", "other.ipynb"), ("c", None), ("d", "nb.ipynb")], ["a", "d"]),
    ],
    ids=["none", "one", "many-notebooks"],
)
def test_running_experiments_of_a_notebook(
    git_repo: GitRepo, started: list[tuple[str, str | None]], expected: list[str]
) -> None:
    manager = ExperimentManager(git_repo.path)
    for experiment_id, notebook in started:
        manager.start(experiment_id, details={"notebook": notebook} if notebook else None)
    manager.start("ended", details={"notebook": "nb.ipynb"})
    manager.end("ended")

    found = running_experiments(manager, "nb.ipynb")

    assert sorted(s.id for s in found) == expected
