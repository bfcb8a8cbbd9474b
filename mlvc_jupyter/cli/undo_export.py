"""``mlvc reproduce --inplace`` (its handler), ``mlvc undo`` and ``mlvc export``.

Registered in :mod:`mlvc_jupyter.cli.parser`'s command list; each handler makes one core call
and prints the record's own description (``--json``: ``record.to_dict()``).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_export", "add_undo", "cmd_export", "cmd_undo", "run_inplace"]


def run_inplace(args: argparse.Namespace) -> int:
    """Handle ``mlvc reproduce EXP_ID --inplace``."""
    from mlvc_jupyter.cli.commands import _manager
    from mlvc_jupyter.core.reproduction.inplace import refuse_combined

    refuse_combined(args)
    restored = _manager(args).reproduce_inplace(args.experiment_id, checkpoint=args.checkpoint)
    print(restored.describe())
    return 0


def add_undo(subparsers: Any) -> None:
    """Add ``mlvc undo``."""
    from mlvc_jupyter.cli import parser

    p = parser._command(
        subparsers, "undo", cmd_undo,
        "Undo the last `mlvc reproduce --inplace`, byte for byte.",
        examples="  mlvc reproduce lr-0.1 --inplace && mlvc undo\n"
        "  mlvc undo --force   # even over files edited since (saved in a safety ref first)",
        details="Every file the restore wrote or removed comes back as it was, files it "
        "created are removed. Files edited since the restore make undo refuse, unless --force.",
    )  # fmt: skip
    p.add_argument(
        "--force",
        action="store_true",
        help="undo even over files edited since the restore, after saving them in a safety ref",
    )
    parser._add_json(p)


def cmd_undo(args: argparse.Namespace) -> int:
    """Handle ``mlvc undo``."""
    from mlvc_jupyter.cli.commands import _manager

    undone = _manager(args).undo(force=args.force)
    print(json.dumps(undone.to_dict(), indent=2) if args.json else undone.describe())
    return 0


def add_export(subparsers: Any) -> None:
    """Add ``mlvc export``."""
    from mlvc_jupyter.cli import parser

    p = parser._command(
        subparsers, "export", cmd_export,
        "Write a portable archive of an experiment that reproduces it anywhere.",
        examples="  mlvc export lr-0.1 -o lr-0.1.zip\n"
        "  mkdir /tmp/r && cd /tmp/r && unzip ~/lr-0.1.zip && python reproduce.py",
        details="The zip holds a git bundle of the experiment's commits, its record and "
        "metrics, and reproduce.py, which needs only Python, git and the experiment's packages: "
        "it unbundles, materialises, runs and prints the verdict (exit 0 reproduced, 1 not, "
        "2 could not run). `python reproduce.py --install` first installs the recorded packages.",
    )  # fmt: skip
    parser._add_id(p)
    p.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="where to write the zip (default: .git/mlvc/snapshots/EXP_ID-TIME.zip)",
    )


def cmd_export(args: argparse.Namespace) -> int:
    """Handle ``mlvc export``."""
    from mlvc_jupyter.cli.commands import _manager, _path

    output = _path(args, args.output) if args.output else None
    path = _manager(args).export(args.experiment_id, path=output)
    print(f"Exported {args.experiment_id} to {path}")
    print("Unpack it into an empty folder and run `python reproduce.py` there.")
    return 0
