"""Take the README's panel screenshots in a real JupyterLab and headless Chromium.

Runs ``notebooks/panels.ipynb`` in a fresh repository under a temporary folder, through the
browser test's lab server and helpers, then saves the history panel (``%vc_log``) and the
compare panel (``%vc_diff``) as ``docs/history-panel.png`` and ``docs/compare-panel.png``.
Run from the project root, with the labextension built and chromium installed::

    PYTHONPATH=. python docs/screenshots.py
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.browser.conftest import (  # the lab fixture's own steps
    CHROMIUM,
    CHROMIUM_ARGS,
    PROJECT,
    _hermetic_env,
    _run_lab,
    use_this_build,
    wait_for_kernel,
)

DOCS = PROJECT / "docs"
NOTEBOOK = PROJECT / "notebooks" / "panels.ipynb"
RUN_ALL = "window.jupyterapp.commands.execute('notebook:run-all-cells')"
ALL_RUN = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
  .every(prompt => /\\[\\d+\\]/.test(prompt.textContent))"""
HIDE_FILES = "window.jupyterapp.commands.execute('application:toggle-left-area')"


def _prepare(tmp: Path) -> tuple[Path, Path, dict[str, str]]:
    """Return the lab's root (a repository holding the notebook), its home and environment."""
    home, root = tmp / "home", tmp / "project"
    home.mkdir()
    root.mkdir()
    env = _hermetic_env(home)
    use_this_build(home, env)
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    for command in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "notebook"]):
        subprocess.run(["git", *command], cwd=root, env=env, check=True)
    return root, home, env


def _shoot(url: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(120_000)
        page.goto(url)
        wait_for_kernel(page)
        page.evaluate(HIDE_FILES)  # the panels get the page's width
        page.evaluate(RUN_ALL)
        page.wait_for_function(ALL_RUN)
        for panel, name in (("history", "history-panel.png"), ("compare", "compare-panel.png")):
            element = page.locator(f".mlvc-{panel}-panel")
            element.scroll_into_view_if_needed()
            page.wait_for_timeout(1000)  # let the notebook settle after scrolling
            element.screenshot(path=str(DOCS / name))
        browser.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root, home, env = _prepare(Path(folder))
        lab = _run_lab(root, home, env)
        server = next(lab)
        try:
            _shoot(server.page_url(f"lab/workspaces/shots/tree/{NOTEBOOK.name}"))
        finally:
            lab.close()
    for name in ("history-panel.png", "compare-panel.png"):
        print(f"{DOCS / name}: {(DOCS / name).stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
