"""The core must not load the Jupyter stack, and the package import must stay cheap."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORBIDDEN_IN_CORE = ("IPython", "ipywidgets", "ipykernel", "jupyter_server", "tornado")


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    return {name.split(".")[0] for name in json.loads(out.stdout)}


@pytest.mark.parametrize(
    "statement",
    [
        "import mlvc_jupyter.core.manager",
        "import mlvc_jupyter.core.snapshot, mlvc_jupyter.core.listing, mlvc_jupyter.core.reproduce",
        "import mlvc_jupyter.api",
    ],
    ids=["manager", "modules", "api"],
)
def test_core_imports_no_jupyter_ui(statement: str) -> None:
    assert _loaded_after(statement).isdisjoint(FORBIDDEN_IN_CORE)


def test_package_import_defers_heavy_modules() -> None:
    loaded = _loaded_after("import mlvc_jupyter")
    assert loaded.isdisjoint({"git", "nbformat", "IPython", "ipywidgets", "jupyter_server"})
