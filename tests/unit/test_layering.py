"""The core must not load the Jupyter stack, and the package import must stay cheap."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import mlvc_jupyter.core

FORBIDDEN_IN_CORE = ("IPython", "ipywidgets", "ipykernel", "jupyter_server", "tornado")


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    return {name.split(".")[0] for name in json.loads(out.stdout)}


def _core_modules() -> list[str]:
    walk = pkgutil.walk_packages(mlvc_jupyter.core.__path__, prefix="mlvc_jupyter.core.")
    return sorted(info.name for info in walk)


def test_every_core_module_is_checked() -> None:
    """The walk finds the subpackages' modules, so a new module cannot slip past the check."""
    modules = _core_modules()
    assert "mlvc_jupyter.core.recording.tree" in modules
    assert "mlvc_jupyter.core.tracking.local" in modules
    assert len(modules) >= 30


def test_no_core_module_imports_the_jupyter_ui() -> None:
    """Every module under core/, imported in one fresh interpreter, loads none of the UI stack."""
    statement = "; ".join(f"import {name}" for name in _core_modules())
    assert _loaded_after(statement).isdisjoint(FORBIDDEN_IN_CORE)


def test_api_imports_no_jupyter_ui() -> None:
    assert _loaded_after("import mlvc_jupyter.api").isdisjoint(FORBIDDEN_IN_CORE)


def test_package_import_defers_heavy_modules() -> None:
    loaded = _loaded_after("import mlvc_jupyter")
    assert loaded.isdisjoint({"git", "nbformat", "IPython", "ipywidgets", "jupyter_server"})
