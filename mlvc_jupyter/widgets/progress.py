"""A notebook progress bar drawn from core's plain ``on_progress(done, total)`` callbacks.

Core reports long work through a callback and never imports widgets; this face turns the
reports into an ``ipywidgets.IntProgress`` shown while the work runs and closed after it. Only
a notebook kernel with ipywidgets gets a bar, and only for work of at least ``minimum`` items,
so quick work does not flash one.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

from mlvc_jupyter.widgets.base import has_widgets

__all__ = ["LISTING_MINIMUM", "ProgressBar", "TextProgress"]

LISTING_MINIMUM = 1000
"""Listings of fewer experiments show no bar: they take a few milliseconds."""


class ProgressBar:
    """A callable ``(done, total)`` that shows and moves an IntProgress; a context manager."""

    def __init__(
        self,
        description: str,
        *,
        minimum: int = 0,
        show: bool | None = None,
        display: Callable[[Any], Any] | None = None,
    ) -> None:
        """``show`` None means: in a notebook kernel with ipywidgets; ``display`` defaults to
        IPython's."""
        self.description, self.minimum = description, minimum
        self.show = _in_notebook() if show is None else show
        self._display = display
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if not self.show or total < self.minimum:
                return
            self.bar = self._make(total)
        self.bar.max, self.bar.value = max(total, 1), done

    def _make(self, total: int) -> Any:
        import ipywidgets as w

        bar = w.IntProgress(value=0, min=0, max=max(total, 1), description=self.description)
        if self._display is None:
            from IPython.display import display

            display(bar)
        else:
            self._display(bar)
        return bar

    def close(self) -> None:
        """Take the bar away (the work is over)."""
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return getattr(get_ipython(), "kernel", None) is not None and has_widgets()


class TextProgress:
    """The text fallback of :class:`ProgressBar`: ``description: 45% (9/20)`` on one line.

    For terminals, the CLI and notebooks where widgets cannot render: the line is rewritten in
    place with ``\\r``, only when the percentage changes, and ended by :meth:`close`. A
    context manager too. ``stream`` defaults to stderr.
    """

    def __init__(self, description: str, stream: TextIO | None = None) -> None:
        self.description, self.stream = description, stream
        self._last: int | None = None

    def __call__(self, done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        if percent == self._last:
            return
        self._last = percent
        self._write(f"\r{self.description}: {percent:3d}% ({done}/{total})")

    def _write(self, text: str) -> None:
        stream = self.stream or sys.stderr
        stream.write(text)
        stream.flush()

    def close(self) -> None:
        """End the line (the work is over), if one was written."""
        if self._last is not None:
            self._write("\n")

    def __enter__(self) -> TextProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
