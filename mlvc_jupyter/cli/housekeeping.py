"""``mlvc rm`` and ``mlvc gc`` (retention), and the list/delete/bump forms of ``mlvc tag``.

gc prints its plan before it acts: ``--dry-run`` stops there; on a terminal it asks before
removing anything unless ``--yes``. git's progress shows on stderr while ``git gc`` runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from mlvc_jupyter import blocks, render

if TYPE_CHECKING:
    from mlvc_jupyter.core.manager import ExperimentManager

__all__ = ["add_gc", "add_rm", "cmd_gc", "cmd_rm", "tag_action"]


def add_rm(subparsers: Any) -> None:
    """Register ``mlvc rm``."""
    from mlvc_jupyter.cli.parser import _command  # the shared helper; parser imports us

    p = _command(
        subparsers, "rm", cmd_rm,
        "Remove experiments (kept in the trash for 14 days; --undo brings them back).",
        examples="  mlvc rm lr-0.1 lr-0.2\n  mlvc rm --undo lr-0.1",
        details="The experiment's ref moves to refs/mlvc/trash/experiments/<id>/<time>; "
        "listings no longer show it. `mlvc rm --undo ID` restores the newest removal of ID. "
        "`mlvc gc` expires the trash after 14 days, then git can prune the checkpoints.",
    )  # fmt: skip
    p.add_argument("experiment_ids", nargs="+", metavar="EXP_ID", help="experiments")
    p.add_argument("--undo", action="store_true", help="restore them from the trash")


def add_gc(subparsers: Any) -> None:
    """Register ``mlvc gc``."""
    from mlvc_jupyter.cli.parser import _command

    p = _command(
        subparsers, "gc", cmd_gc,
        "Remove experiments by policy, then pack and prune the repository.",
        examples="  mlvc gc --failed --dry-run\n  mlvc gc --older-than 30 --keep 10 --yes\n"
        "  mlvc gc --keep 100 --branches --tags\n  mlvc gc   # only pack, prune, expire trash",
        details="--older-than and --failed pick experiments (both given: both must hold); "
        "--keep N protects the N newest (alone, it picks all others). Experiments a tag or "
        "branch names stay unless --include-tagged; --branches and --tags remove mlvc's own "
        "mlvc/<id> branches and experiment tags of picked (or already removed) experiments. "
        "Removed experiments go to the trash (`mlvc rm --undo`); then mlvc's reflogs are "
        "expired and `git gc` runs. --now empties the trash and prunes at once: use it only "
        "while nothing else writes to the repository.",
    )  # fmt: skip
    p.add_argument("--older-than", type=float, metavar="DAYS", help="last checkpoint older")
    p.add_argument("--keep", type=int, metavar="N", help="always keep the N newest")
    p.add_argument("--failed", action="store_true", help="failed experiments")
    p.add_argument("--include-tagged", action="store_true", help="tagged/branched ones too")
    p.add_argument("--branches", action="store_true", help="remove mlvc's own branches too")
    p.add_argument("--tags", action="store_true", help="remove mlvc's own tags too")
    p.add_argument("--now", action="store_true", help="empty the trash and prune now")
    p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask before removing")
    p.add_argument("--json", action="store_true", help="print the plan/result as JSON")


def _manager(args: argparse.Namespace) -> ExperimentManager:
    from mlvc_jupyter.cli.commands import _manager as open_manager  # one way to open it

    return open_manager(args)


def cmd_rm(args: argparse.Namespace) -> int:
    manager = _manager(args)
    if args.undo:
        for back in manager.undo_rm(args.experiment_ids):
            print(f"Restored {back.experiment_id} ({back.commit[:8]}) from {back.trash_ref}.")
        return 0
    for removal in manager.rm(args.experiment_ids):
        print(f"Removed {removal.experiment_id}; kept as {removal.trash_ref}.")
    ids = " ".join(args.experiment_ids)
    print(f"Undo with `mlvc rm --undo {ids}` (until `mlvc gc` expires the trash, 14 days).")
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    from mlvc_jupyter.core.housekeeping.gc import GcPolicy

    manager = _manager(args)
    policy = GcPolicy(
        older_than=args.older_than, keep=args.keep, failed=args.failed,
        include_tagged=args.include_tagged, branches=args.branches, tags=args.tags, now=args.now,
    )  # fmt: skip
    plan = manager.gc_plan(policy)
    if args.json and args.dry_run:
        print(json.dumps(plan.to_dict(), indent=2))
        return 0
    print(render.as_text(blocks.gc_blocks(plan)))
    if args.dry_run:
        print("Dry run: nothing was changed.")
        return 0
    if not plan.is_empty and not args.yes and sys.stdin.isatty() and not _confirm():
        print("Nothing was changed.")
        return 1
    from mlvc_jupyter.widgets.progress import TextProgress

    with TextProgress("git gc", sys.stderr) as progress:
        shown = progress if sys.stderr.isatty() else None
        result = manager.gc(plan, now=args.now, on_progress=shown)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(render.as_text(blocks.gc_blocks(plan, result)))
    return 0


def _confirm() -> bool:
    try:
        return input("Go ahead? [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def tag_action(manager: ExperimentManager, args: argparse.Namespace) -> int:
    """Run ``mlvc tag`` in its list, delete, bump or plain form."""
    if args.list:
        tags = manager.tags(args.experiment_id)
        if args.json:
            print(json.dumps([t.to_dict() for t in tags], indent=2))
        else:
            print(render.as_text(blocks.tags_blocks(tags)))
        return 0
    if args.delete:
        kept = manager.delete_tag(args.delete)
        print(f"Deleted tag '{args.delete}'; kept as {kept} until `mlvc gc` expires it.")
        print(f"Undo with `git update-ref refs/tags/{args.delete} {kept}`.")
        return 0
    if not args.experiment_id or bool(args.tag) == bool(args.bump):
        args.usage.print_usage(sys.stderr)
        print(
            "mlvc tag: error: give an experiment and either a tag name or --bump (e.g. `mlvc "
            "tag lr-0.1 best`, `mlvc tag lr-0.1 --bump patch`), or --list, or --delete TAG.",
            file=sys.stderr,
        )
        return 2  # a usage error, as argparse reports its own
    if args.bump:
        name = manager.bump_tag(args.experiment_id, args.bump, prefix=args.prefix)
    else:
        name = manager.tag(args.experiment_id, args.tag, force=args.force)
    print(f"Tagged the last checkpoint of {args.experiment_id} as '{name}'.")
    return 0
