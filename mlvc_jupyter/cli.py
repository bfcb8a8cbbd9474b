"""The ``mlvc`` command: the verbs of the Python API and the magics, for shells, scripts and CI.

Each subcommand parses its arguments, makes one call into :mod:`mlvc_jupyter.core` and renders
the record it gets back (``--json`` prints ``record.to_dict()``); no business logic lives here.
Errors are translated once, in :func:`main`: an :class:`~mlvc_jupyter.errors.MlvcError` becomes
``error:`` and ``hint:`` lines on stderr and exit status 1 (``--verbose`` adds the traceback);
invalid usage exits 2. Core modules are imported inside the handlers, so ``mlvc strip --stdin``,
which git runs once per notebook as a clean filter, starts quickly.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import textwrap
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlvc_jupyter import __version__
from mlvc_jupyter.errors import ConfigError, MlvcError, NotARepositoryError

if TYPE_CHECKING:
    from mlvc_jupyter.core.manager import ExperimentManager
    from mlvc_jupyter.core.records import (
        ExperimentDiff,
        ExperimentRecord,
        ExperimentSummary,
        RepoStatus,
    )

__all__ = ["build_parser", "format_diff", "format_log", "format_table", "main"]

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


# -- entry point ---------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mlvc`` command line and return its exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) and usage errors (2)
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    logger = logging.getLogger("mlvc_jupyter")
    previous_level = logger.level
    handler = _configure_logging(logger, verbose=args.verbose)
    try:
        status: int = args.func(args)
    except MlvcError as exc:
        _report(exc.message, exc.hint, verbose=args.verbose)
        return 1
    except BrokenPipeError:  # `mlvc log | head`: the reader left; say nothing more
        _silence_stdout()
        return 1
    except OSError as exc:  # a file the user named cannot be read or written
        where = f": {exc.filename}" if exc.filename else ""
        _report(f"{exc.strerror or exc}{where}", None, verbose=args.verbose)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
    return status


def _report(message: str, hint: str | None, *, verbose: bool) -> None:
    if verbose:
        traceback.print_exc(file=sys.stderr)
    print(f"error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout has no file descriptor (captured): nothing to do
        pass


class _LowercaseLevel(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {super().format(record)}"


def _configure_logging(logger: logging.Logger, *, verbose: bool) -> logging.Handler:
    """Send mlvc's log records to stderr; DEBUG (every git call and its duration) with -v."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LowercaseLevel("%(name)s: %(message)s" if verbose else "%(message)s"))
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logger.addHandler(handler)
    return handler


# -- the parser ----------------------------------------------------------------------------------


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
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in _COMMANDS:
        add(commands)
    return parser


_VERBOSE = argparse.ArgumentParser(add_help=False)
_VERBOSE.add_argument(
    "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
)


def _command(
    commands: Any, name: str, handler: Handler, summary: str, *, examples: str, details: str = ""
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
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


def _add_init(commands: Any) -> None:
    p = _command(
        commands, "init", _cmd_init,
        "Create a git repository (branch main, ML .gitignore).",
        examples="  mlvc init\n  mlvc init ~/projects/cifar",
        details="In a folder already inside a repository nothing changes. An existing "
        ".gitignore is left alone; global git configuration is never written.",
    )  # fmt: skip
    p.add_argument("path", nargs="?", default=".", help="the folder (default: the current one)")


def _add_status(commands: Any) -> None:
    p = _command(
        commands, "status", _cmd_status,
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


def _add_start(commands: Any) -> None:
    p = _command(
        commands, "start", _cmd_start,
        "Start an experiment: record its first checkpoint.",
        examples='  mlvc start lr-0.1 --config configs/params.json -m "baseline"\n'
        "  mlvc start lr-0.1 --resume   # continue an existing experiment\n"
        "  mlvc start lr-0.1 --branch   # branch mlvc/lr-0.1 follows each checkpoint",
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


def _add_commit(commands: Any) -> None:
    p = _command(
        commands, "commit", _cmd_commit,
        "Record a checkpoint of a running experiment.",
        examples='  mlvc commit lr-0.1 -m "epoch 5" --metrics loss=0.31 acc=0.88\n'
        "  mlvc commit lr-0.1 --config configs/params.json --metrics metrics.json",
        details="Without --config the checkpoint keeps the experiment's last configs.",
    )  # fmt: skip
    _add_id(p)
    p.add_argument("-m", "--message", help="what changed (default: 'checkpoint')")
    _add_config(p)
    _add_metrics(p)


def _add_end(commands: Any) -> None:
    p = _command(
        commands, "end", _cmd_end,
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


def _add_log(commands: Any) -> None:
    p = _command(
        commands, "log", _cmd_log,
        "List experiments, newest first.",
        examples="  mlvc log\n  mlvc log --all --json | jq '.[].metrics'",
        details="Reads only the summaries in the experiments' commit messages (one git call), "
        "so it stays fast with thousands of experiments.",
    )  # fmt: skip
    p.add_argument(
        "-n", "--limit", type=_positive, default=20, metavar="N",
        help="show at most N experiments (default 20)",
    )  # fmt: skip
    p.add_argument("--all", action="store_true", help="show every experiment")
    _add_json(p)


def _add_show(commands: Any) -> None:
    p = _command(
        commands, "show", _cmd_show,
        "Show everything recorded about an experiment.",
        examples="  mlvc show lr-0.1\n  mlvc show lr-0.1 --json | jq .configs",
        details="Summary, metrics, configs (as dotted keys), changed, large and notebook "
        "files, and the phase timings of its last checkpoint.",
    )  # fmt: skip
    _add_id(p)
    _add_json(p)


def _add_diff(commands: Any) -> None:
    p = _command(
        commands, "diff", _cmd_diff,
        "Compare the params, metrics and files of two experiments.",
        examples="  mlvc diff lr-0.1 lr-0.01\n  mlvc diff lr-0.1 lr-0.01 --json",
        details="Params are compared as flat dotted keys; metrics get B - A deltas; files "
        "are those that differ between the two last checkpoints.",
    )  # fmt: skip
    p.add_argument("a", metavar="A", help="the experiment to compare from")
    p.add_argument("b", metavar="B", help="the experiment to compare to")
    _add_json(p)


def _add_tag(commands: Any) -> None:
    p = _command(
        commands, "tag", _cmd_tag,
        "Tag an experiment's last checkpoint.",
        examples="  mlvc tag lr-0.1 best\n  mlvc tag lr-0.01 best --force   # move the tag",
        details="The tag is annotated and its message carries the metrics.",
    )  # fmt: skip
    _add_id(p)
    p.add_argument("tag", metavar="TAG", help="the tag name")
    p.add_argument("-f", "--force", action="store_true", help="move the tag if it exists")


def _add_branch(commands: Any) -> None:
    p = _command(
        commands, "branch", _cmd_branch,
        "Create branch mlvc/<id> at an experiment's last checkpoint.",
        examples="  mlvc branch lr-0.1 && git switch mlvc/lr-0.1",
        details="The branch is not checked out.",
    )  # fmt: skip
    _add_id(p)


def _add_reproduce(commands: Any) -> None:
    p = _command(
        commands, "reproduce", _cmd_reproduce,
        "Check an experiment out in a separate git worktree.",
        examples="  mlvc reproduce lr-0.1   # into .git/mlvc/worktrees/lr-0.1\n"
        "  mlvc reproduce lr-0.1 --dir ../lr-0.1",
        details="The worktree is detached at the experiment's last checkpoint; your HEAD, "
        "index and working files are untouched.",
    )  # fmt: skip
    _add_id(p)
    p.add_argument("--dir", metavar="PATH", help="where to put the worktree (outside the repo)")


def _add_restore(commands: Any) -> None:
    p = _command(
        commands, "restore", _cmd_restore,
        "Write a config snapshot's files back (after a safety snapshot).",
        examples="  mlvc restore .git/mlvc/configs/config-20250101T120000.000000Z.json",
        details="The safety snapshot's ref is printed; `git checkout <ref> -- <path>` brings "
        "a file back from it.",
    )  # fmt: skip
    p.add_argument("snapshot", metavar="SNAPSHOT_JSON", help="a config snapshot file")


def _add_strip(commands: Any) -> None:
    p = _command(
        commands, "strip", _cmd_strip,
        "Strip outputs and volatile metadata from notebooks.",
        examples="  mlvc strip notebooks/*.ipynb   # in place; only changed files are rewritten\n"
        "  mlvc strip --stdin < a.ipynb > b.ipynb\n"
        "  mlvc strip --dry-run *.ipynb   # list what would change",
        details="Like nbstripout. Cells tagged keep_output keep their outputs. Inside a "
        "repository the extra metadata keys and the keep tag come from its settings "
        "([tool.mlvc] in pyproject.toml, or .mlvc.toml). `mlvc filter install` makes git "
        "run `mlvc strip --stdin` on every notebook it adds.",
    )  # fmt: skip
    source = p.add_mutually_exclusive_group()
    source.add_argument("files", nargs="*", default=[], metavar="FILE", help="notebooks")
    source.add_argument(
        "--stdin", action="store_true", help="read a notebook on stdin, write it to stdout"
    )
    p.add_argument("--dry-run", action="store_true", help="report, do not rewrite files")


def _add_filter(commands: Any) -> None:
    p = _command(
        commands, "filter", _cmd_filter,
        "Manage mlvc strip as the git clean filter for notebooks.",
        examples="  mlvc filter install   # git add now stores notebooks stripped\n"
        "  mlvc filter status\n  mlvc filter uninstall",
        details="The filter is set in .git/info/attributes and .git/config (never in a "
        "tracked file) and runs `mlvc strip --stdin`. Installing twice changes nothing.",
    )  # fmt: skip
    p.add_argument("action", choices=("install", "uninstall", "status"))


def _add_demo(commands: Any) -> None:
    p = _command(
        commands, "demo", _cmd_demo,
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


_COMMANDS = (
    _add_init, _add_status, _add_start, _add_commit, _add_end, _add_log, _add_show, _add_diff,
    _add_tag, _add_branch, _add_reproduce, _add_restore, _add_strip, _add_filter, _add_demo,
)  # fmt: skip


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


# -- inputs ------------------------------------------------------------------------------------


def _path(args: argparse.Namespace, name: str) -> Path:
    """Return a user-given path, taken from -C unless absolute, with '..' folded away."""
    return Path(os.path.abspath(Path(args.C).expanduser() / Path(name).expanduser()))


def _manager(args: argparse.Namespace) -> ExperimentManager:
    """Open the repository at -C; never create one (that is `mlvc init`)."""
    from mlvc_jupyter.core.manager import ExperimentManager

    folder = Path(args.C).expanduser()
    if not folder.is_dir():
        raise NotARepositoryError(
            f"'{folder}' is not a folder.",
            path=str(folder),
            hint=f"Check the path, or create a repository there with `mlvc init {folder}`.",
        )
    return ExperimentManager(folder, init=False)


def _read_table(path: Path, what: str) -> dict[str, Any]:
    """Read a JSON, TOML or (with PyYAML) YAML file holding a table.

    Raises:
        ConfigError: the file is missing, unreadable, of an unknown kind or not a table.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise ConfigError(
            f"Cannot read the {what} file '{path}': {reason}.",
            path=str(path),
            hint="Check the path (relative paths start from -C, the current folder by default).",
        ) from exc
    data = _parse_table(text, path, what)
    if not isinstance(data, dict):
        raise ConfigError(
            f"The {what} file '{path}' holds a {type(data).__name__}, not a table of keys.",
            path=str(path),
            hint='Write an object at the top level, e.g. {"lr": 0.1}.',
        )
    return data


def _parse_table(text: str, path: Path, what: str) -> Any:
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return json.loads(text)
        if suffix == ".toml":
            if sys.version_info >= (3, 11):
                import tomllib
            else:  # pragma: no cover - exercised on 3.10 only
                import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
            return tomllib.loads(text)
        if suffix in (".yaml", ".yml"):
            return _load_yaml(text, path)
    except ValueError as exc:  # JSONDecodeError, TOMLDecodeError and yaml's errors below
        raise ConfigError(
            f"The {what} file '{path}' is not valid {suffix[1:].upper()}: {exc}.",
            path=str(path),
            hint="Fix the syntax at the position shown.",
        ) from exc
    raise ConfigError(
        f"Cannot read {what} from '{path}': unknown file type '{suffix or '(none)'}'.",
        path=str(path),
        hint="Use a .json or .toml file (.yaml/.yml when PyYAML is installed).",
    )


def _load_yaml(text: str, path: Path) -> Any:
    try:
        import yaml  # type: ignore[import-untyped, unused-ignore]  # optional; stubs may be absent
    except ImportError:
        raise ConfigError(
            f"Cannot read '{path}': YAML needs PyYAML, which is not installed.",
            path=str(path),
            hint="Install it (`pip install pyyaml`) or convert the file to JSON or TOML.",
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from exc


def _configs(args: argparse.Namespace) -> dict[str, Any] | None:
    return _read_table(_path(args, args.config), "config") if args.config else None


def _metrics(args: argparse.Namespace) -> dict[str, Any] | None:
    """Return the metrics given as KEY=VALUE pairs and files, later ones winning."""
    if not args.metrics:
        return None
    metrics: dict[str, Any] = {}
    for item in args.metrics:
        path = _path(args, item)
        if path.is_file():
            metrics.update(_read_table(path, "metrics"))
            continue
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise MlvcError(
                f"Cannot read the metric '{item}': it is neither KEY=VALUE nor a file.",
                hint="Write metrics as `--metrics loss=0.31 acc=0.88`, or name a JSON file.",
            )
        metrics[key] = _scalar(raw)
    return metrics


def _scalar(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _elapsed_ms(start: float) -> str:
    return f"{(time.perf_counter() - start) * 1000:.0f} ms"


# -- handlers: parse, one core call, render -------------------------------------------------------


def _cmd_init(args: argparse.Namespace) -> int:
    from mlvc_jupyter.core.manager import ExperimentManager

    folder = _path(args, args.path)
    try:
        existing = ExperimentManager(folder, init=False) if folder.is_dir() else None
    except NotARepositoryError:
        existing = None
    if existing is not None:
        print(f"Already in a git repository: {existing.root} (nothing changed).")
        return 0
    manager = ExperimentManager(folder, init=True)
    print(f"Initialised a git repository in {manager.root} (branch main, ML .gitignore).")
    print("Next: `mlvc start <id>` records an experiment; `mlvc filter install` strips notebooks.")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    manager = _manager(args)
    status = manager.status()
    timings = manager.timings(args.limit) if args.timings else None
    if args.json:
        _print_json({**status.to_dict(), **({"timings": timings} if args.timings else {})})
        return 0
    print(_render_status(status))
    if timings is not None:
        print()
        print(_render_timings(timings))
    return 0


def _cmd_start(args: argparse.Namespace) -> int:
    configs = _configs(args)
    manager = _manager(args)
    start = time.perf_counter()
    checkpoint = manager.start(
        args.experiment_id,
        name=args.name,
        configs=configs,
        message=args.message,
        create_branch=args.branch,
        resume=args.resume,
    )
    verb = "Resumed" if checkpoint.seq > 1 else "Started"
    print(
        f"{verb} {checkpoint.experiment_id}: checkpoint {checkpoint.seq} "
        f"{checkpoint.commit[:8]} ({_elapsed_ms(start)})"
    )
    if args.branch:
        print(f"Branch mlvc/{checkpoint.experiment_id} follows its checkpoints.")
    return 0


def _cmd_commit(args: argparse.Namespace) -> int:
    configs, metrics = _configs(args), _metrics(args)
    manager = _manager(args)
    start = time.perf_counter()
    checkpoint = manager.commit(
        args.experiment_id, message=args.message, configs=configs, metrics=metrics
    )
    print(
        f"Recorded checkpoint {checkpoint.seq} of {checkpoint.experiment_id}: "
        f"{checkpoint.commit[:8]} ({_elapsed_ms(start)})"
    )
    return 0


def _cmd_end(args: argparse.Namespace) -> int:
    metrics = _metrics(args)
    manager = _manager(args)
    start = time.perf_counter()
    checkpoint = manager.end(
        args.experiment_id,
        metrics=metrics,
        status=args.status,
        tag=args.tag,
        message=args.message,
    )
    tagged = f", tagged {args.tag}" if args.tag else ""
    print(
        f"Ended {checkpoint.experiment_id} ({checkpoint.status}): checkpoint {checkpoint.seq} "
        f"{checkpoint.commit[:8]}{tagged} ({_elapsed_ms(start)})"
    )
    if checkpoint.metrics:
        print(f"metrics  {format_metrics(checkpoint.metrics, width=None)}")
    return 0


def _cmd_log(args: argparse.Namespace) -> int:
    summaries = _manager(args).log()
    shown = summaries if args.all else summaries[: args.limit]
    if args.json:
        _print_json([s.to_dict() for s in shown])
        return 0
    if not summaries:
        print("No experiments yet. Start one with `mlvc start <id>` (or `%vc_start <id>`).")
        return 0
    print(format_log(shown))
    if len(shown) < len(summaries):
        print(f"({len(shown)} of {len(summaries)} shown; `mlvc log --all` lists every one)")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    record = _manager(args).show(args.experiment_id)
    if args.json:
        _print_json(record.to_dict())
    else:
        print(_render_record(record))
    return 0


def _cmd_diff(args: argparse.Namespace) -> int:
    diff = _manager(args).diff(args.a, args.b)
    if args.json:
        _print_json(diff.to_dict())
    else:
        print(format_diff(diff))
    return 0


def _cmd_tag(args: argparse.Namespace) -> int:
    name = _manager(args).tag(args.experiment_id, args.tag, force=args.force)
    print(f"Tagged the last checkpoint of {args.experiment_id} as '{name}'.")
    return 0


def _cmd_branch(args: argparse.Namespace) -> int:
    name = _manager(args).branch(args.experiment_id)
    print(f"Branch '{name}' points at the last checkpoint of {args.experiment_id}.")
    print(f"It is not checked out; `git switch {name}` would.")
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    target = _path(args, args.dir) if args.dir else None
    path = _manager(args).reproduce(args.experiment_id, path=target)
    print(f"Reproduced {args.experiment_id} in {path}")
    print("It is a detached git worktree; your HEAD, index and working files are untouched.")
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    snapshot = _path(args, args.snapshot)
    safety = _manager(args).restore(snapshot)
    print(f"Restored the config files of {snapshot}.")
    print(f"Your previous files are saved in {safety}")
    print(f"(get one back with `git checkout {safety} -- <path>`).")
    return 0


def _cmd_strip(args: argparse.Namespace) -> int:
    from mlvc_jupyter.core.notebooks import UnreadableNotebookError, strip_bytes

    extra_keys, keep_tag = _strip_settings(args)

    def strip(data: bytes) -> bytes:
        return strip_bytes(data, extra_keys=extra_keys, keep_output_tag=keep_tag)

    if not args.files and not args.stdin and sys.stdin.isatty():
        raise MlvcError(
            "No notebooks to strip: no files were given and nothing is piped in.",
            hint="Name the notebooks (`mlvc strip a.ipynb`) or pipe one in "
            "(`mlvc strip --stdin < a.ipynb`).",
        )
    if not args.files:
        sys.stdout.buffer.write(strip(sys.stdin.buffer.read()))
        sys.stdout.flush()
        return 0
    changed = failed = 0
    for name in args.files:
        path = _path(args, name)
        try:
            data = path.read_bytes()
            stripped = strip(data)
            if stripped != data and not args.dry_run:
                _replace_file(path, stripped)
        except (UnreadableNotebookError, OSError) as exc:
            failed += 1
            message, hint = _describe(exc)
            print(f"error: {name}: {message}", file=sys.stderr)
            if hint:
                print(f"hint: {hint}", file=sys.stderr)
            continue
        if stripped != data:
            changed += 1
            print(f"{'would strip' if args.dry_run else 'stripped'} {name}")
    clean = len(args.files) - changed - failed
    verb = "would be stripped" if args.dry_run else "stripped"
    print(f"{changed} {verb}, {clean} already clean" + (f", {failed} failed" if failed else ""))
    return 1 if failed else 0


def _describe(exc: MlvcError | OSError) -> tuple[str, str | None]:
    if isinstance(exc, MlvcError):
        return exc.message, exc.hint
    return exc.strerror or str(exc), None


def _strip_settings(args: argparse.Namespace) -> tuple[tuple[str, ...], str]:
    """Return (extra keys, keep tag) from the settings of the repository at -C, or defaults."""
    from mlvc_jupyter.core.repository import Repository
    from mlvc_jupyter.core.settings import Settings

    folder = Path(args.C).expanduser()
    settings = Settings()  # outside a repository: nbstripout's defaults
    if folder.is_dir():
        with contextlib.suppress(NotARepositoryError):
            settings = Repository.open(folder, init=False).settings
    return settings.strip_extra_keys, settings.keep_output_tag


def _replace_file(path: Path, content: bytes) -> None:
    """Rewrite ``path`` atomically, keeping its permissions."""
    temp = path.with_name(f".{path.name}.mlvc-{os.getpid()}.tmp")
    try:
        temp.write_bytes(content)
        os.chmod(temp, path.stat().st_mode & 0o7777)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _cmd_filter(args: argparse.Namespace) -> int:
    from mlvc_jupyter.core import gitfilter

    action = {
        "install": gitfilter.install_filter,
        "uninstall": gitfilter.uninstall_filter,
        "status": gitfilter.filter_status,
    }[args.action]
    status = action(Path(args.C).expanduser())
    if status.installed:
        print(f"Installed: git add stores notebooks stripped by `{status.clean_command}`.")
    else:
        print("Not installed: git add stores notebooks as they are on disk.")
    print(f"attributes  {status.attributes_path}")
    if status.clean_command and not status.installed:
        print(f"note: filter.mlvc-strip.clean is still set to `{status.clean_command}`.")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from mlvc_jupyter.demo import run_demo

    target = _path(args, args.dir) if args.dir else None
    return run_demo(target, keep=args.keep or target is not None, out=sys.stdout)


# -- rendering -----------------------------------------------------------------------------------


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))


def format_value(value: Any) -> str:
    """Return a metric or param value compactly: floats with 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def format_metrics(metrics: Mapping[str, Any], *, width: int | None = 40) -> str:
    """Return ``k=v k=v`` for metrics, cut at ``width`` characters with '...'."""
    text = " ".join(f"{key}={format_value(value)}" for key, value in sorted(metrics.items()))
    if width is not None and len(text) > width:
        return text[: width - 3] + "..."
    return text


def format_time(iso: str) -> str:
    """Return an ISO timestamp as local 'YYYY-MM-DD HH:MM:SS' (the text itself if unparsable)."""
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def format_table(rows: Iterable[Sequence[str]], headers: Sequence[str] | None = None) -> str:
    """Return rows (under ``headers``, if given) as left-aligned columns two spaces apart."""
    table = [*([list(headers)] if headers else []), *(list(row) for row in rows)]
    if not table:
        return ""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    )


def format_log(summaries: Sequence[ExperimentSummary]) -> str:
    """Return the experiment table `mlvc log` prints."""
    named = any(s.name != s.id for s in summaries)
    headers = ["ID", *(["NAME"] if named else []), "STATUS", "CKPT", "UPDATED", "METRICS", "TAGS"]
    rows = [
        [
            s.id,
            *([s.name] if named else []),
            s.status,
            str(s.checkpoints),
            format_time(s.updated),
            format_metrics(s.metrics),
            ",".join(s.tags),
        ]
        for s in summaries
    ]
    return format_table(rows, headers)


def format_diff(diff: ExperimentDiff) -> str:
    """Return the params, metrics and files sections `mlvc diff` prints."""
    lines = [f"diff {diff.a} -> {diff.b}"]
    params = [
        *([key, format_value(a), format_value(b)] for key, (a, b) in diff.params_changed.items()),
        *([key, "", format_value(v)] for key, v in diff.params_added.items()),
        *([key, format_value(v), ""] for key, v in diff.params_removed.items()),
    ]
    lines += ["", "params"]
    lines += _indent(format_table(params, ["KEY", diff.a, diff.b])) if params else ["  (same)"]
    metrics = [
        [key, _cell(m.get("a")), _cell(m.get("b")), _delta(m.get("delta"))]
        for key, m in diff.metrics.items()
    ]
    lines += ["", "metrics"]
    if metrics:
        lines += _indent(format_table(metrics, ["METRIC", diff.a, diff.b, "DELTA"]))
    else:
        lines += ["  (none recorded)"]
    lines += ["", "files"]
    lines += [f"  {status}  {path}" for status, path in diff.files] or ["  (same)"]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return "-" if value is None else format_value(value)


def _delta(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:+.4g}" if isinstance(value, float) else f"{value:+}"


def _indent(text: str) -> list[str]:
    return [f"  {line}" for line in text.splitlines()]


def _render_status(status: RepoStatus) -> str:
    if status.head is None:
        where = f"{status.branch or '(unborn)'} (no commits yet)"
    elif status.detached:
        where = f"detached HEAD at {status.head[:8]}"
    else:
        where = f"{status.branch} @ {status.head[:8]}"
    rows = [["repository", status.root], ["branch", where], ["state", status.state.value]]
    for label in ("staged", "modified", "untracked", "conflicted"):
        paths = getattr(status, label)
        if paths:
            rows.append([label, _file_list(paths)])
    return format_table(rows)


def _file_list(paths: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(paths[:limit])
    more = f" ... and {len(paths) - limit} more" if len(paths) > limit else ""
    return f"{len(paths)}: {shown}{more}"


_PHASES = ("stage", "strip", "hash", "write_tree", "commit", "ref_update")


def _render_timings(timings: list[dict[str, Any]]) -> str:
    if not timings:
        return "No checkpoint timings recorded on this machine yet."
    rows = [
        [
            format_time(str(t.get("time", ""))),
            str(t.get("id", "?")),
            str(t.get("seq", "?")),
            *(_ms(t.get(phase)) for phase in _PHASES),
            _ms(sum(t.get(phase) or 0.0 for phase in _PHASES)),
            str(t.get("attempts", 1)),
        ]
        for t in reversed(timings)
    ]
    headers = ["WHEN", "EXPERIMENT", "SEQ", *(p.upper().replace("_", "-") for p in _PHASES)]
    note = (
        "How long each phase of the most recent checkpoints took (ms), newest first.\n"
        "`mlvc --verbose <command>` logs every git call with its duration."
    )
    return f"{note}\n{format_table(rows, [*headers, 'TOTAL', 'TRIES'])}"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def _render_record(record: ExperimentRecord) -> str:
    from mlvc_jupyter.core.configs import flatten

    s, large = record.summary, record.large_files
    env = record.environment
    platform = env.get("platform") or {}
    rows = [
        ["experiment", s.id if s.name == s.id else f"{s.id} ({s.name})"],
        ["status", s.status],
        ["checkpoints", str(s.checkpoints)],
        ["created", format_time(s.created)],
        ["updated", format_time(s.updated)],
        ["commit", s.commit[:8]],
        ["started from", f"{s.branch or 'detached'} @ {(s.head or 'no commit')[:8]}"],
        ["tags", ", ".join(s.tags) or "-"],
        ["message", s.message],
        ["python", f"{env.get('python_version', '?')} on {platform.get('system', '?')}"],
    ]
    if record.worktree:
        rows.append(["worktree", record.worktree])
    lines = format_table(rows).splitlines()
    sections: list[tuple[str, list[list[str]]]] = [
        ("metrics", [[k, format_value(v)] for k, v in sorted(s.metrics.items())]),
        ("configs", [[k, format_value(v)] for k, v in flatten(record.configs).items()]),
        ("changed files (vs. the starting commit)", [[p] for p in record.dirty_files]),
        ("large files (left out)", [[f.path, f"{f.size} B", f.sha256[:12]] for f in large]),
        ("notebooks", [[n.get("path", "?"), _notebook_state(n)] for n in record.notebooks]),
        ("timings (ms)", [[k, _ms(v)] for k, v in record.timings.items() if _is_number(v)]),
    ]  # fmt: skip
    for title, rows_ in sections:
        if rows_:
            lines += ["", title, *_indent(format_table(rows_))]
    return "\n".join(lines)


def _notebook_state(notebook: Mapping[str, Any]) -> str:
    if notebook.get("warning"):
        return f"stored as is: {notebook['warning']}"
    return "stripped" if notebook.get("stripped") else "stored"
