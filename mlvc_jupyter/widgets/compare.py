"""The compare panel: two or more experiments side by side (``%vc_diff A B [C...]``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from mlvc_jupyter.blocks import comparison_blocks
from mlvc_jupyter.errors import MlvcError
from mlvc_jupyter.render import Block
from mlvc_jupyter.widgets.base import Panel, open_manager
from mlvc_jupyter.widgets.plots import curves_figure, has_matplotlib
from mlvc_jupyter.widgets.state import CompareState

__all__ = ["ComparePanel"]


class ComparePanel(Panel):
    """Params diff (dotted keys), metric deltas against the first, curves, files, notebooks.

    The core :class:`~mlvc_jupyter.core.records.ExperimentComparison` is ``state.comparison``;
    ``figure`` is the matplotlib figure of the runs' curves (None without points or matplotlib).
    """

    def __init__(self, path: str | os.PathLike[str], ids: Sequence[str]) -> None:
        super().__init__()
        self.manager = open_manager(path)
        self.state = CompareState(ids=list(ids))
        self._figure: Any = None
        try:
            self.state.comparison = self.manager.compare(list(ids))
        except MlvcError as exc:
            self.state.error = str(exc)

    def params_diff(self) -> dict[str, list[Any]]:
        """Return the dotted keys whose values differ → one value per experiment."""
        comparison = self.state.comparison
        return comparison.params_diff() if comparison is not None else {}

    def metrics_table(self) -> list[dict[str, Any]]:
        """Return ``{"metric", "values", "deltas"}`` per metric (deltas against the first)."""
        comparison = self.state.comparison
        return comparison.metrics_table() if comparison is not None else []

    @property
    def figure(self) -> Any:
        """Return the matplotlib figure of every run's metric curves (made on first use)."""
        comparison = self.state.comparison
        if self._figure is None and comparison is not None and has_matplotlib():
            runs = dict(zip(comparison.ids, comparison.curves, strict=True))
            self._figure = curves_figure(runs)
        return self._figure

    def _build(self) -> Any:
        from mlvc_jupyter.widgets.views import CompareView

        return CompareView(self)

    def blocks(self) -> list[Block]:
        """Return the ``%vc_diff`` tables of the comparison (or its error)."""
        comparison = self.state.comparison
        return comparison_blocks(comparison) if comparison is not None else [self.state.error]
