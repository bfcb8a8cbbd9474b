"""Metric curves as matplotlib figures: the compare and live panels' plots, ``%vc_show``'s image.

matplotlib is optional (the ``jupyter`` extra) and imported on first use; figures are made with
``matplotlib.figure.Figure`` directly, never pyplot, so no GUI backend or global figure list is
involved and a figure can be drawn on any thread.
"""

from __future__ import annotations

import base64
import importlib.util
import io
from collections.abc import Mapping
from typing import Any

from mlvc_jupyter.core.records import Curves

__all__ = ["MAX_PLOTS", "curves_figure", "figure_png", "has_matplotlib", "png_html"]

MAX_PLOTS = 6
"""Metrics plotted per figure (in name order); the rest are named in the text views."""
_COLUMNS = 3


def has_matplotlib() -> bool:
    """Return True when matplotlib can be imported."""
    return importlib.util.find_spec("matplotlib") is not None


def curves_figure(runs: Mapping[str, Curves]) -> Any:
    """Return a figure with one plot per metric, each run a line (None: nothing to plot).

    ``runs`` maps a run's label (an experiment id) to its curves.
    """
    names = sorted({name for curves in runs.values() for name, points in curves.items() if points})
    if not names:
        return None
    from matplotlib.figure import Figure

    shown = names[:MAX_PLOTS]
    columns = min(len(shown), _COLUMNS)
    rows = -(-len(shown) // columns)
    figure = Figure(figsize=(4 * columns, 2.8 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).flat
    for ax, name in zip(axes, shown, strict=False):
        for label, curves in runs.items():
            points = curves.get(name) or []
            if points:
                ax.plot([x for x, _ in points], [y for _, y in points], label=label)
        ax.set_title(name)
        ax.set_xlabel("step")
        if len(runs) > 1:
            ax.legend(fontsize="small")
    for ax in list(axes):  # the grid's unused cells
        ax.set_visible(False)
    return figure


def figure_png(figure: Any) -> bytes:
    """Return the figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def png_html(runs: Mapping[str, Curves]) -> str:
    """Return an ``<img>`` of the runs' curves inlined as PNG, or "" (no points, no matplotlib)."""
    if not has_matplotlib():
        return ""
    figure = curves_figure(runs)
    if figure is None:
        return ""
    data = base64.b64encode(figure_png(figure)).decode("ascii")
    return f'<img class="mlvc-curves" alt="metric curves" src="data:image/png;base64,{data}"/>'
