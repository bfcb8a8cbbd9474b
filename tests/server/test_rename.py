"""A renamed notebook keeps its active experiment: the server asks its own session manager.

The kernel's state file names the notebook it had at ``%vc_start``; JupyterLab renames the
session (``PATCH /api/sessions/{id}``) but the kernel does not rewrite its state. The state also
names the kernel's id, and the session manager maps the new path to that kernel.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.session import clear_kernel_state, write_kernel_state
from tests.conftest import GitRepo
from tests.server.conftest import Fetch, call

pytestmark = pytest.mark.server


async def _api(fetch: Fetch, method: str, *parts: str, body: object) -> dict[str, object]:
    response = await fetch("api", *parts, method=method, body=json.dumps(body))
    reply: dict[str, object] = json.loads(response.body)
    return reply


async def _open_notebook(jp_fetch: Fetch) -> tuple[dict[str, object], dict[str, object]]:
    """Start a real kernel session for nb.ipynb, as JupyterLab does; return it and its kernel."""
    session = await _api(
        jp_fetch, "POST", "sessions",
        body={"path": "nb.ipynb", "name": "nb.ipynb", "type": "notebook",
              "kernel": {"name": "python3"}},
    )  # fmt: skip
    kernel = session["kernel"]
    assert isinstance(kernel, dict)
    return session, kernel


async def test_status_follows_a_renamed_notebook_to_its_kernels_experiment(
    jp_fetch: Fetch, project: GitRepo
) -> None:
    session, kernel = await _open_notebook(jp_fetch)
    manager = ExperimentManager(project.path)
    write_kernel_state(manager, notebook="nb.ipynb", experiment_id="exp-run", kernel=kernel["id"])
    try:
        await _api(jp_fetch, "PATCH", "contents", "nb.ipynb", body={"path": "renamed.ipynb"})
        await _api(
            jp_fetch, "PATCH", "sessions", str(session["id"]), body={"path": "renamed.ipynb"}
        )
        code, status = await call(jp_fetch, "status", params={"path": "renamed.ipynb"})
        code_other, other = await call(jp_fetch, "status", params={"path": "train.py"})
        project.write({"nb.ipynb": "{}"})  # a new notebook takes the old name
        code_old, old = await call(jp_fetch, "status", params={"path": "nb.ipynb"})
    finally:
        clear_kernel_state(manager)
        await jp_fetch("api", "sessions", str(session["id"]), method="DELETE")
    assert (code, status["notebook"], status["active"]) == (200, "renamed.ipynb", "exp-run")
    assert (code_other, other["active"]) == (200, None)  # another file, no kernel of its own
    # A new notebook at the old path: the renamed notebook's kernel runs elsewhere now.
    assert (code_old, old["active"]) == (200, None)


async def test_a_real_kernel_names_its_id_so_a_rename_keeps_its_experiment(
    jp_fetch: Fetch, jp_serverapp: Any, project: GitRepo
) -> None:
    session, kernel = await _open_notebook(jp_fetch)
    client = jp_serverapp.kernel_manager.get_kernel(kernel["id"]).client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        reply = await client.execute_interactive(
            "%load_ext mlvc_jupyter\n%vc_start exp-k", timeout=60, output_hook=lambda _: None
        )
        assert reply["content"]["status"] == "ok"
        await _api(jp_fetch, "PATCH", "contents", "nb.ipynb", body={"path": "renamed.ipynb"})
        await _api(
            jp_fetch, "PATCH", "sessions", str(session["id"]), body={"path": "renamed.ipynb"}
        )
        code, status = await call(jp_fetch, "status", params={"path": "renamed.ipynb"})
    finally:
        client.stop_channels()
        await jp_fetch("api", "sessions", str(session["id"]), method="DELETE")
    assert (code, status["active"]) == (200, "exp-k")
