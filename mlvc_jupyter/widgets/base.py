"""What every panel shares: a view built on first display, and the static fallback.

A panel's ``_repr_mimebundle_`` offers the widget *and* the HTML and text that the ``%vc_*``
magics' static views show: JupyterLab with the widget manager renders the widget, a frontend
without it (or nbconvert) the HTML, terminal IPython the text. Without ipywidgets, only the
fallback is offered.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from mlvc_jupyter.render import Block, as_html, as_text

__all__ = ["WIDGET_MIME", "Panel", "has_widgets", "open_manager"]

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def has_widgets() -> bool:
    """Return True when ipywidgets can be imported (a panel can build its view)."""
    try:
        return importlib.util.find_spec("ipywidgets") is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules: unavailable
        return False


def open_manager(path: str | os.PathLike[str]) -> Any:
    """Return the process's manager of the repository holding ``path`` (the kernel's own)."""
    from mlvc_jupyter.kernel import open_manager as shared

    return shared(path)


class Panel:
    """A state model plus a view built the first time :attr:`widget` is read."""

    def __init__(self) -> None:
        self._widget: Any = None

    @property
    def widget(self) -> Any:
        """Return the panel's ipywidgets view (built, and ipywidgets imported, on first use)."""
        if self._widget is None:
            self._widget = self._build()
        return self._widget

    def _build(self) -> Any:
        raise NotImplementedError

    def blocks(self) -> list[Block]:
        """Return the static rendering: what shows where widgets cannot."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return as_text(self.blocks()) or f"<{type(self).__name__}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self) if not cycle else f"<{type(self).__name__}>")

    def _repr_html_(self) -> str:
        return as_html(self.blocks())

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        blocks = self.blocks()
        bundle: dict[str, Any] = {"text/plain": as_text(blocks), "text/html": as_html(blocks)}
        if has_widgets():
            view = self.widget._repr_mimebundle_() or {}
            if WIDGET_MIME in view:
                bundle[WIDGET_MIME] = view[WIDGET_MIME]
        return bundle
