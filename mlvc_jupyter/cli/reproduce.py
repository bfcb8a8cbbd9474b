"""``mlvc reproduce``: materialise an experiment, report drift, and with ``--run`` re-run it.

The exit status lets CI gate on a reproduction: 0 when reproduced (or only materialised), 1
when not reproduced (and on errors, as every verb), 2 when the re-run could not run.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any

from mlvc_jupyter.cli.undo_export import run_inplace
from mlvc_jupyter.core.reproduction.options import REPRODUCE_OPTIONS, options_from

__all__ = ["add_reproduce", "cmd_reproduce"]


def add_reproduce(subparsers: Any, command: Any) -> None:
    """Add ``mlvc reproduce`` through the parser module's ``command`` helper."""
    p = command(
        subparsers, "reproduce", cmd_reproduce,
        "Check an experiment out in a git worktree, report drift and (--run) re-run it.",
        examples="  mlvc reproduce lr-0.1   # into reproductions/lr-0.1\n"
        "  mlvc reproduce lr-0.1 --run --tolerance loss=1e-3   # exit 0/1/2: CI can gate\n"
        "  mlvc reproduce lr-0.1 --checkpoint 2 --dir ../lr-0.1",
        details="The worktree is detached at the experiment's checkpoint; your HEAD, index and "
        "working files are untouched, and reproductions/ is listed in .git/info/exclude. The "
        "drift report compares Python, platform, packages and data files with the record. "
        "--run executes the recorded notebook in a fresh kernel (or the --entry command given "
        "at start) with the recorded seed, records it as <id>-repro<N> and compares every final "
        "metric. Exit status: 0 reproduced, 1 not reproduced, 2 could not run.",
    )  # fmt: skip
    p.add_argument("experiment_id", metavar="EXP_ID", help="the experiment's id")
    for flags, options in REPRODUCE_OPTIONS:
        p.add_argument(*flags, **options)
    p.add_argument("--json", action="store_true", help="print the result (and verdict) as JSON")


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Reproduce, print the drift report and verdict, and return the verdict's exit status."""
    from mlvc_jupyter.blocks import reproduction_blocks
    from mlvc_jupyter.cli.commands import _manager, _path, _print_json
    from mlvc_jupyter.render import as_text

    if args.inplace:
        return run_inplace(args)
    options = options_from(args)
    if options.dir is not None:  # taken from -C, as every path the CLI is given
        options = replace(options, dir=str(_path(args, options.dir)))
    manager = _manager(args)
    result = manager.reproduction(args.experiment_id, options, on_run_progress=_cell_progress)
    if args.json:
        _print_json(result.to_dict())
    else:
        print(as_text(reproduction_blocks(result)))
    return result.verdict.exit_code if result.verdict is not None else 0


def _cell_progress(done: int, total: int) -> None:
    """Say on stderr which cell of the re-run's notebook finished (cell n of m)."""
    if done:
        print(f"cell {done} of {total}", file=sys.stderr, flush=True)
