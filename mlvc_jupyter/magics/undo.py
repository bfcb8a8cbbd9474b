"""``%vc_reproduce EXP_ID --inplace`` and ``%vc_undo``, which undoes it, from a notebook.

``%vc_undo`` is a family of its own, registered beside :class:`~mlvc_jupyter.magics.VCMagics`
and sharing its kernel session (the same manager, the same way of showing outcomes);
:func:`restore_inplace` is what ``%vc_reproduce`` does with ``--inplace``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from mlvc_jupyter import display
from mlvc_jupyter.core.reproduction.inplace import refuse_combined
from mlvc_jupyter.magics.lines import MagicFamily, parse, reports_errors

if TYPE_CHECKING:
    from mlvc_jupyter.magics import VCMagics

__all__ = ["UndoMagics", "restore_inplace"]


def restore_inplace(main: VCMagics, args: Any) -> None:
    """Restore ``args.experiment_id`` into the working tree and show how to undo it."""
    refuse_combined(args)
    restored = main.manager.reproduce_inplace(args.experiment_id, checkpoint=args.checkpoint)
    main._show(display.Notice(restored.describe(), restored.safety_ref))


@magics_class
class UndoMagics(MagicFamily):
    """``%vc_undo``: put back what the last in-place restore changed."""

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument(
        "--force",
        action="store_true",
        help="undo even over files edited since the restore, after saving them in a safety ref",
    )
    def vc_undo(self, line: str) -> None:
        """Undo the last `%vc_reproduce --inplace`: every file comes back byte for byte."""
        args = parse(self.vc_undo, line)
        undone = self.main.manager.undo(force=args.force)
        self.main._show(display.Notice(undone.describe(), undone.safety_ref))
