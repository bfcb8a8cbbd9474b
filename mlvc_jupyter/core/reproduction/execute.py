"""Run an experiment's entry point in its materialised worktree, as a fresh process.

The entry point is the command given at start (``--entry "python train.py"``), else the
notebook the experiment was recorded from, executed top to bottom by nbclient in a fresh kernel
(started in the notebook's folder, as Jupyter does). The child gets the environment of
:func:`~mlvc_jupyter.core.reproduction.linking.child_environment`, so its own ``%vc_start`` of
the original id records the linked run. A failure comes back as a reason (a string), never as an
exception: "could not run" is a verdict, not an error.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlvc_jupyter.core.records import ExperimentSummary, Progress, report

__all__ = ["entry_point", "run_entry"]

_ERROR_LINES = 15
"""Lines of a failed command's output kept in the reason."""


def entry_point(summary: ExperimentSummary) -> str | None:
    """Return what re-runs the experiment: its start's ``--entry`` command, else its notebook
    (``notebook <path>``), or None when it recorded neither."""
    command = summary.extra.get("entry")
    if isinstance(command, str) and command.strip():
        return command
    notebook = summary.extra.get("notebook")
    return f"notebook {notebook}" if isinstance(notebook, str) and notebook else None


def run_entry(
    summary: ExperimentSummary,
    worktree: Path,
    env: Mapping[str, str],
    *,
    on_progress: Progress | None = None,
) -> str | None:
    """Run the entry point in ``worktree`` with ``env`` added; return why it failed, or None.

    ``on_progress(done, total)`` hears of each cell of a notebook.
    """
    command = summary.extra.get("entry")
    if isinstance(command, str) and command.strip():
        return _run_command(command, worktree, {**os.environ, **env})
    notebook = summary.extra.get("notebook")
    if not isinstance(notebook, str) or not notebook:
        return (
            "the experiment recorded no entry point (no notebook, no --entry): start it from "
            'a notebook, or with `--entry "python train.py"`'
        )
    path = worktree / notebook
    if Path(notebook).is_absolute() or not path.is_file():
        return f"its notebook '{notebook}' is not in the checkpoint"
    kernel_env = {**os.environ, **env, "JPY_SESSION_NAME": str(path)}
    return _run_notebook(path, kernel_env, on_progress)


def _run_command(command: str, worktree: Path, env: Mapping[str, str]) -> str | None:
    try:
        argv = shlex.split(command)
        done = subprocess.run(  # noqa: S603  # the user's own recorded command, no shell
            argv, cwd=worktree, env=dict(env), capture_output=True, text=True, check=False
        )
    except (OSError, ValueError) as exc:  # not found, not executable, unbalanced quotes
        return f"`{command}` could not start: {exc}"
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-_ERROR_LINES:])
        return f"`{command}` exited with status {done.returncode}" + (f":\n{tail}" if tail else "")
    return None


def _run_notebook(path: Path, env: Mapping[str, str], on_progress: Progress | None) -> str | None:
    import nbformat
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    notebook: Any = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]  # nbformat is untyped
    code = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    total = len(code)
    report(on_progress, 0, total)

    def executed(cell: Any, cell_index: int, **_: Any) -> None:
        report(on_progress, code.index(cell_index) + 1 if cell_index in code else 0, total)

    client = NotebookClient(
        notebook, timeout=None, resources={"metadata": {"path": str(path.parent)}},
        on_cell_executed=executed,
    )  # fmt: skip
    try:
        # The kernel's own stderr (start-up warnings) would land in the caller's cell output;
        # what the notebook prints or raises comes back through the kernel's messages.
        client.execute(env=dict(env), stderr=subprocess.DEVNULL)
    except CellExecutionError as exc:
        return f"a cell of {path.name} raised {exc.ename}: {exc.evalue}"
    except (CellTimeoutError, DeadKernelError, NoSuchKernel, RuntimeError, OSError) as exc:
        return f"{path.name} could not run: {type(exc).__name__}: {exc}"
    return None
