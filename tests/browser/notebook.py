"""Open a notebook in the browser and run its cells (helpers for the panels' browser tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.browser.conftest import Lab, wait_for_kernel

__all__ = ["open_notebook", "run_cell"]


def write_notebook(path: Path, cells: list[str]) -> None:
    """Write an nbformat 4 notebook of code cells, unrun, with the python3 kernelspec."""
    notebook = {
        "cells": [
            {"cell_type": "code", "source": source, "metadata": {}, "outputs": [],
             "execution_count": None, "id": f"cell-{n}"}
            for n, source in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip
    path.write_text(json.dumps(notebook))


def open_notebook(page: Any, lab: Lab, name: str, cells: list[str]) -> None:
    """Write ``name`` under the lab's root (kept out of git's sight) and open it, kernel ready.

    The notebook goes to ``.git/info/exclude``, so the repository the other browser tests
    read stays clean, and opens in a workspace of its own, so the default workspace (which
    the sidebar's tests restore) never reopens it.
    """
    exclude = lab.root / ".git" / "info" / "exclude"
    if name not in exclude.read_text().splitlines():
        with exclude.open("a") as file:
            file.write(f"\n{name}\n")
    write_notebook(lab.root / name, cells)
    page.goto(lab.page_url(f"lab/workspaces/{Path(name).stem}/tree/{name}"))
    page.wait_for_selector("#jp-main-dock-panel", state="attached", timeout=60_000)
    wait_for_kernel(page)


def run_cell(page: Any, index: int) -> Any:
    """Run the ``index``-th cell (Ctrl+Enter) and return its output area's locator."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    return cell.locator(".jp-OutputArea")
