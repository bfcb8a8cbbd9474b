"""``%vc_rm`` and ``%vc_gc``: remove experiments (with undo) and collect garbage by policy.

Registered by :func:`mlvc_jupyter.magics.load_ipython_extension` next to :class:`VCMagics`,
whose manager and display they share. ``%vc_gc`` shows its plan first; ``--dry-run`` stops
there. git's progress shows as a widget bar, or as a line of text where widgets cannot render.
"""

from __future__ import annotations

import sys

from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from mlvc_jupyter import display
from mlvc_jupyter.magics.lines import MagicFamily, parse, reports_errors

__all__ = ["HousekeepingMagics"]


@magics_class
class HousekeepingMagics(MagicFamily):
    """Retention: ``%vc_rm`` and ``%vc_gc``."""

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("experiment_ids", nargs="+", metavar="EXP_ID", help="experiments to remove")
    @argument("--undo", action="store_true", help="restore them from the trash instead")
    def vc_rm(self, line: str) -> None:
        """Remove experiments (kept in the trash for 14 days; --undo brings them back)."""
        args = parse(self.vc_rm, line)
        manager = self.main.manager
        if args.undo:
            back = manager.undo_rm(args.experiment_ids)
            text = "; ".join(f"restored {b.experiment_id} from {b.trash_ref}" for b in back)
            self.main._show(display.Notice(text[0].upper() + text[1:] + ".", back))
            return
        removed = manager.rm(args.experiment_ids)
        ids = " ".join(args.experiment_ids)
        self.main._show(display.Notice(
            f"Removed {ids} (kept in the trash: {', '.join(r.trash_ref for r in removed)}). "
            f"Undo with `%vc_rm --undo {ids}` until `%vc_gc` expires the trash (14 days).",
            removed,
        ))  # fmt: skip

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("--older-than", type=float, metavar="DAYS", help="last checkpoint older")
    @argument("--keep", type=int, metavar="N", help="always keep the N newest")
    @argument("--failed", action="store_true", help="failed experiments")
    @argument("--include-tagged", action="store_true", help="tagged/branched ones too")
    @argument("--branches", action="store_true", help="remove mlvc's own branches too")
    @argument("--tags", action="store_true", help="remove mlvc's own tags too")
    @argument("--now", action="store_true", help="empty the trash and prune now")
    @argument("--dry-run", action="store_true", help="show the plan, change nothing")
    def vc_gc(self, line: str) -> None:
        """Remove experiments by policy (plan shown first), then pack and prune the repository."""
        args = parse(self.vc_gc, line)
        from mlvc_jupyter.core.housekeeping.gc import GcPolicy
        from mlvc_jupyter.widgets.progress import ProgressBar, TextProgress

        manager = self.main.manager
        policy = GcPolicy(
            older_than=args.older_than, keep=args.keep, failed=args.failed,
            include_tagged=args.include_tagged, branches=args.branches, tags=args.tags,
            now=args.now,
        )  # fmt: skip
        plan = manager.gc_plan(policy)
        self.main._show(display.GcView(plan))
        if args.dry_run:
            return
        bar = ProgressBar("git gc")
        with bar if bar.show else TextProgress("git gc", sys.stdout) as progress:
            result = manager.gc(plan, now=args.now, on_progress=progress)
        self.main._show(display.GcView(result))
