"""The ``%vc_*`` magics: mlvc from a notebook, loaded with ``%load_ext mlvc_jupyter``.

One module per family, each a ``Magics`` class: :mod:`~.experiments` (:class:`VCMagics`: init,
status, start, commit, end, log, show, diff, tag, branch, snapshot, restore), :mod:`~.reproduce`,
:mod:`~.undo`, :mod:`~.sharing` (push, pull, share) and :mod:`~.housekeeping` (rm, gc). The
families share the manager, kernel session and display of :class:`VCMagics`
(:class:`~.lines.MagicFamily`). :mod:`~.lines` turns a line into arguments and an error into
``UsageError``.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from mlvc_jupyter.errors import MlvcError
from mlvc_jupyter.magics.experiments import VCMagics

__all__ = ["VCMagics", "load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics (``%load_ext mlvc_jupyter``)."""
    from mlvc_jupyter.magics.housekeeping import HousekeepingMagics
    from mlvc_jupyter.magics.reproduce import ReproduceMagics
    from mlvc_jupyter.magics.sharing import SharingMagics
    from mlvc_jupyter.magics.undo import UndoMagics

    main = VCMagics(ipython)
    ipython.register_magics(main)
    for family in (SharingMagics, HousekeepingMagics, ReproduceMagics, UndoMagics):
        ipython.register_magics(family(ipython, main))


def unload_ipython_extension(ipython: Any) -> None:
    """Wait for queued background checkpoints (``%unload_ext mlvc_jupyter``)."""
    from mlvc_jupyter.core.recording.worker import wait_all

    try:
        wait_all()
    except MlvcError as exc:
        raise UsageError(str(exc)) from None
