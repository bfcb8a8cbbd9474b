"""The ipywidgets panels rendered by JupyterLab's widget manager in a real headless Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Lab
from tests.browser.notebook import open_notebook, run_cell

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROWS_JS = """panel => [...panel.querySelectorAll('table.mlvc-table tbody tr')]
  .map(row => row.cells[0].textContent)"""


def test_vc_log_shows_the_history_panel_and_a_header_click_sorts_it(
    page: Any, lab: Lab, tmp_path: Path
) -> None:
    open_notebook(page, lab, "history.ipynb", ["%load_ext mlvc_jupyter\n%vc_log"])
    output = run_cell(page, 0)
    panel = output.locator(".widget-vbox.mlvc-history-panel")  # the widget, not the fallback
    panel.locator("table.mlvc-table").wait_for()
    assert panel.evaluate(ROWS_JS) == ["exp-3", "exp-2", "exp-1"]  # newest first
    assert output.locator(".jp-RenderedHTMLCommon > .mlvc").count() == 0  # no static table
    panel.locator(".widget-button", has_text="acc").click()
    sorted_by_acc = ["exp-3", "exp-1", "exp-2"]  # acc 0.7, 0.8, 0.9
    page.wait_for_function(
        f"([rows]) => JSON.stringify(({ROWS_JS})(document.querySelector('.mlvc-history-panel')))"
        " === JSON.stringify(rows)",
        arg=[sorted_by_acc],
    )  # the kernel's sort reaches the table through the widget comm
    assert panel.locator(".widget-button", has_text="acc").inner_text().strip() == "acc ▲"
    panel.screenshot(path=str(tmp_path / "history-panel.png"))
    assert (tmp_path / "history-panel.png").stat().st_size > 0
