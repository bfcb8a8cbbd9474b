"""ipywidgets panels over core: status, history, compare and a live run.

Each panel keeps its state in a ``traitlets.HasTraits`` model (no ipywidgets import), so a test
or a script can drive it without a browser; the ipywidgets view is built the first time the
panel is displayed, importing ipywidgets only then. Where widgets cannot render (terminal
IPython, nbconvert, a frontend without the widget manager), a panel shows the same HTML or text
as the ``%vc_*`` magics' static views.

The panel classes are imported on first access, so ``import mlvc_jupyter.widgets`` is cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ComparePanel", "HistoryPanel", "LivePanel", "StatusPanel"]

_MODULES = {
    "ComparePanel": "mlvc_jupyter.widgets.compare",
    "HistoryPanel": "mlvc_jupyter.widgets.history",
    "LivePanel": "mlvc_jupyter.widgets.live",
    "StatusPanel": "mlvc_jupyter.widgets.status",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'mlvc_jupyter.widgets' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
