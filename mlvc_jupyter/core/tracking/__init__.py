"""Metric tracking: the ``Tracker`` interface and the registry of backends.

Only ``local`` (a JSON-lines file, :mod:`mlvc_jupyter.core.tracking.local`) exists so far. MLflow,
TensorBoard and W&B bridges come later: each is one module with a class taking the same
constructor arguments as :class:`~mlvc_jupyter.core.tracking.local.LocalTracker`, added to
:data:`BACKENDS` as ``"module:Class"`` so that nothing is imported until that backend is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from mlvc_jupyter.errors import MlvcError

__all__ = ["BACKENDS", "Tracker", "create_tracker"]

BACKENDS: dict[str, str] = {
    "local": "mlvc_jupyter.core.tracking.local:LocalTracker",
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


def create_tracker(
    backend: str, *, path: Path, experiment_id: str, run_id: str | None = None
) -> Tracker:
    """Create a tracker of the named backend.

    Raises:
        MlvcError: The backend is unknown, or it cannot be imported or started.
    """
    target = BACKENDS.get(backend)
    if target is None:
        known = ", ".join(sorted(BACKENDS))
        raise MlvcError(
            f"Unknown tracking backend '{backend}'. Known backends: {known}.",
            hint="Set tracking-backend to one of them in .mlvc.toml or [tool.mlvc] of "
            "pyproject.toml (MLflow, TensorBoard and W&B bridges come in a later release).",
        )
    factory = _load(backend, target)
    tracker: Tracker = factory(path=path, experiment_id=experiment_id, run_id=run_id)
    return tracker


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
