"""The notebook's progress bar over core's plain ``on_progress(done, total)`` callbacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.widgets.history import HistoryPanel
from mlvc_jupyter.widgets.progress import ProgressBar
from tests.conftest import GitRepo
from tests.integration.test_magics import ipython, run, shell  # noqa: F401  # fixtures


def test_the_bar_follows_the_callbacks_and_closes_when_done() -> None:
    shown: list[Any] = []
    with ProgressBar("listing", minimum=10, show=True, display=shown.append) as progress:
        progress(0, 5)  # under the minimum: no bar for quick work
        assert shown == []
        progress(0, 2000)
        progress(1000, 2000)
        (bar,) = shown
        assert (bar.description, bar.max, bar.value) == ("listing", 2000, 1000)
    assert bar.comm is None  # closed: it leaves the notebook's output


def test_outside_a_notebook_kernel_no_bar_is_made() -> None:
    shown: list[Any] = []
    with ProgressBar("listing", minimum=0, display=shown.append) as progress:
        progress(0, 5000)  # this test's process has no kernel
    assert shown == []
    assert progress.bar is None


def test_the_history_panel_first_load_reports_to_a_bar(
    git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = ExperimentManager(git_repo.path)
    for exp in ("a", "b"):
        manager.start(exp)
        manager.end(exp)
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(ProgressBar, "__call__", lambda self, d, t: calls.append((d, t)))
    panel = HistoryPanel(git_repo.path)
    assert calls == [(0, 2), (2, 2)]
    panel.sort_by("id")  # later queries are quick: no bar
    assert calls == [(0, 2), (2, 2)]


def test_vc_reproduce_reports_to_a_bar(
    shell: InteractiveShell,  # noqa: F811  # the fixture
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(ProgressBar, "__call__", lambda self, d, t: calls.append((d, t)))
    run(shell, "%vc_start r")
    run(shell, "%vc_end")
    run(shell, f'%vc_reproduce r --dir "{tmp_path / "r"}"')
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]
