"""``mlvc push``, ``mlvc pull`` and ``mlvc share``: experiments through git remotes.

Each handler makes one call to the manager and prints the report
(:mod:`mlvc_jupyter.sharing_views`); progress goes to stderr when it is a terminal. A push
with rejected experiments, or a pull with diverged ones, exits 0: nothing failed and nothing
was overwritten, and the report says what to do; ``--json`` prints the report's ``to_dict()``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any

from mlvc_jupyter import render
from mlvc_jupyter.cli.commands import _manager
from mlvc_jupyter.sharing_views import share_blocks, transfer_blocks
from mlvc_jupyter.widgets.progress import TextProgress

__all__ = ["add_pull", "add_push", "add_share", "cmd_pull", "cmd_push", "cmd_share"]


def _command(subparsers: Any, *args: Any, **kwargs: Any) -> argparse.ArgumentParser:
    """Add a subcommand the way every ``mlvc`` verb is added (its help layout, ``-v``)."""
    from mlvc_jupyter.cli.parser import _command as add  # parser imports this module

    parser: argparse.ArgumentParser = add(subparsers, *args, **kwargs)
    return parser


def _remote(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "remote", nargs="?", metavar="REMOTE",
        help="a remote's name from `git remote -v` (default: origin, or the only remote)",
    )  # fmt: skip


def add_push(subparsers: Any) -> None:
    """Add ``mlvc push``."""
    p = _command(
        subparsers, "push", cmd_push,
        "Push experiments and their tags to a remote.",
        examples="  mlvc push\n  mlvc push origin lr-0.1 lr-0.01\n  mlvc push origin --json",
        details="Sends refs/mlvc/experiments/<id> (all, or the ones named) and the tags mlvc "
        "made for them, with explicit refspecs: no other ref moves. An experiment the remote "
        "has newer checkpoints of is rejected, never overwritten: run `mlvc pull` first. Only "
        "https, ssh (user@host:path), git and file URLs and local paths are used; git never "
        "prompts for a password (set up a credential helper or an ssh key).",
    )  # fmt: skip
    _remote(p)
    p.add_argument("ids", nargs="*", metavar="EXP_ID", help="only these (default: all)")
    p.add_argument(
        "--force", action="store_true",
        help="replace the remote's experiment, but only if it still is what this clone last "
        "saw there (a lease: --force-with-lease)",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def add_pull(subparsers: Any) -> None:
    """Add ``mlvc pull``."""
    p = _command(
        subparsers, "pull", cmd_pull,
        "Fetch a remote's experiments and tags; adopt new and fast-forward ones.",
        examples="  mlvc pull\n  mlvc pull origin\n  mlvc log --all\n"
        "  mlvc diff e1 origin/e1",
        details="Fetches with git's object checks on into refs/mlvc/remotes/<remote>/"
        "experiments/<id>. An experiment new here, or whose remote checkpoints extend yours, "
        "moves; one both sides recorded (diverged) keeps yours, and the remote's reads as "
        "<remote>/<id> in show, diff, log --all and every command that takes an id. A tag is "
        "created only where no tag of that name exists.",
    )  # fmt: skip
    _remote(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def add_share(subparsers: Any) -> None:
    """Add ``mlvc share``."""
    p = _command(
        subparsers, "share", cmd_share,
        "Make plain `git fetch`/`git push` of a remote carry experiments (opt-in).",
        examples="  mlvc share --enable\n  mlvc share origin --disable",
        details="--enable adds a fetch refspec (+refs/mlvc/experiments/*:refs/mlvc/remotes/"
        "<remote>/experiments/*) and a push refspec (refs/mlvc/experiments/*) to "
        "remote.<name>.fetch/push; when the remote had no push refspec, HEAD is added too so "
        "`git push` still pushes your branch. --disable removes exactly those lines.",
    )  # fmt: skip
    _remote(p)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--enable", action="store_true", help="add the refspecs")
    group.add_argument("--disable", action="store_true", help="remove the lines --enable added")


def _progress(description: str) -> Any:
    """Return text progress on a terminal's stderr, else nothing (a script's log stays clean)."""
    return TextProgress(description) if sys.stderr.isatty() else contextlib.nullcontext()


def cmd_push(args: argparse.Namespace) -> int:
    with _progress(f"pushing to {args.remote or 'origin'}") as progress:
        report = _manager(args).push(args.remote, args.ids, force=args.force, on_progress=progress)
    _print(report, args.json, transfer_blocks)
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    with _progress(f"pulling from {args.remote or 'origin'}") as progress:
        report = _manager(args).pull(args.remote, on_progress=progress)
    _print(report, args.json, transfer_blocks)
    return 0


def cmd_share(args: argparse.Namespace) -> int:
    config = _manager(args).share(args.remote, enable=not args.disable)
    _print(config, False, share_blocks)
    return 0


def _print(record: Any, as_json: bool, blocks: Any) -> None:
    if as_json:
        print(json.dumps(record.to_dict(), indent=2))
    else:
        print(render.as_text(blocks(record)))
