"""The JupyterLab sidebar in a real headless Chromium against a real jupyter lab."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import HOSTILE, Lab, open_sidebar, wait_for_kernel
from tests.conftest import git

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def ids(sidebar: Any) -> list[str]:
    return sidebar.locator("li.mlvc-item").evaluate_all("items => items.map(i => i.dataset.expId)")


def wait_for_ids(page: Any, expected: list[str]) -> None:
    """Wait until the list shows exactly ``expected`` (the list refreshes asynchronously)."""
    page.wait_for_function(
        "expected => JSON.stringify([...document.querySelectorAll('#mlvc-sidebar li.mlvc-item')]"
        ".map(i => i.dataset.expId)) === JSON.stringify(expected)",
        arg=expected,
    )


def test_the_sidebar_lists_the_experiments(page: Any, lab: Lab) -> None:
    sidebar = open_sidebar(page, lab)
    sidebar.locator("li.mlvc-item").first.wait_for()
    assert ids(sidebar) == ["exp-3", "exp-2", "exp-1"]
    item = sidebar.locator('li.mlvc-item[data-exp-id="exp-2"]')
    assert "success" in item.inner_text()
    assert "acc=0.9" in item.inner_text()
    assert "main" in sidebar.locator(".mlvc-status").inner_text()


def test_search_and_status_filter(page: Any, lab: Lab) -> None:
    sidebar = open_sidebar(page, lab)
    sidebar.locator("li.mlvc-item").first.wait_for()
    sidebar.locator(".mlvc-search").fill("exp-2")
    wait_for_ids(page, ["exp-2"])
    sidebar.locator(".mlvc-search").fill("")
    wait_for_ids(page, ["exp-3", "exp-2", "exp-1"])
    sidebar.locator(".mlvc-status-filter").select_option("failed")
    wait_for_ids(page, ["exp-3"])


def test_compare_two_shows_params_metrics_and_a_hostile_file_name_as_text(
    page: Any, lab: Lab
) -> None:
    sidebar = open_sidebar(page, lab)
    for exp in ("exp-1", "exp-2"):
        sidebar.locator(f'li.mlvc-item[data-exp-id="{exp}"] input[type=checkbox]').check()
    sidebar.locator(".mlvc-compare-button").click()
    compare = sidebar.locator(".mlvc-compare")
    compare.locator("table").first.wait_for()
    text = compare.inner_text()
    assert "exp-1 → exp-2" in text
    assert "lr" in text
    assert "0.2000" in text
    assert HOSTILE in text  # the file name, shown as text
    assert compare.locator("img").count() == 0
    assert page.errors == []  # no alert() ran


def test_reproduce_here_inserts_the_magic_below_the_active_cell(page: Any, lab: Lab) -> None:
    sidebar = open_sidebar(page, lab, "lab/tree/nb.ipynb")
    wait_for_kernel(page)
    page.locator(".jp-Notebook .jp-Cell").first.click()
    sidebar.locator('li.mlvc-item[data-exp-id="exp-1"] .mlvc-reproduce').click()
    cells = page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor")
    page.wait_for_function("document.querySelectorAll('.jp-Notebook .jp-Cell').length === 2")
    assert cells.nth(1).inner_text().strip() == "%vc_reproduce exp-1"


def test_record_checkpoint_adds_a_checkpoint_to_the_notebooks_experiment(
    page: Any, lab: Lab
) -> None:
    sidebar = open_sidebar(page, lab, "lab/tree/nb.ipynb")
    wait_for_kernel(page)
    cell = page.locator(".jp-Notebook .jp-Cell").first
    cell.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("%load_ext mlvc_jupyter\n%vc_start exp-nb")
    page.keyboard.press("Control+Enter")
    item = sidebar.locator('li.mlvc-item[data-exp-id="exp-nb"]')
    item.wait_for(timeout=60_000)  # the list polls: the new experiment appears
    page.wait_for_function(
        "document.querySelector('#mlvc-sidebar .mlvc-status').dataset.active === 'exp-nb'"
    )
    page.locator(".mlvc-record-checkpoint").first.click()
    page.wait_for_function(
        '(document.querySelector(\'#mlvc-sidebar li.mlvc-item[data-exp-id="exp-nb"] '
        ".mlvc-checkpoints') || {}).textContent === '2 checkpoints'"
    )
    log = git(lab.root, "log", "--format=%s", "refs/mlvc/experiments/exp-nb")
    assert [line for line in log.splitlines() if line.startswith("mlvc(exp-nb)")] == [
        "mlvc(exp-nb) #2 running: checkpoint from JupyterLab",
        "mlvc(exp-nb) #1 running: started",
    ]
