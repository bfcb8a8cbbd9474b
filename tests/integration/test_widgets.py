"""The status, compare and live panels, and the magics that show panels, in a real
InteractiveShell with ipywidgets, over real repositories."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell

from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.display import ComparisonView, DiffView, ExperimentListView, RecordView
from mlvc_jupyter.widgets import ComparePanel, HistoryPanel, LivePanel, StatusPanel
from mlvc_jupyter.widgets.base import WIDGET_MIME
from tests.conftest import GitRepo
from tests.integration.test_magics import ipython, run, shell  # noqa: F401  # fixtures

EXPERIMENTS = {"base": 0.1, "small": 0.01, "tiny": 0.001}


def _record(repo: GitRepo) -> ExperimentManager:
    """Record three experiments with 5 logged steps each; 'small' and 'tiny' edit a notebook."""
    manager = ExperimentManager(repo.path)
    for n, (exp, lr) in enumerate(EXPERIMENTS.items()):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"lr = {lr}")])
        nbformat.write(notebook, repo.path / "train.ipynb")
        manager.start(exp, configs={"opt": {"lr": lr}, "batch": 32})
        with manager.tracker(exp) as tracker:
            for step in range(5):
                tracker.log_metrics({"loss": 1.0 / (step + 1 + n), "acc": step / 10}, step=step)
        manager.end(exp, metrics={"loss": 0.3 - n * 0.1, "acc": 0.5 + n * 0.1})
    return manager


def test_importing_the_magics_never_imports_ipywidgets() -> None:
    code = (
        "import sys, mlvc_jupyter.magics, mlvc_jupyter.display, mlvc_jupyter.widgets, "
        "mlvc_jupyter.widgets.state; print('ipywidgets' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- compare -------------------------------------------------------------------------------------


def test_compare_panel_diffs_params_metrics_files_and_notebooks(git_repo: GitRepo) -> None:
    _record(git_repo)
    panel = ComparePanel(git_repo.path, ["base", "small", "tiny"])

    assert panel.params_diff() == {"opt.lr": [0.1, 0.01, 0.001]}
    loss = next(row for row in panel.metrics_table() if row["metric"] == "loss")
    assert loss["values"] == pytest.approx([0.3, 0.2, 0.1])
    assert loss["deltas"][0] is None
    assert loss["deltas"][1:] == pytest.approx([-0.1, -0.2])
    comparison = panel.state.comparison
    assert comparison.files == [[("M", "train.ipynb")], [("M", "train.ipynb")]]
    assert "lr = 0.1" in comparison.notebook_diffs[0]["train.ipynb"]
    assert "lr = 0.01" in comparison.notebook_diffs[0]["train.ipynb"]
    assert [len(points) for points in comparison.curves[0].values()] == [5, 5]
    assert {line.get_label() for ax in panel.figure.axes for line in ax.lines} == set(EXPERIMENTS)

    view = panel.widget
    assert "opt.lr" in view.tables.value
    assert 'class="mlvc-num mlvc-better"' in view.tables.value  # a lower loss is better
    assert view.plot.outputs[0]["data"]["image/png"]
    assert view.notebooks.titles == ("small: train.ipynb", "tiny: train.ipynb")


def test_compare_panel_puts_an_unknown_experiment_into_its_state(git_repo: GitRepo) -> None:
    _record(git_repo)
    panel = ComparePanel(git_repo.path, ["base", "nope"])
    assert "nope" in panel.state.error
    assert panel.params_diff() == {}
    assert "nope" in panel._repr_mimebundle_()["text/html"]


def test_vc_diff_of_three_shows_the_panel_in_a_notebook_and_text_elsewhere(
    shell: InteractiveShell,  # noqa: F811  # the fixture
    git_repo: GitRepo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _record(git_repo)
    text = run(shell, "%vc_diff base small tiny")
    assert isinstance(text, ComparisonView)
    assert "Δ small" in repr(text)
    assert isinstance(run(shell, "%vc_diff base small"), DiffView)
    monkeypatch.setattr(shell, "kernel", object(), raising=False)  # what a notebook kernel has
    panel = run(shell, "%vc_diff base small tiny")
    assert isinstance(panel, ComparePanel)
    assert panel.params_diff() == {"opt.lr": [0.1, 0.01, 0.001]}
    assert isinstance(run(shell, "%vc_log"), HistoryPanel)
    assert isinstance(run(shell, "%vc_log --text"), ExperimentListView)


def test_vc_show_plots_the_tracker_history_next_to_the_record(
    shell: InteractiveShell,  # noqa: F811  # the fixture
    git_repo: GitRepo,
) -> None:
    _record(git_repo)
    view = run(shell, "%vc_show small")
    assert isinstance(view, RecordView)
    assert view.curves["loss"] == [(float(s), pytest.approx(1.0 / (s + 2))) for s in range(5)]
    assert "data:image/png;base64," in view._repr_html_()
    assert "metric history" in repr(view)
    assert "<details><summary>timings (ms)</summary>" in view._repr_html_()


# -- status --------------------------------------------------------------------------------------


def test_status_panel_shows_branch_head_files_and_refreshes(
    shell: InteractiveShell,  # noqa: F811  # the fixture
    git_repo: GitRepo,
) -> None:
    panel = run(shell, "%vc_status --panel")
    assert isinstance(panel, StatusPanel)
    assert (panel.state.branch, panel.state.head[9:]) == ("main", "initial")
    assert (panel.state.dirty, panel.state.untracked) == (0, 0)
    view = panel.widget
    git_repo.write({"new.txt": "x", "train.py": "print('changed')\n"})
    view.refresh.click()
    assert (panel.state.dirty, panel.state.untracked) == (1, 1)
    assert panel.state.files == ["modified: train.py", "untracked: new.txt"]
    assert view.folded.get_title(0) == "files (2)"
    assert view.folded.selected_index is None  # folded
    run(shell, "%vc_start s1")
    view.refresh.click()
    assert panel.state.active == "s1"
    assert "s1" in view.summary.value
    assert panel.state.notebook == "unknown (the notebook's path is not known)"
    run(shell, "%vc_end")


def test_status_panel_auto_refresh_runs_off_the_kernel_thread(git_repo: GitRepo) -> None:
    panel = StatusPanel(git_repo.path, interval=0.01)
    before = panel.state.refreshes
    seen: list[threading.Thread] = []
    done = threading.Event()

    def counted(change: Any) -> None:
        seen.append(threading.current_thread())
        done.set()

    panel.state.observe(counted, names="refreshes")
    panel.widget.auto.value = True  # the checkbox drives the state
    assert done.wait(30)
    panel.close()
    assert panel.state.refreshes > before
    assert threading.main_thread() not in seen
    assert panel._thread is None


def test_panels_fall_back_to_html_and_text_without_widgets(
    git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    _record(git_repo)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails, as when not installed
    for panel in (HistoryPanel(git_repo.path), StatusPanel(git_repo.path)):
        bundle = panel._repr_mimebundle_()
        assert WIDGET_MIME not in bundle
        assert "var(--jp-" in bundle["text/html"]
    history = HistoryPanel(git_repo.path)._repr_mimebundle_()
    assert "tiny" in history["text/plain"]
    assert "showing 1–3 of 3" in history["text/plain"]


def test_a_panel_offers_the_widget_and_the_fallback_together(git_repo: GitRepo) -> None:
    _record(git_repo)
    bundle = HistoryPanel(git_repo.path)._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", WIDGET_MIME}
    assert "base" in bundle["text/html"]


# -- live ----------------------------------------------------------------------------------------


class FakeClock:
    """A clock that moves only when the drawing thread sleeps (records each sleep)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_live_panel_redraws_after_log_metrics_within_the_throttle(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("live")
    tracker = manager.tracker("live")
    clock = FakeClock()
    panel = LivePanel.attach(tracker, path=git_repo.path, clock=clock, sleep=clock.sleep)
    assert panel.wait_idle(30)
    first = panel.state.redraws
    assert first >= 1
    view = panel.widget
    drawn_by: list[threading.Thread] = []
    panel.state.observe(lambda _: drawn_by.append(threading.current_thread()), names="redraws")
    start = clock.now
    for step in range(200):
        tracker.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
    assert panel.wait_idle(30)
    panel.detach()
    tracker.close()

    assert panel.state.curves["loss"][-1] == (199.0, pytest.approx(1 / 200))
    assert panel.state.points == 200
    assert panel.state.checkpoints == 1
    redraws = panel.state.redraws - first
    assert 1 <= redraws <= 1 + (clock.now - start) / 0.5  # at most 2 a second
    assert all(s == pytest.approx(0.5, abs=1e-9) or s < 0.5 for s in clock.sleeps)
    assert threading.main_thread() not in drawn_by
    assert view.image.value == panel.state.png
    assert panel.state.png.startswith(b"\x89PNG")


def test_live_panel_draws_once_for_a_burst(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("burst")
    tracker = manager.tracker("burst")
    clock = FakeClock()
    panel = LivePanel(tracker, path=git_repo.path, clock=clock, sleep=clock.sleep)
    tracker.add_listener(panel._logged)
    for step in range(50):
        tracker.log_metrics({"acc": step / 50}, step=step)
    panel._thread.start()  # the logging above woke it once
    assert panel.wait_idle(30)
    panel.detach()
    tracker.close()
    assert panel.state.redraws == 1
    assert panel.state.points == 50


def test_vc_start_live_shows_a_live_panel_following_the_tracker(
    shell: InteractiveShell,  # noqa: F811  # the fixture
) -> None:
    run(shell, "%vc_start run1 --live")
    tracker = shell.user_ns["tracker"]
    assert tracker.backend == "local"
    assert len(tracker._listeners) == 1
    panel = tracker._listeners[0].__self__  # the panel displayed under the start's output
    assert isinstance(panel, LivePanel)
    tracker.log_metrics({"loss": 0.5}, step=1)
    assert panel.wait_idle(30)
    assert panel.state.curves == {"loss": [(1.0, 0.5)]}
    panel.detach()
    run(shell, "%vc_end")


def test_curves_fall_back_to_the_checkpoint_copy_of_the_metrics(git_repo: GitRepo) -> None:
    manager = _record(git_repo)
    local = Path(git_repo.git("rev-parse", "--git-common-dir").strip())
    for path in (git_repo.path / local / "mlvc" / "metrics").glob("*.jsonl"):
        path.unlink()
    curves = manager.metric_curves("base")
    assert [x for x, _ in curves["acc"]] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert json.loads(json.dumps(curves))  # plain data
