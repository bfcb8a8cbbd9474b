"""mlvc-jupyter: git-backed version control for machine-learning experiments, from Jupyter.

The public API is importable from here; its modules load on first use, so ``import
mlvc_jupyter`` (and ``%load_ext mlvc_jupyter``) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DirtyWorkingTreeError",
    "ExperimentExistsError",
    "ExperimentManager",
    "ExperimentNotFoundError",
    "ExperimentVersionControl",
    "GitOperationError",
    "GitStatus",
    "IntegratedVersionControl",
    "InvalidNameError",
    "MlvcError",
    "NotARepositoryError",
    "SecretFoundError",
    "VersionControlManager",
    "__version__",
    "integrated_experiment_context",
]

_LAZY = {
    "ExperimentVersionControl": "mlvc_jupyter.api",
    "IntegratedVersionControl": "mlvc_jupyter.api",
    "VersionControlManager": "mlvc_jupyter.api",
    "integrated_experiment_context": "mlvc_jupyter.api",
    "ExperimentManager": "mlvc_jupyter.core.manager",
    "GitStatus": "mlvc_jupyter.core.records",
    "ConfigError": "mlvc_jupyter.errors",
    "DirtyWorkingTreeError": "mlvc_jupyter.errors",
    "ExperimentExistsError": "mlvc_jupyter.errors",
    "ExperimentNotFoundError": "mlvc_jupyter.errors",
    "GitOperationError": "mlvc_jupyter.errors",
    "InvalidNameError": "mlvc_jupyter.errors",
    "MlvcError": "mlvc_jupyter.errors",
    "NotARepositoryError": "mlvc_jupyter.errors",
    "SecretFoundError": "mlvc_jupyter.errors",
}

if TYPE_CHECKING:
    from mlvc_jupyter.api import (
        ExperimentVersionControl,
        IntegratedVersionControl,
        VersionControlManager,
        integrated_experiment_context,
    )
    from mlvc_jupyter.core.manager import ExperimentManager
    from mlvc_jupyter.core.records import GitStatus
    from mlvc_jupyter.errors import (
        ConfigError,
        DirtyWorkingTreeError,
        ExperimentExistsError,
        ExperimentNotFoundError,
        GitOperationError,
        InvalidNameError,
        MlvcError,
        NotARepositoryError,
        SecretFoundError,
    )


def load_ipython_extension(ipython: Any) -> None:
    """Register the ``%vc_*`` magics (``%load_ext mlvc_jupyter``)."""
    from mlvc_jupyter.magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Wait for pending background checkpoints (``%unload_ext mlvc_jupyter``)."""
    from mlvc_jupyter.magics import unload_ipython_extension as unload

    unload(ipython)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Name the jupyter_server extension (the REST API of the sidebar)."""
    return [{"module": "mlvc_jupyter.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Name the prebuilt JupyterLab extension shipped in the package (built from labextension/)."""
    return [{"src": "labextension", "dest": "mlvc-jupyter"}]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mlvc_jupyter' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
