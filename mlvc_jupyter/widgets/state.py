"""The panels' state: ``traitlets.HasTraits`` models, no ipywidgets.

A view observes these traits and a controller sets them; a test reads them. Errors are state
too (``error``): a failed action shows in the panel instead of being printed or raised into a
comm handler, where nobody would see it.
"""

from __future__ import annotations

from traitlets import Any, Bool, Bytes, Dict, HasTraits, Int, List, Unicode

__all__ = ["CompareState", "HistoryState", "LiveState", "StatusState"]


class StatusState(HasTraits):
    """What the status panel shows."""

    branch = Unicode("")
    head = Unicode("")
    """HEAD as short hash and subject."""
    dirty = Int(0)
    untracked = Int(0)
    files = List(Unicode())
    """Every changed path, as ``<kind>: <path>``."""
    active = Unicode("")
    last_checkpoint = Unicode("")
    notebook = Unicode("")
    """The notebook's own state: unsaved runs, out-of-order execution."""
    auto_refresh = Bool(False)
    refreshes = Int(0)
    error = Unicode("")


class HistoryState(HasTraits):
    """The history panel: the query (filter, sort, page) and the page it returned."""

    search = Unicode("")
    status = Unicode("")
    """"" for every status."""
    tag = Unicode("")
    """Only experiments carrying this tag ("" for all)."""
    sort = Unicode("-created")
    page = Int(0)
    page_size = Int(50)
    columns = List(Unicode())
    rows: List[dict] = List()
    """One dict per visible experiment: column → value."""
    total = Int(0)
    selected = List(Unicode())
    message = Unicode("")
    """The outcome of the last action (a tag made, a cell inserted)."""
    error = Unicode("")


class CompareState(HasTraits):
    """The compare panel: the core comparison record."""

    ids = List(Unicode())
    comparison = Any(None)
    error = Unicode("")


class LiveState(HasTraits):
    """The live panel: the curves drawn last, and the experiment's recording facts."""

    experiment = Unicode("")
    curves = Dict()
    points = Int(0)
    checkpoints = Int(0)
    last_checkpoint = Unicode("")
    queue_depth = Int(0)
    png = Bytes(b"")
    redraws = Int(0)
    error = Unicode("")
