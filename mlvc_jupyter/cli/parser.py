"""The argument parser of ``mlvc``: one subcommand per verb, with its help and examples.

``mlvc --help`` lists the verbs; ``mlvc <verb> --help`` shows the summary, a paragraph of
details and examples. Each subcommand's ``func`` default is its handler in
:mod:`mlvc_jupyter.cli.commands`.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable
from typing import Any

from mlvc_jupyter import __version__
from mlvc_jupyter.cli import commands, housekeeping, reproduce, sharing, undo_export
from mlvc_jupyter.core.reading.options import QUERY_OPTIONS

__all__ = ["build_parser"]

Handler = Callable[[argparse.Namespace], int]

_DESCRIPTION = """\
Git-backed version control for ML experiments. Each experiment is a chain of checkpoint commits
on a hidden ref (refs/mlvc/experiments/<id>); recording one never moves your HEAD, index,
branches or working files. The verbs are those of the Python API and the %vc_* magics."""

_EPILOG = """\
examples:
  mlvc start lr-0.1 --config configs/params.json -m "baseline"
  mlvc commit lr-0.1 -m "epoch 5" --metrics loss=0.31 acc=0.88
  mlvc end lr-0.1 --metrics metrics.json --tag best
  mlvc log
  mlvc diff lr-0.1 lr-0.01
  mlvc -C ~/project --verbose status --timings

Run `mlvc <command> --help` for a command's options and examples."""


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``mlvc`` with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="mlvc",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-C",
        dest="C",
        metavar="PATH",
        default=".",
        help="run as if mlvc was started in PATH (like git -C); relative file arguments are "
        "taken from there",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="on error, show the traceback; log every git call with its duration",
    )
    parser.add_argument("--version", action="version", version=f"mlvc {__version__}")
    parser.set_defaults(command=None)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in _COMMANDS:
        add(subparsers)
    return parser


_VERBOSE = argparse.ArgumentParser(add_help=False)
_VERBOSE.add_argument(
    "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
)


def _command(
    subparsers: Any, name: str, handler: Handler, summary: str, *, examples: str, details: str = ""
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=summary,
        description=summary + (f"\n\n{textwrap.fill(details, 92)}" if details else ""),
        epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_VERBOSE],
    )
    parser.set_defaults(command=name, func=handler)
    return parser


def _add_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment_id", metavar="EXP_ID", help="the experiment's id")


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the record as JSON")


def _add_metrics(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics",
        nargs="+",
        action="extend",
        metavar="KEY=VALUE|FILE",
        help='metrics as KEY=VALUE pairs (values read as JSON: 0.9, true, "text") and/or '
        "a JSON/TOML/YAML file holding a table of them",
    )


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="record the configs in FILE (.json or .toml; .yaml/.yml when PyYAML is installed)",
    )


def _add_init(subparsers: Any) -> None:
    p = _command(
        subparsers, "init", commands.cmd_init,
        "Create a git repository (branch main, ML .gitignore).",
        examples="  mlvc init\n  mlvc init ~/projects/cifar",
        details="In a folder already inside a repository nothing changes. An existing "
        ".gitignore is left alone unless --gitignore asks for the missing ML entries; global git "
        "configuration is never written.",
    )  # fmt: skip
    p.add_argument("path", nargs="?", default=".", help="the folder (default: the current one)")
    p.add_argument(
        "--gitignore", action="store_true",
        help="append the ML .gitignore entries an existing .gitignore lacks (never removes a "
        "line); without it they are only listed",
    )  # fmt: skip


def _add_status(subparsers: Any) -> None:
    p = _command(
        subparsers, "status", commands.cmd_status,
        "Show branch, HEAD and changed files.",
        examples="  mlvc status\n  mlvc status --timings\n"
        "  mlvc --verbose status   # plus every git call and its duration",
        details="Your index is never rewritten (plain `git status` may refresh it). --timings "
        "shows how long each phase (stage, strip, hash, write-tree, commit, ref update) of "
        "the most recent checkpoints made on this machine took.",
    )  # fmt: skip
    p.add_argument("--timings", action="store_true", help="show recent checkpoint timings")
    p.add_argument(
        "--limit", type=_positive, default=10, metavar="N",
        help="checkpoints shown by --timings (default 10)",
    )  # fmt: skip
    _add_json(p)


def _add_start(subparsers: Any) -> None:
    p = _command(
        subparsers, "start", commands.cmd_start,
        "Start an experiment: record its first checkpoint.",
        examples='  mlvc start lr-0.1 --config configs/params.json -m "baseline"\n'
        "  mlvc start lr-0.1 --resume   # continue an existing experiment\n"
        "  mlvc start lr-0.1 --branch   # branch mlvc/lr-0.1 follows each checkpoint\n"
        "  mlvc start lr-0.1 --track local,mlflow   # an MLflow run, written at `mlvc end`",
        details="The checkpoint holds the working tree (uncommitted edits and untracked "
        "files included, notebooks stripped of outputs) on refs/mlvc/experiments/<id>; "
        "your HEAD, index and files stay as they are.",
    )  # fmt: skip
    _add_id(p)
    p.add_argument("-n", "--name", help="a display name (default: the id)")
    _add_config(p)
    p.add_argument("-m", "--message", help="what this experiment tries")
    p.add_argument(
        "--branch", action="store_true", help="keep branch mlvc/<id> at the newest checkpoint"
    )
    p.add_argument("--resume", action="store_true", help="continue the experiment if it exists")
    p.add_argument(
        "--data", action="append", metavar="PATH",
        help="a file or folder the experiment reads: size, mtime and sha256 are recorded "
        "(repeatable; unchanged files are not read again)",
    )  # fmt: skip
    p.add_argument(
        "--track", metavar="BACKENDS",
        help="remote trackers for this run, e.g. local,mlflow (wandb, tensorboard): checked "
        "now; `mlvc end` opens the run there with the configs and final metrics, and ends it",
    )  # fmt: skip
    p.add_argument(
        "--entry", metavar="CMD",
        help='the command that re-runs it, e.g. "python train.py" (`mlvc reproduce --run`)',
    )  # fmt: skip


def _add_commit(subparsers: Any) -> None:
    p = _command(
        subparsers, "commit", commands.cmd_commit,
        "Record a checkpoint of a running experiment.",
        examples='  mlvc commit lr-0.1 -m "epoch 5" --metrics loss=0.31 acc=0.88\n'
        "  mlvc commit lr-0.1 --config configs/params.json --metrics metrics.json",
        details="Without --config the checkpoint keeps the experiment's last configs.",
    )  # fmt: skip
    _add_id(p)
    p.add_argument("-m", "--message", help="what changed (default: 'checkpoint')")
    _add_config(p)
    _add_metrics(p)


def _add_end(subparsers: Any) -> None:
    p = _command(
        subparsers, "end", commands.cmd_end,
        "End an experiment with metrics, a status and a tag.",
        examples="  mlvc end lr-0.1 --metrics loss=0.12 acc=0.95 --tag best\n"
        '  mlvc end lr-0.1 --status failed -m "diverged"',
        details="A tag that already exists elsewhere is refused before anything is recorded.",
    )  # fmt: skip
    _add_id(p)
    _add_metrics(p)
    p.add_argument("--tag", help="create this annotated tag at the final checkpoint")
    p.add_argument(
        "--status", choices=("success", "failed"), default="success",
        help="how the experiment ended (default: success)",
    )  # fmt: skip
    p.add_argument("-m", "--message", help="a closing note (default: 'ended: <status>')")


def _add_log(subparsers: Any) -> None:
    p = _command(
        subparsers, "log", commands.cmd_log,
        "List experiments: search, filter, sort and page them.",
        examples="  mlvc log\n  mlvc log --search lr --sort -metrics.acc --limit 5\n"
        "  mlvc log --status running --offset 20\n"
        "  mlvc log --all --json | jq '.[].metrics'",
        details="Reads only the summaries in the experiments' commit messages (one git call), "
        "so it stays fast with thousands of experiments. Prints 'showing X-Y of N'.",
    )  # fmt: skip
    for flags, options in QUERY_OPTIONS:
        p.add_argument(*flags, **options)
    p.add_argument(
        "--all", action="store_true",
        help="show every match (no --limit), remote-tracking experiments (origin/<id>) too",
    )  # fmt: skip
    _add_json(p)


def _add_show(subparsers: Any) -> None:
    p = _command(
        subparsers, "show", commands.cmd_show,
        "Show everything recorded about an experiment.",
        examples="  mlvc show lr-0.1\n  mlvc show lr-0.1 --json | jq .configs",
        details="Summary, metrics, configs (as dotted keys), changed, large and notebook "
        "files, and the phase timings of its last checkpoint.",
    )  # fmt: skip
    _add_id(p)
    _add_json(p)


def _add_diff(subparsers: Any) -> None:
    p = _command(
        subparsers, "diff", commands.cmd_diff,
        "Compare the params, metrics and files of two experiments.",
        examples="  mlvc diff lr-0.1 lr-0.01\n  mlvc diff lr-0.1 lr-0.01 --json",
        details="Params are compared as flat dotted keys; metrics get B - A deltas; files "
        "are those that differ between the two last checkpoints.",
    )  # fmt: skip
    p.add_argument("a", metavar="A", help="the experiment to compare from")
    p.add_argument("b", metavar="B", help="the experiment to compare to")
    _add_json(p)


def _add_tag(subparsers: Any) -> None:
    p = _command(
        subparsers, "tag", commands.cmd_tag,
        "Tag an experiment's last checkpoint; list, delete or bump version tags.",
        examples="  mlvc tag lr-0.1 best\n  mlvc tag lr-0.01 best --force   # move the tag\n"
        "  mlvc tag lr-0.1 --bump minor   # v1.4.2 -> v1.5.0\n"
        "  mlvc tag lr-0.1 --bump patch --prefix bert-   # bert-v0.3.1\n"
        "  mlvc tag --list [lr-0.1]\n  mlvc tag --delete best",
        details="The tag is annotated and its message carries the metrics. --bump finds the "
        "highest <prefix>vX.Y.Z tag by numeric order (other shapes are ignored) and creates "
        "the next. --list shows the tags mlvc made. --delete keeps the tag on a ref under "
        "refs/mlvc/trash/tags/ until `mlvc gc` expires it.",
    )  # fmt: skip
    p.add_argument("experiment_id", metavar="EXP_ID", nargs="?", help="the experiment's id")
    p.add_argument("tag", metavar="TAG", nargs="?", help="the tag name")
    p.add_argument("-f", "--force", action="store_true", help="move the tag if it exists")
    p.add_argument("--bump", choices=("major", "minor", "patch"), help="tag the next version")
    p.add_argument("--prefix", default="", help="the release line --bump follows (bert-)")
    p.add_argument("--list", action="store_true", help="list the tags mlvc made")
    p.add_argument("--delete", metavar="TAG", help="delete a tag (kept in the trash until gc)")
    _add_json(p)
    p.set_defaults(usage=p)  # the handler reports a wrong combination of these as usage


def _add_branch(subparsers: Any) -> None:
    p = _command(
        subparsers, "branch", commands.cmd_branch,
        "Create a real branch (default mlvc/<id>) at an experiment's last checkpoint.",
        examples="  mlvc branch lr-0.1 && git switch mlvc/lr-0.1\n"
        "  mlvc branch lr-0.1 promote/lr --clean && git merge promote/lr",
        details="The branch is not checked out. With --clean it points at one new commit "
        "holding the experiment's files without mlvc's .mlvc/ records, on top of your HEAD "
        "at its last checkpoint, so it merges into main like any branch.",
    )  # fmt: skip
    _add_id(p)
    p.add_argument("name", metavar="NAME", nargs="?", help="the branch name (mlvc/<id>)")
    p.add_argument("--clean", action="store_true", help="leave mlvc's .mlvc/ records out")


def _add_reproduce(subparsers: Any) -> None:
    reproduce.add_reproduce(subparsers, _command)


def _add_restore(subparsers: Any) -> None:
    p = _command(
        subparsers, "restore", commands.cmd_restore,
        "Write config files back from an experiment or a config snapshot (after a safety "
        "snapshot).",
        examples="  mlvc restore lr-0.1   # the config files of experiment lr-0.1\n"
        "  mlvc restore .git/mlvc/configs/config-20250101T120000.000000Z.json",
        details="The safety snapshot's ref is printed; `git checkout <ref> -- <path>` brings "
        "a file back from it.",
    )  # fmt: skip
    p.add_argument(
        "source", metavar="EXP_ID|SNAPSHOT_JSON", help="an experiment id or a config snapshot file"
    )


def _add_strip(subparsers: Any) -> None:
    p = _command(
        subparsers, "strip", commands.cmd_strip,
        "Strip outputs and volatile metadata from notebooks.",
        examples="  mlvc strip notebooks/*.ipynb   # in place; only changed files are rewritten\n"
        "  mlvc strip --stdin < a.ipynb > b.ipynb\n"
        "  mlvc strip --dry-run *.ipynb   # list what would change",
        details="Like nbstripout. Cells tagged keep_output, or with \"keep_output\": true in "
        "their metadata, keep their outputs. Inside a "
        "repository the extra metadata keys and the keep tag come from its settings "
        "([tool.mlvc] in pyproject.toml, or .mlvc.toml). `mlvc filter install` makes git "
        "run `python -m mlvc_jupyter strip --filter=<path>` on every notebook it adds.",
    )  # fmt: skip
    source = p.add_mutually_exclusive_group()
    source.add_argument("files", nargs="*", default=[], metavar="FILE", help="notebooks")
    source.add_argument(
        "--stdin", action="store_true", help="read a notebook on stdin, write it to stdout"
    )
    source.add_argument(
        "--filter", metavar="PATH", help="as git's clean filter for PATH: like --stdin, but a "
        "notebook that cannot be read passes through unchanged, with a warning",
    )  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="report, do not rewrite files")


def _add_filter(subparsers: Any) -> None:
    p = _command(
        subparsers, "filter", commands.cmd_filter,
        "Manage mlvc strip as the git clean filter for notebooks.",
        examples="  mlvc filter install   # git add now stores notebooks stripped\n"
        "  mlvc filter install --merge   # and git merges notebooks cell by cell (nbdime)\n"
        "  mlvc filter status\n  mlvc filter uninstall",
        details="The filter is set in .git/info/attributes and .git/config (never in a "
        "tracked file) and runs `mlvc strip` with this Python's absolute path, so a git add "
        "from any shell strips. status runs it once and exits 1 when it cannot run. "
        "Installing twice changes nothing. --merge also makes git merge and diff notebooks "
        "with nbdime's drivers (cell by cell), like `nbdime config-git --enable` but private "
        "to this clone.",
    )  # fmt: skip
    p.add_argument("action", choices=("install", "uninstall", "status"))
    p.add_argument("--merge", action="store_true", help="with install/uninstall: nbdime drivers")


def _add_demo(subparsers: Any) -> None:
    p = _command(
        subparsers, "demo", commands.cmd_demo,
        "Show mlvc at work in a scratch repository.",
        examples="  mlvc demo\n"
        "  mlvc demo --dir /tmp/mlvc-demo && mlvc -C /tmp/mlvc-demo log",
        details="Records an experiment with checkpoints while a tiny model trains, a second "
        "one with another learning rate, lists and diffs them, reproduces the first in a "
        "worktree, and checks that the repository's HEAD, index and status never changed.",
    )  # fmt: skip
    p.add_argument("--dir", metavar="PATH", help="a new or empty folder to build the demo in")
    p.add_argument(
        "--keep", action="store_true", help="keep the temporary folder (always kept with --dir)"
    )
    p.add_argument(
        "--lab", action="store_true",
        help="then start JupyterLab on it with the mlvc sidebar open (Ctrl-C stops it)",
    )  # fmt: skip


_COMMANDS = (  # the order of `mlvc --help`: record, read, label, reproduce, share, tidy, tools
    _add_init, _add_status, _add_start, _add_commit, _add_end, _add_log, _add_show, _add_diff,
    _add_tag, _add_branch, _add_reproduce, undo_export.add_undo, undo_export.add_export,
    _add_restore, sharing.add_push, sharing.add_pull, sharing.add_share, housekeeping.add_rm,
    housekeeping.add_gc, _add_strip, _add_filter, _add_demo,
)  # fmt: skip


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value
