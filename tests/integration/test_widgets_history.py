"""The history panel over 1,000 experiments (written with git fast-import, as the benchmark
generator does): sort, filter, page, select, row actions, the reproduce cell's payload."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from mlvc_jupyter.widgets import ComparePanel, HistoryPanel
from tests.integration.test_magics import ipython, run, shell  # noqa: F401  # fixtures

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
import gen_experiments  # noqa: E402  # the benchmark generator's fast path

N = 1000
NEWEST = ["exp-00000", *(f"exp-{i:05d}" for i in range(N - 1, 0, -1))]
"""exp-00000 is recorded through the API (now); the others are dated 2026-01-01 onwards."""


@pytest.fixture(scope="module")
def thousand(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository of 1,000 finished experiments (exp-00000 ...; every 100th tagged)."""
    root = tmp_path_factory.mktemp("thousand") / "repo"
    with pytest.MonkeyPatch.context() as patch:
        home = tmp_path_factory.mktemp("home")
        (home / ".gitconfig").write_text("")
        patch.setenv("HOME", str(home))
        gen_experiments.build_fast(root, N)
    return root


def test_first_page_is_the_newest_fifty_of_a_thousand(thousand: Path) -> None:
    panel = HistoryPanel(thousand)
    assert panel.state.total == N
    assert panel.visible_ids() == NEWEST[:50]
    assert panel.state.columns[-2:] == ["metrics.acc", "metrics.loss"]
    view = panel.widget
    assert view.where.value == "showing 1–50 of 1000"
    assert view.previous.disabled
    assert "exp-00999" in view.table.value


def test_paging_with_the_buttons_to_the_last_page(thousand: Path) -> None:
    panel = HistoryPanel(thousand, page_size=300)
    view = panel.widget
    view.next.click()
    assert panel.visible_ids() == NEWEST[300:600]
    view.next.click()
    view.next.click()
    assert panel.visible_ids() == NEWEST[900:]
    assert view.where.value == "showing 901–1000 of 1000"
    assert view.next.disabled
    view.next.click()  # disabled in the browser; a click here stays on the last page
    assert panel.state.page == 3
    panel.show_page(0)
    assert view.previous.disabled


def test_sorting_by_a_column_header_and_again_reverses(thousand: Path) -> None:
    panel = HistoryPanel(thousand, page_size=5)
    view = panel.widget
    header = next(b for b in view.headers.children if b.tooltip == "metrics.loss")
    header.click()
    assert panel.state.sort == "metrics.loss"
    assert panel.visible_ids() == [f"exp-{i:05d}" for i in range(999, 994, -1)]
    assert header.description == "loss ▲"
    header.click()
    assert panel.state.sort == "-metrics.loss"
    assert panel.visible_ids()[0] == "exp-00000"  # loss 1/(i+1): the first is the largest
    assert header.description == "loss ▼"
    panel.sort_by("id")
    assert panel.visible_ids() == [f"exp-{i:05d}" for i in range(5)]
    panel.sort_by("duration", descending=True)
    assert panel.state.error == ""
    assert len(panel.visible_ids()) == 5


def test_sorting_by_an_unknown_column_is_an_error_in_the_state(thousand: Path) -> None:
    panel = HistoryPanel(thousand, page_size=5)
    before = panel.visible_ids()
    panel.sort_by("nope")
    assert "Cannot sort by 'nope'" in panel.state.error
    assert "Cannot sort by" in panel.widget.message.value
    assert panel.visible_ids() == before


def test_filtering_by_text_and_status_through_the_widgets(thousand: Path) -> None:
    panel = HistoryPanel(thousand)
    view = panel.widget
    view.search.value = "exp-001"
    assert panel.state.total == 100
    assert all(i.startswith("exp-001") for i in panel.visible_ids())
    view.search.value = "best-00500"  # a tag
    assert panel.visible_ids() == ["exp-00500"]
    view.search.value = ""
    view.status.value = "running"
    assert panel.state.total == 0
    assert view.where.value == "showing 0–0 of 0"
    panel.set_filter(status="success")
    assert panel.state.total == N


def test_selecting_rows_and_comparing_them(thousand: Path) -> None:
    panel = HistoryPanel(thousand, page_size=10)
    view = panel.widget
    view.selection.value = ("exp-00999", "exp-00998")
    assert panel.state.selected == ["exp-00999", "exp-00998"]
    view.actions["compare"].click()
    shown = view.output.outputs
    assert shown
    assert "application/vnd.jupyter.widget-view+json" in shown[0]["data"]
    compare = panel.compare()
    assert isinstance(compare, ComparePanel)
    assert compare.params_diff()["seed"] == [999, 998]
    panel.select(["exp-00999"])
    assert view.selection.value == ("exp-00999",)
    assert panel.compare() is None
    assert "two or more" in panel.state.error


def test_details_tag_and_branch_actions(thousand: Path) -> None:
    panel = HistoryPanel(thousand, page_size=10)
    view = panel.widget
    view.actions["details"].click()
    assert panel.state.error == "Select an experiment first."
    panel.select(["exp-00998"])
    view.actions["details"].click()
    assert "exp-00998" in view.output.outputs[0]["data"]["text/plain"]
    view.tag_name.value = "chosen"
    view.actions["tag"].click()
    assert panel.state.message == "Tagged exp-00998 as chosen."
    assert "chosen" in view.table.value
    view.actions["branch"].click()
    assert panel.state.message == "Created branch mlvc/exp-00998 at exp-00998."
    panel.tag("exp-00997", "chosen")  # the tag exists, on another experiment
    assert "chosen" in panel.state.error


def test_reproduce_cell_goes_to_the_kernel_s_next_input(
    shell: InteractiveShell,  # noqa: F811  # the fixture
    thousand: Path,
) -> None:
    panel = HistoryPanel(thousand, shell=shell)
    shell.rl_next_input = None
    panel.select(["exp-00042"])
    panel.widget.actions["reproduce cell"].click()
    assert shell.rl_next_input == "%vc_reproduce exp-00042"  # a kernel sends it as a payload
    assert panel.state.message == "Reproduce cell: %vc_reproduce exp-00042"


def test_vc_log_panel_takes_the_query_options(
    shell: InteractiveShell,  # noqa: F811  # the fixture
    thousand: Path,
) -> None:
    run(shell, f"%vc_init {thousand}")
    panel = run(shell, "%vc_log --panel --search exp-0000 --sort -metrics.acc -n 3")
    assert isinstance(panel, HistoryPanel)
    assert panel.state.total == 10
    assert panel.visible_ids() == ["exp-00009", "exp-00008", "exp-00007"]
    assert len(panel.widget.selection.options) == 3


def test_vc_log_panel_filters_by_tag_and_keeps_it_while_searching(
    shell: InteractiveShell,  # noqa: F811  # the fixture
    thousand: Path,
) -> None:
    run(shell, f"%vc_init {thousand}")
    panel = run(shell, "%vc_log --panel --tag best-00500")
    assert isinstance(panel, HistoryPanel)
    assert (panel.state.tag, panel.state.total) == ("best-00500", 1)
    assert panel.visible_ids() == ["exp-00500"]
    view = panel.widget
    assert view.tag_filter.value == "best-00500"
    view.search.value = "exp-005"  # the tag filter stays on
    assert panel.visible_ids() == ["exp-00500"]
    view.tag_filter.value = ""
    assert panel.state.total == 100
    panel.set_filter(tag="best-00100")
    assert panel.visible_ids() == ["exp-00100"]
    assert view.tag_filter.value == "best-00100"
