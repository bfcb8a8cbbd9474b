"""The kernel names its active experiment in the runtime folder; the server reads it there."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.session import active_experiment
from tests.conftest import GitRepo
from tests.integration.test_magics import ipython, run, shell  # noqa: F401  # fixtures

pytestmark = pytest.mark.kernel


def test_start_names_the_active_experiment_and_end_clears_it(
    shell: InteractiveShell,  # noqa: F811  # the fixture imported above
    git_repo: GitRepo,
) -> None:
    git_repo.write({"nb.ipynb": {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}})
    manager = ExperimentManager(git_repo.path)
    assert active_experiment(manager, "nb.ipynb") is None
    run(shell, "%vc_start exp-a --notebook nb.ipynb")
    assert active_experiment(manager, "nb.ipynb") == "exp-a"
    assert active_experiment(manager, "other.ipynb") is None
    run(shell, "%vc_end")
    assert active_experiment(manager, "nb.ipynb") is None
    assert list((manager.repo.runtime_dir / "kernels").iterdir()) == []


def test_unreadable_states_are_skipped(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    folder = manager.repo.runtime_dir / "kernels"
    folder.mkdir()
    (folder / "1.json").write_text("{not json")
    (folder / "2.json").write_text('["a list"]')
    (folder / "3.json").write_text('{"notebook": "nb.ipynb", "experiment": "x", "pid": "1"}')
    assert active_experiment(manager, "nb.ipynb") is None
