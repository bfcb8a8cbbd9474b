"""A real ``jupyter lab`` with the mlvc extensions and a headless Debian Chromium (Playwright).

One lab server per test package, over a temporary repository holding recorded experiments; a
fresh browser context per test. The labextension is the worktree's build output
(``mlvc_jupyter/labextension``, put first on ``JUPYTER_PATH``), so a test runs what
``jlpm build`` just produced. Without Chromium or the build output the tests skip locally and
fail under CI (``CI`` set), so CI can never go green without running them.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GitRepo, git

CHROMIUM = Path("/usr/bin/chromium")
PROJECT = Path(__file__).resolve().parents[2]
BUILD = PROJECT / "mlvc_jupyter" / "labextension"
HOSTILE = "<img src=x onerror=alert(1)>.py"
ARTIFACTS = Path(os.environ.get("MLVC_ARTIFACTS") or PROJECT / ".artifacts")
"""Screenshots go here (git-ignored); CI keeps the folder as the run's artifacts."""
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
KERNEL_READY_JS = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const s = w && w.sessionContext;
  return !!(s && s.isReady && s.session && s.session.kernel &&
    s.session.kernel.connectionStatus === 'connected' && s.session.kernel.status === 'idle');
}"""


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run: {reason}")
    pytest.skip(reason)


@dataclass
class Lab:
    url: str
    token: str
    root: Path

    def page_url(self, path: str = "lab") -> str:
        return f"{self.url}{path}?token={self.token}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def use_this_build(home: Path, env: dict[str, str]) -> None:
    """Make a lab started with ``env`` load this checkout's labextension, with no news popups."""
    extensions = home / "jupyter-path" / "labextensions"  # JUPYTER_PATH comes first
    extensions.mkdir(parents=True)
    (extensions / "mlvc-jupyter").symlink_to(BUILD)
    env["JUPYTER_PATH"] = str(extensions.parent)
    settings = home / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )


def _hermetic_env(home: Path) -> dict[str, str]:
    gitconfig = home / ".gitconfig"
    gitconfig.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "JPY_"))}
    env.update(
        HOME=str(home), GIT_CONFIG_GLOBAL=str(gitconfig), GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Test User", GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Test User", GIT_COMMITTER_EMAIL="test@example.com",
        PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")])),
        JUPYTER_CONFIG_DIR=str(home / ".jupyter"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
    )  # fmt: skip
    return env


def build_project(root: Path) -> None:
    """A repository with three recorded experiments; exp-2 adds a file with an HTML name."""
    from mlvc_jupyter.core.manager import ExperimentManager

    git(root, "init", "-q", "-b", "main")
    repo = GitRepo(root)
    nb = {"cells": [{"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": [],
                     "execution_count": None}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}  # fmt: skip
    repo.write(
        {"train.py": "print('train')\n", "nb.ipynb": nb, ".gitignore": ".ipynb_checkpoints/\n"}
    )
    repo.commit("initial")
    manager = ExperimentManager(root)
    for exp, lr, acc in (("exp-1", 0.1, 0.8), ("exp-2", 0.2, 0.9)):
        manager.start(exp, configs={"lr": lr})
        if exp == "exp-2":
            repo.write({HOSTILE: "print('hostile name')\n"})
        manager.end(exp, metrics={"acc": acc})
    manager.start("exp-3", configs={"lr": 0.3})
    manager.end("exp-3", metrics={"acc": 0.7}, status="failed")


@pytest.fixture(scope="package")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: apt-get install -y chromium fonts-liberation")
    if not (BUILD / "static" / "style.js").exists():
        _unavailable(
            "the labextension is not built: pip install -e . (or cd labextension && jlpm build)"
        )
    home = tmp_path_factory.mktemp("lab-home")
    env = _hermetic_env(home)
    root = tmp_path_factory.mktemp("lab-root")
    old = {k: os.environ.get(k) for k in env}
    os.environ.update({k: v for k, v in env.items() if k == "HOME" or k.startswith("GIT_")})
    try:
        build_project(root)
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    use_this_build(home, env)
    yield from _run_lab(root, home, env)


def _run_lab(root: Path, home: Path, env: dict[str, str]) -> Iterator[Lab]:
    port, token = _free_port(), secrets.token_hex(16)
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True",
        "--ServerApp.jpserver_extensions={'mlvc_jupyter': True}",
        "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
        f"--LabApp.user_settings_dir={home / 'user-settings'}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
    ]  # fmt: skip
    log = (home / "lab.log").open("wb")
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_for(url, token, proc, home / "lab.log")
        yield Lab(url, token, root)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait_for(url: str, token: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    request = urllib.request.Request(
        f"{url}mlvc/api/version", headers={"Authorization": f"token {token}"}
    )
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"jupyter lab exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310  # local
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"jupyter lab did not answer in 90 s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, lab: Lab, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context on JupyterLab; a screenshot of the end state is always kept."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(60_000)  # a loaded 2-core CI machine: the list polls every 5 s
    errors: list[str] = []
    page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.errors = errors
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    yield page
    print("\n".join(console))  # shown by pytest when the test fails
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    context.close()


def open_sidebar(page: Any, lab: Lab, path: str = "lab") -> Any:
    """Open JupyterLab at ``path`` and the mlvc sidebar; return the sidebar's locator."""
    page.goto(lab.page_url(path))
    page.wait_for_selector("#jp-main-dock-panel", state="attached", timeout=60_000)
    tab = page.locator('.jp-SideBar.jp-mod-left [data-id="mlvc-sidebar"]')
    tab.click()
    sidebar = page.locator("#mlvc-sidebar")
    sidebar.wait_for(state="visible")
    return sidebar


def wait_for_kernel(page: Any) -> None:
    page.wait_for_function(KERNEL_READY_JS, timeout=60_000)
