"""Notebook awareness for a running kernel: which notebook, which cells ran in which order, what
local code is imported, seeding, and the kernel's session (its repository and active experiment).

:class:`KernelSession` is what the magics keep per kernel; its methods raise
:class:`~mlvc_jupyter.errors.MlvcError`, which the magics turn into IPython's ``UsageError``.
:func:`capture` captures the kernel cheaply (the notebook path, the raw In[] history,
``sys.modules``); :func:`details` turns it into the ``details`` mapping that start/commit/end
record, running git where needed. The split lets a background checkpoint capture the kernel at
once and do the git work later.

Which notebook: an explicit path (``%vc_start --notebook``, the sidebar), else
``__vsc_ipynb_file__`` in the user namespace (VS Code), else ``JPY_SESSION_NAME`` (set by
jupyter_server for the kernels it starts: the notebook's path when the kernel started, so a
rename after that is not seen).

Out of order, defined: a notebook reproduces the kernel's state when "Restart and Run All" runs
the same code in the same order. Each executed input (In[1], In[2], ...) is matched to the code
cell of the saved notebook with the same source (cells with the same text in order, one input
each: see :func:`~mlvc_jupyter.core.environment.code.match_cells`); ``out_of_order`` is True when
the matched cell positions, taken in execution order, ever fail to increase: a cell ran twice,
or a cell above one that already ran ran after it. It is None when the notebook file is unknown
or unreadable. Executed code that matches no saved cell (edited or deleted since it ran, not
saved yet, or typed in a console) does not decide the flag; it is counted in
``unmatched_inputs``, without a warning: JupyterLab does not save before running a cell, so a
normal session always has some. A kernel session warns once, when the flag first turns True.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import random
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlvc_jupyter.core.environment.code import (
    code_cells,
    local_modules,
    match_cells,
    module_warnings,
)
from mlvc_jupyter.core.reproduction.linking import recorded_seed
from mlvc_jupyter.core.session import (
    ExperimentSession,
    clear_kernel_state,
    running_experiments,
    write_kernel_state,
)
from mlvc_jupyter.errors import MlvcError

if TYPE_CHECKING:
    from mlvc_jupyter.core.manager import ExperimentManager
    from mlvc_jupyter.core.records import Checkpoint, ExperimentSummary
    from mlvc_jupyter.core.tracking import Tracker

__all__ = [
    "KernelSession",
    "KernelCapture",
    "capture",
    "details",
    "kernel_id",
    "notebook_path",
    "open_manager",
    "seed_everything",
]

NOTEBOOK_ENV = "JPY_SESSION_NAME"
VSCODE_VARIABLE = "__vsc_ipynb_file__"
MAX_SOURCE = 300
"""Characters of each executed input kept in the record."""
MAX_EXECUTIONS = 500
"""Executed inputs kept in the record (the most recent ones)."""

_MANAGERS: dict[Path, ExperimentManager] = {}


@dataclass(frozen=True, slots=True)
class KernelCapture:
    """What :func:`details` needs, copied from the kernel at one moment."""

    notebook: Path | None
    inputs: list[str]
    """Raw inputs by execution count (index 0 is unused, as in IPython's In)."""
    modules: Mapping[str, object]
    seed: int | None = None
    seeded: tuple[str, ...] = ()
    """The libraries :func:`seed_everything` seeded with ``seed``."""


def notebook_path(shell: Any, explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the running notebook's path, or None when no source names it."""
    candidates = [explicit, shell.user_ns.get(VSCODE_VARIABLE), os.environ.get(NOTEBOOK_ENV)]
    for candidate in candidates:
        if candidate:
            path = Path(candidate).expanduser()
            if path.is_absolute():
                return path
            # jupyter_server gives a path relative to its root when it has no name: try it
            # from here, then the bare file name (the kernel starts in the notebook's folder).
            for guess in (path, Path(path.name)):
                if guess.exists():
                    return guess.absolute()
            return path.absolute()
    return None


def kernel_id() -> str | None:
    """Return this kernel's Jupyter id, or None outside a kernel jupyter_server started.

    jupyter_server names a kernel's connection file ``kernel-<id>.json``; the id lets the
    server find this kernel's state after a rename (its session manager maps paths to ids).
    """
    try:
        from ipykernel.connect import get_connection_file  # noqa: PLC0415  # kernels only

        name = Path(get_connection_file()).name
    except (ImportError, RuntimeError):  # not in a running ipykernel
        return None
    match = re.fullmatch(r"kernel-(.+)\.json", name)
    return match.group(1) if match else None


def capture(
    shell: Any,
    *,
    notebook: str | os.PathLike[str] | None = None,
    seed: int | None = None,
    seeded: Sequence[str] = (),
) -> KernelCapture:
    """Copy the notebook path, In[] history and ``sys.modules`` (microseconds, no git)."""
    return KernelCapture(
        notebook=notebook_path(shell, notebook),
        inputs=list(shell.history_manager.input_hist_raw),
        modules=sys.modules.copy(),
        seed=seed,
        seeded=tuple(seeded),
    )


def details(captured: KernelCapture, root: Path) -> dict[str, Any]:
    """Return the ``details`` a checkpoint records for ``captured``.

    Keys: ``notebook`` (relative to ``root`` when inside it), ``execution`` (the most recent
    executed inputs: ``count``, ``source`` cut to :data:`MAX_SOURCE` characters, ``cell``: the
    matching cell's index in the saved notebook or None), ``out_of_order``, ``unmatched_inputs``
    (how many executed inputs the saved notebook lacks), ``local_modules``
    (see :mod:`mlvc_jupyter.core.environment.code`), ``warnings``, and ``seed`` with ``seeded`` (the
    libraries seeded) when a seed was given.
    """
    warnings: list[str] = []
    executed = [(n, src) for n, src in enumerate(captured.inputs) if n and src.strip()]
    cells = code_cells(captured.notebook) if captured.notebook else None
    if captured.notebook and cells is None:
        warnings.append(f"Could not read the notebook {captured.notebook}: cell order unknown.")
    positions, out_of_order = match_cells([src for _, src in executed], cells)
    unmatched = sum(1 for p in positions if p is None) if cells is not None else None
    if len(executed) > MAX_EXECUTIONS:
        warnings.append(f"Only the last {MAX_EXECUTIONS} of {len(executed)} inputs are recorded.")
    execution = [
        {"count": n, "source": _cut(src), "cell": pos}
        for (n, src), pos in list(zip(executed, positions, strict=True))[-MAX_EXECUTIONS:]
    ]
    modules = local_modules(root, captured.modules)
    result: dict[str, Any] = {
        "notebook": _shown_path(captured.notebook, root),
        "execution": execution,
        "out_of_order": out_of_order,
        "unmatched_inputs": unmatched,
        "local_modules": modules,
        "warnings": warnings + module_warnings(modules),
    }
    if captured.seed is not None:
        result["seed"] = captured.seed
        result["seeded"] = list(captured.seeded)
    return result


def seed_everything(seed: int) -> list[str]:
    """Seed ``random``, numpy and torch (each only when installed); return what was seeded."""
    random.seed(seed)
    seeded = ["random"]
    if importlib.util.find_spec("numpy") is not None:
        import numpy

        numpy.random.seed(seed % 2**32)
        seeded.append("numpy")
    if importlib.util.find_spec("torch") is not None:
        import torch  # type: ignore[import-not-found]  # optional: imported only when installed

        torch.manual_seed(seed)
        seeded.append("torch")
    return seeded


def _cut(source: str) -> str:
    return source if len(source) <= MAX_SOURCE else source[: MAX_SOURCE - 1] + "…"


def _shown_path(path: Path | None, root: Path) -> str | None:
    if path is None:
        return None
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def open_manager(path: str | os.PathLike[str], *, init: bool = False) -> ExperimentManager:
    """Return the process's one manager of the repository holding ``path``.

    Only ``%vc_init`` (``init=True``) may create the repository.

    Core is imported here, on first use, so ``%load_ext mlvc_jupyter`` stays cheap.
    """
    from mlvc_jupyter.core.manager import ExperimentManager

    manager = ExperimentManager(path, init=init)
    return _MANAGERS.setdefault(manager.root.resolve(), manager)


class KernelSession:
    """What one kernel remembers between magics: its repository and its running experiment.

    The experiment itself is a core :class:`~mlvc_jupyter.core.session.ExperimentSession`;
    this class adds only what a kernel knows (the notebook, its variables, its seed) and hands
    it down as plain ``details``.
    """

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self._manager: ExperimentManager | None = None
        self.run: ExperimentSession | None = None
        self.notebook: str | None = None
        self.seed: int | None = None
        self.seeded: tuple[str, ...] = ()
        self.warnings: list[str] = []
        """What the user should hear about and has not yet: the face shows and empties it."""
        self._warned_out_of_order = False

    @property
    def manager(self) -> ExperimentManager:
        """Return the repository's manager, opened for the current folder on first use."""
        if self._manager is None:
            self._manager = open_manager(os.getcwd())
        return self._manager

    @property
    def active(self) -> str | None:
        """Return the running experiment's id, or None."""
        return self.run.experiment_id if self.run is not None else None

    @property
    def tracker(self) -> Tracker | None:
        """Return the running experiment's metric tracker, if it has one."""
        return self.run.tracker if self.run is not None else None

    def left_running(self) -> list[ExperimentSummary]:
        """Return the experiments of this kernel's notebook still running but not active here.

        After a kernel restart (or a crash) they wait for ``%vc_start ID --resume``; none when
        the notebook is unknown.
        """
        path = notebook_path(self.shell, self.notebook)
        if path is None:
            return []
        found = running_experiments(self.manager, _shown_path(path, self.manager.root) or "")
        return [summary for summary in found if summary.id != self.active]

    def use(self, path: str | os.PathLike[str]) -> ExperimentManager:
        """Record this kernel's experiments in the repository holding ``path`` from now on."""
        self.refuse_other_active()
        self._manager = open_manager(path, init=True)
        return self._manager

    # -- the notebook's variables ---------------------------------------------------------------

    def variable(self, name: str | None, flag: str) -> Any:
        """Return the notebook variable ``name`` (``cfg``, ``args.config``), or None for None.

        Raises:
            MlvcError: no such variable.
        """
        if name is None:
            return None
        head, *attributes = name.split(".")
        try:
            value = self.shell.user_ns[head]
            for attribute in attributes:
                value = getattr(value, attribute)
        except (KeyError, AttributeError):
            raise MlvcError(
                f"No variable '{name}' in the notebook (given as {flag} {name}).",
                hint=f"Define it in a cell above, e.g. `{head} = {{'lr': 0.1}}`, or pass "
                "another name.",
            ) from None
        return value

    def metrics(self, name: str | None) -> Mapping[str, Any] | None:
        """Return the metrics dict ``name``, or None (the session then takes the tracker's).

        Raises:
            MlvcError: no such variable, or it is not a dict.
        """
        value = self.variable(name, "--metrics")
        if value is not None and not isinstance(value, Mapping):
            raise MlvcError(
                f"--metrics {name} is a {type(value).__name__}, not a dict.",
                hint=f"Collect the final metrics in a dict, e.g. `{name} = {{'accuracy': acc}}`.",
            )
        return value

    # -- the running experiment -----------------------------------------------------------------

    def require_active(self, magic: str) -> ExperimentSession:
        """Return the running experiment's session.

        Raises:
            MlvcError: none is running in this kernel.
        """
        if self.run is None:
            raise MlvcError(
                f"No experiment is active in this kernel, so %{magic} has nothing to record.",
                hint="Run `%vc_start EXP_ID` first (or `%vc_start EXP_ID --resume` to continue "
                "one).",
            )
        return self.run

    def refuse_other_active(self, experiment_id: str | None = None) -> None:
        """Raise MlvcError when an experiment other than ``experiment_id`` is active."""
        if self.active is not None and self.active != experiment_id:
            raise MlvcError(
                f"Experiment '{self.active}' is still active in this kernel.",
                hint="End it first with `%vc_end` (or `%vc_end --status failed`).",
            )

    def capture(self, **overrides: Any) -> KernelCapture:
        """Capture the kernel now, with the session's notebook and seed unless overridden."""
        options = {"notebook": self.notebook, "seed": self.seed, "seeded": self.seeded}
        return capture(self.shell, **{**options, **overrides})

    def details(self, **overrides: Any) -> dict[str, Any]:
        """Return the details of a checkpoint taken now."""
        return self._observe(self.capture(**overrides))

    def _observe(self, captured: KernelCapture) -> dict[str, Any]:
        """Return the details of ``captured``, queueing a warning the first time cells ran out
        of order: the one fact about the notebook that changes what the user should believe."""
        facts = details(captured, self.manager.root)
        if facts["out_of_order"] and not self._warned_out_of_order:
            self._warned_out_of_order = True
            where = facts["notebook"] or "the notebook"
            self.warnings.append(
                f"Cells of {where} ran out of order (a cell ran again, or after one below it): "
                "Restart and Run All may not rebuild this state. Each checkpoint records it "
                "('out of order' in %vc_show); this is said once per kernel."
            )
        return facts

    def pop_warnings(self) -> list[str]:
        """Return the warnings not shown yet, and forget them."""
        pending, self.warnings = self.warnings, []
        return pending

    def start(
        self,
        experiment_id: str,
        *,
        track: str | None = None,
        seed: int | None = None,
        notebook: str | None = None,
        entry: str | None = None,
        **options: Any,
    ) -> Checkpoint:
        """Seed, record the first checkpoint and make the experiment this kernel's active one.

        ``track`` names a tracker backend, bound to the notebook variable ``tracker``;
        ``entry`` is the command that re-runs the experiment (``reproduce --run`` runs it
        instead of the notebook); ``options`` go to :meth:`ExperimentManager.start` (name,
        configs, resume, ...). In a re-run (``reproduce --run``) the recorded seed is used
        when none is given.
        """
        self.refuse_other_active(experiment_id)
        seed = seed if seed is not None else recorded_seed()
        seeded = tuple(seed_everything(seed)) if seed is not None else ()
        facts = self.details(notebook=notebook or self.notebook, seed=seed, seeded=seeded)
        if entry:
            facts["entry"] = entry
        previous = self.run  # the same experiment, resumed again in this kernel
        self.run, checkpoint = ExperimentSession.start(
            self.manager, experiment_id, backend=track, details=facts, **options
        )
        if previous is not None:
            previous.close()
        self.seed, self.seeded = seed, seeded
        self.notebook = notebook or self.notebook
        if self.run.tracker is not None:
            self.shell.user_ns["tracker"] = self.run.tracker
        self._publish(experiment_id, facts["notebook"])
        return checkpoint

    def _publish(self, experiment_id: str | None, notebook: str | None) -> None:
        """Name the active experiment in the runtime folder, for the sidebar's "record
        checkpoint" (the server cannot ask a kernel busy training); a failure only warns."""
        try:
            if experiment_id is not None and notebook is not None:
                write_kernel_state(
                    self.manager, notebook=notebook, experiment_id=experiment_id, kernel=kernel_id()
                )
            else:
                clear_kernel_state(self.manager)
        except OSError as exc:
            self.warnings.append(f"The sidebar will not see the active experiment: {exc}.")

    def commit(self, *, message: str | None, configs: Any, background: bool) -> Checkpoint | None:
        """Record a checkpoint of the active experiment now, or queue it (returns None)."""
        run = self.require_active("vc_commit")
        if background:  # capture the kernel now; the git work happens on the worker
            facts: Any = functools.partial(self._observe, self.capture())
        else:
            facts = self.details
        return run.commit(message=message, configs=configs, details=facts, background=background)

    def end(self, *, error: BaseException | None = None, **options: Any) -> Checkpoint:
        """Record the final checkpoint of the active experiment and forget it.

        ``options`` go to :meth:`ExperimentSession.end` (metrics, status, tag, configs).
        """
        run = self.require_active("vc_end")
        checkpoint = run.end(error=error, details=self.details, **options)
        self.close()
        return checkpoint

    def close(self) -> None:
        """Close the tracker and forget the active experiment (the repository stays)."""
        if self.run is not None:
            self.run.close()
            self._publish(None, None)
        self.run, self.seed, self.seeded = None, None, ()
