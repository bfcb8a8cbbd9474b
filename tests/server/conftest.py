"""A real jupyter_server with the mlvc extension, over a real repository (pytest-jupyter).

pytest-jupyter's fixtures are imported here rather than registered as a plugin for the whole
suite: its autouse fixtures (an event loop per test) then touch only these tests, and the
browser tests, which run Playwright's own loop, never see them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pytest_jupyter", reason="pytest-jupyter[server] is in the test extra")

from pytest_jupyter.jupyter_server import *  # noqa: E402, F403  # fixtures and async hooks
from tornado.httpclient import HTTPResponse  # noqa: E402

from mlvc_jupyter.core.manager import ExperimentManager  # noqa: E402
from tests.conftest import GitRepo, git  # noqa: E402

pytestmark = pytest.mark.server

Fetch = Callable[..., Coroutine[Any, Any, HTTPResponse]]


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"mlvc_jupyter": True}}}


@pytest.fixture
def project(jp_root_dir: Path) -> GitRepo:
    """The server root is a repository with two ended experiments and one running from nb."""
    git(jp_root_dir, "init", "-q", "-b", "main")
    repo = GitRepo(jp_root_dir)
    repo.write({"train.py": "print('train')\n", "nb.ipynb": _notebook(), "data/x.txt": "x\n"})
    repo.commit("initial")
    manager = ExperimentManager(jp_root_dir)
    for exp, lr, acc in (("exp-1", 0.1, 0.8), ("exp-2", 0.2, 0.9)):
        manager.start(exp, configs={"lr": lr})
        repo.write({"train.py": f"print('train {lr}')\n"})
        manager.end(exp, metrics={"acc": acc})
    manager.start("exp-run", configs={"lr": 0.3}, details={"notebook": "nb.ipynb"})
    return repo


def _notebook() -> dict[str, Any]:
    return {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


async def call(fetch: Fetch, *parts: str, **kwargs: Any) -> tuple[int, Any]:
    """Return (status, JSON body) of a request, 4xx and 5xx included."""
    response = await fetch("mlvc", "api", *parts, raise_error=False, **kwargs)
    body = response.body.decode() if response.body else ""
    return response.code, json.loads(body) if body else None


async def post(fetch: Fetch, *parts: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
    """POST ``body`` as JSON (token in the header, as the test client sends it)."""
    raw = body if isinstance(body, str) else json.dumps({} if body is None else body)
    return await call(fetch, *parts, method="POST", body=raw, **kwargs)
