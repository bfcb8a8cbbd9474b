"""Metric tracking: the ``Tracker`` interface and the registry of backends.

``local`` (a JSON-lines file, :mod:`mlvc_jupyter.core.tracking.local`) is always there and is the
source of truth. ``wandb``, ``mlflow`` and ``tensorboard`` are remote bridges (one module each,
a class following :class:`~mlvc_jupyter.core.tracking.fanout.Bridge`): naming any of them, alone
or as a list (``"local,mlflow"``), gives a :class:`~mlvc_jupyter.core.tracking.fanout.FanOutTracker`
that writes locally and feeds the bridges from a background thread. :data:`BACKENDS` maps each
name to ``"module:Class"``, so nothing is imported until that backend is used; a bridge class
names in ``requires`` the modules it needs (any one of them), checked before anything starts.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from mlvc_jupyter.errors import MlvcError

__all__ = ["BACKENDS", "Tracker", "check_backends", "create_tracker", "parse_backends"]

BACKENDS: dict[str, str] = {
    "local": "mlvc_jupyter.core.tracking.local:LocalTracker",
    "mlflow": "mlvc_jupyter.core.tracking.mlflow_bridge:MlflowBridge",
    "tensorboard": "mlvc_jupyter.core.tracking.tensorboard_bridge:TensorBoardBridge",
    "wandb": "mlvc_jupyter.core.tracking.wandb_bridge:WandbBridge",
}
"""Backend name → ``"module:Class"``, imported on first use. Add an entry to add a backend."""


@runtime_checkable
class Tracker(Protocol):
    """What every tracking backend offers the experiment layer."""

    @property
    def experiment_id(self) -> str:
        """The experiment the metrics belong to."""

    @property
    def run_id(self) -> str:
        """The run within the experiment."""

    @property
    def backend(self) -> str:
        """The registry name of the backend (``local``, ...)."""

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Record metric values at a step (fast; may be buffered)."""

    def log_params(self, params: Mapping[str, object]) -> None:
        """Record parameters."""

    def flush(self, *, fsync: bool = True) -> None:
        """Make everything logged so far durable."""

    def history(self) -> list[dict[str, Any]]:
        """Return every record so far, oldest first."""

    def final_metrics(self) -> dict[str, float]:
        """Return the last value of each metric."""

    def close(self) -> None:
        """Flush and release the backend; later logging raises."""


def check_backends(backend: str) -> str:
    """Return ``backend`` normalised (``"local,mlflow"``) once every bridge it names can load.

    For a process that records the choice now and opens the runs later (``mlvc start --track``).

    Raises:
        MlvcError: A backend is unknown or its optional extra is not installed.
    """
    names = parse_backends(backend)
    for name in names[1:]:
        _require(_load(name, BACKENDS[name])())
    return ",".join(names)


def create_tracker(
    backend: str,
    *,
    path: Path,
    experiment_id: str,
    run_id: str | None = None,
    runtime: Path | None = None,
    project: str = "mlvc",
) -> Tracker:
    """Create a tracker of the named backend, or of several (``"local,wandb"``).

    ``local`` alone gives a :class:`~mlvc_jupyter.core.tracking.local.LocalTracker` writing
    ``path``; with remote backends, a fan-out over it whose remotes keep their own stores
    under ``runtime`` (default: ``path``'s folder) and name their project ``project``.

    Raises:
        MlvcError: A backend is unknown, its optional extra is not installed, or the local
            store cannot be opened.
    """
    names = parse_backends(backend)
    bridges = [_load(name, BACKENDS[name])() for name in names if name != "local"]
    for bridge in bridges:
        _require(bridge)
    local: Tracker = _load("local", BACKENDS["local"])(
        path=path, experiment_id=experiment_id, run_id=run_id
    )
    if not bridges:
        return local
    from mlvc_jupyter.core.tracking.fanout import FanOutTracker, RunInfo

    run = RunInfo(experiment_id, local.run_id, project, runtime or path.parent)
    return FanOutTracker(local, bridges, run)  # type: ignore[arg-type]  # local is a LocalTracker


def parse_backends(backend: str) -> list[str]:
    """Return the backend names of ``"local,mlflow"`` (``local`` first, always; no repeats).

    Raises:
        MlvcError: A name is not in :data:`BACKENDS`.
    """
    names = ["local"]
    for name in (part.strip().lower() for part in backend.split(",")):
        if name and name not in BACKENDS:
            known = ", ".join(sorted(BACKENDS))
            raise MlvcError(
                f"Unknown tracking backend '{name}'. Known backends: {known}.",
                hint="Name one or several, e.g. `--track local,mlflow` or "
                'tracking_backend="local,wandb" (tracking-backend in .mlvc.toml sets the default).',
            )
        if name and name not in names:
            names.append(name)
    return names


def _require(bridge: Any) -> None:
    """Check that one of the modules a bridge needs is installed, without importing it.

    Raises:
        MlvcError: None is; the message names the extra to install.
    """
    needed: tuple[str, ...] = bridge.requires
    if any(_installed(module) for module in needed):
        return
    raise MlvcError(
        f"The tracking backend '{bridge.name}' needs {' or '.join(needed)}, which is not "
        "installed.",
        hint=f"Install it with `pip install mlvc-jupyter[{bridge.name}]`.",
    )


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ValueError:  # sys.modules[module] is None: importing it is blocked
        return False


def _load(backend: str, target: str) -> Any:
    """Import ``"module:Class"``.

    Raises:
        MlvcError: The module or class cannot be imported (an optional extra is missing, say).
    """
    module_name, _, attribute = target.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise MlvcError(
            f"The tracking backend '{backend}' cannot be loaded: {exc}.",
            hint=f"Install its optional dependencies, e.g. `pip install mlvc-jupyter[{backend}]`.",
        ) from exc
