"""The handlers of ``mlvc``: one per verb, each parsing its arguments, making one core call and
printing what :mod:`mlvc_jupyter.render` makes of the record (``--json``: ``record.to_dict()``).

The manager and the modules behind it (GitPython among them) are imported inside the handlers,
so ``mlvc strip --stdin``, which git runs once per notebook as a clean filter, starts quickly.
Errors propagate to :func:`mlvc_jupyter.cli.main`, which reports them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlvc_jupyter import blocks, render
from mlvc_jupyter.cli.output import print_error
from mlvc_jupyter.core.configs.values import load_config_file
from mlvc_jupyter.core.files import atomic_write
from mlvc_jupyter.core.repo.gitignore import describe as describe_gitignore
from mlvc_jupyter.errors import MlvcError, NotARepositoryError

if TYPE_CHECKING:
    from collections.abc import Callable

    from mlvc_jupyter.core.manager import ExperimentManager
    from mlvc_jupyter.core.records import Checkpoint

__all__ = [
    "cmd_branch",
    "cmd_commit",
    "cmd_demo",
    "cmd_diff",
    "cmd_end",
    "cmd_filter",
    "cmd_init",
    "cmd_log",
    "cmd_restore",
    "cmd_show",
    "cmd_start",
    "cmd_status",
    "cmd_strip",
    "cmd_tag",
]


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


def _configs(args: argparse.Namespace) -> dict[str, Any] | None:
    return load_config_file(_path(args, args.config)) if args.config else None


def _metrics(args: argparse.Namespace) -> dict[str, Any] | None:
    """Return the metrics given as KEY=VALUE pairs and files, later ones winning."""
    if not args.metrics:
        return None
    metrics: dict[str, Any] = {}
    for item in args.metrics:
        path = _path(args, item)
        if path.is_file():
            metrics.update(load_config_file(path, what="metrics"))
            continue
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise MlvcError(
                f"Cannot read the metric '{item}': it is neither KEY=VALUE nor a file.",
                hint="Write metrics as `--metrics loss=0.31 acc=0.88`, or name a JSON file.",
            )
        metrics[key] = _scalar(raw)
    return metrics


def _metrics_files(args: argparse.Namespace, root: Path) -> list[str]:
    """Return the metrics files given that lie in the project, relative to its root.

    ``reproduce --run`` reads them again after re-running a command that does not call mlvc.
    """
    found = []
    for item in args.metrics or ():
        path = _path(args, item).resolve()
        if path.is_file() and path.is_relative_to(root):
            found.append(path.relative_to(root).as_posix())
    return found


def _scalar(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _print_warnings(checkpoint: Checkpoint) -> None:
    """Name on stderr what the checkpoint could not record as it was (files left out, ...)."""
    for warning in checkpoint.warnings:
        print(f"warning: {warning}", file=sys.stderr)


def _elapsed_ms(start: float) -> str:
    return f"{(time.perf_counter() - start) * 1000:.0f} ms"


# -- handlers: parse, one core call, render ---------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    from mlvc_jupyter.core.manager import ExperimentManager

    manager = ExperimentManager(_path(args, args.path), init=True)
    entries = describe_gitignore(manager.gitignore(add=args.gitignore))
    if not manager.created:
        changed = "" if args.gitignore and entries else " (nothing changed)"
        print(f"Already in a git repository: {manager.root}{changed}.")
        if entries:
            print(entries)
        return 0
    print(f"Initialised a git repository in {manager.root} (branch main, ML .gitignore).")
    if entries:
        print(entries)
    print("Next: `mlvc start <id>` records an experiment; `mlvc filter install` strips notebooks.")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    manager = _manager(args)
    status = manager.status()
    timings = manager.timings(args.limit) if args.timings else None
    if args.json:
        _print_json({**status.to_dict(), **({"timings": timings} if args.timings else {})})
        return 0
    shown = blocks.status_blocks(status)
    if timings is not None:
        shown += blocks.timings_blocks(timings)
    if timings:
        shown.append("`mlvc --verbose <command>` logs every git call with its duration.")
    print(render.as_text(shown))
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    configs = _configs(args)
    manager = _manager(args)
    start = time.perf_counter()
    details: dict[str, Any] = {}
    if args.entry:
        details["entry"] = args.entry
    if args.track:  # checked now; the remote runs open and end with `mlvc end`
        from mlvc_jupyter.core.session import TRACK_KEY
        from mlvc_jupyter.core.tracking import check_backends

        details[TRACK_KEY] = check_backends(args.track)
    checkpoint = manager.start(
        args.experiment_id, name=args.name, configs=configs, message=args.message,
        create_branch=args.branch, resume=args.resume, data=args.data, details=details or None,
    )  # fmt: skip
    verb = "Resumed" if checkpoint.seq > 1 else "Started"
    print(
        f"{verb} {checkpoint.experiment_id}: checkpoint {checkpoint.seq} "
        f"{checkpoint.commit[:8]} ({_elapsed_ms(start)})"
    )
    _print_warnings(checkpoint)
    if args.branch:
        print(f"Branch mlvc/{checkpoint.experiment_id} follows its checkpoints.")
    return 0


def cmd_commit(args: argparse.Namespace) -> int:
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
    _print_warnings(checkpoint)
    return 0


def cmd_end(args: argparse.Namespace) -> int:
    metrics = _metrics(args)
    manager = _manager(args)
    start = time.perf_counter()
    files = _metrics_files(args, manager.root)
    from mlvc_jupyter.core.session import ExperimentSession

    session = ExperimentSession.reopen(manager, args.experiment_id)  # trackers of `start --track`
    checkpoint = session.end(
        metrics=metrics,
        status=args.status,
        tag=args.tag,
        message=args.message,
        details={"metrics_files": files} if files else None,
    )
    tagged = f", tagged {args.tag}" if args.tag else ""
    print(
        f"Ended {checkpoint.experiment_id} ({checkpoint.status}): checkpoint {checkpoint.seq} "
        f"{checkpoint.commit[:8]}{tagged} ({_elapsed_ms(start)})"
    )
    _print_warnings(checkpoint)
    if checkpoint.metrics:
        print(f"metrics  {render.format_metrics(checkpoint.metrics, width=None)}")
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    page = _manager(args).query(
        args.search,
        status=args.status,
        tag=args.tag,
        sort=args.sort,
        offset=args.offset,
        limit=None if args.all else args.limit,
        remotes=args.all,
    )
    if args.json:
        _print_json([s.to_dict() for s in page.items])
    else:
        filtered = bool(args.search or args.status or args.tag)
        print(render.as_text(blocks.page_blocks(page, filtered=filtered)))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    record = _manager(args).show(args.experiment_id)
    if args.json:
        _print_json(record.to_dict())
    else:
        print(render.as_text(blocks.record_blocks(record)))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    diff = _manager(args).diff(args.a, args.b)
    if args.json:
        _print_json(diff.to_dict())
    else:
        print(render.as_text(blocks.diff_blocks(diff)))
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    from mlvc_jupyter.cli.housekeeping import tag_action

    return tag_action(_manager(args), args)


def cmd_branch(args: argparse.Namespace) -> int:
    name = _manager(args).branch(args.experiment_id, args.name, clean=args.clean)
    what = "a clean copy (no .mlvc/) of" if args.clean else "the last checkpoint of"
    print(f"Branch '{name}' points at {what} {args.experiment_id}.")
    print(f"It is not checked out; `git switch {name}` would.")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    # A config snapshot file (taken from -C when relative) or an experiment id: core decides.
    restored = _manager(args).restore(args.source)
    if not restored.files:
        print(f"{args.source} has no config files: nothing on disk changed.")
        return 0
    print(f"Restored {', '.join(restored.files)} from {args.source}.")
    print(f"Your previous files are saved in {restored.safety_ref}")
    print(f"(get one back with `git checkout {restored.safety_ref} -- <path>`).")
    return 0


def cmd_strip(args: argparse.Namespace) -> int:
    from mlvc_jupyter.core.notebooks.strip import UnreadableNotebookError, strip_bytes

    extra_keys, keep_tag = _strip_settings(args)

    def strip(data: bytes) -> bytes:
        return strip_bytes(data, extra_keys=extra_keys, keep_output_tag=keep_tag)

    if not args.files and not args.stdin and args.filter is None and sys.stdin.isatty():
        raise MlvcError(
            "No notebooks to strip: no files were given and nothing is piped in.",
            hint="Name the notebooks (`mlvc strip a.ipynb`) or pipe one in "
            "(`mlvc strip --stdin < a.ipynb`).",
        )
    if not args.files:
        sys.stdout.buffer.write(_strip_stream(sys.stdin.buffer.read(), strip, args.filter))
        sys.stdout.flush()
        return 0
    changed = failed = 0
    for name in args.files:
        path = _path(args, name)
        try:
            data = path.read_bytes()
            stripped = strip(data)
            if stripped != data and not args.dry_run:
                atomic_write(path, stripped)
        except (UnreadableNotebookError, OSError) as exc:
            failed += 1
            print_error(exc, subject=name)
            continue
        if stripped != data:
            changed += 1
            print(f"{'would strip' if args.dry_run else 'stripped'} {name}")
    clean = len(args.files) - changed - failed
    verb = "would be stripped" if args.dry_run else "stripped"
    print(f"{changed} {verb}, {clean} already clean" + (f", {failed} failed" if failed else ""))
    return 1 if failed else 0


def _strip_stream(data: bytes, strip: Callable[[bytes], bytes], filtered: str | None) -> bytes:
    """Strip piped bytes; as git's clean filter (``--filter PATH``) pass unreadable ones through.

    The filter is installed with ``required = true``, so a failure here would stop ``git add``;
    a notebook mlvc cannot read is stored as it is instead, as mlvc's own checkpoints store it.
    """
    from mlvc_jupyter.core.notebooks.strip import UnreadableNotebookError

    try:
        return strip(data)
    except UnreadableNotebookError as exc:
        if filtered is None:
            raise
        print(f"warning: {filtered}: {exc.message} git stores it as it is.", file=sys.stderr)
        return data


def _strip_settings(args: argparse.Namespace) -> tuple[tuple[str, ...], str]:
    """Return (extra keys, keep tag) from the settings of the repository at -C, or defaults."""
    from mlvc_jupyter.core.repo.repository import Repository
    from mlvc_jupyter.core.repo.settings import Settings

    folder = Path(args.C).expanduser()
    settings = Settings()  # outside a repository: nbstripout's defaults
    if folder.is_dir():
        with contextlib.suppress(NotARepositoryError):
            settings = Repository.open(folder, init=False).settings
    return settings.strip_extra_keys, settings.keep_output_tag


def cmd_filter(args: argparse.Namespace) -> int:
    from mlvc_jupyter.core.notebooks import gitfilter

    action = {
        "install": gitfilter.install_filter,
        "uninstall": gitfilter.uninstall_filter,
        "status": gitfilter.filter_status,
    }[args.action]
    status = action(Path(args.C).expanduser())
    if args.merge and args.action != "status":
        _merge_drivers(Path(args.C).expanduser(), install=args.action == "install")
    if status.installed:
        print(f"Installed: git add stores notebooks stripped by `{status.clean_command}`.")
    else:
        print("Not installed: git add stores notebooks as they are on disk.")
    print(f"attributes  {status.attributes_path}")
    if status.clean_command and not status.installed:
        print(f"note: filter.mlvc-strip.clean is still set to `{status.clean_command}`.")
    if status.problem:
        raise MlvcError(
            status.problem,
            hint="Until it can run, git add cannot strip notebooks. Run `mlvc filter install` "
            "with the Python that has mlvc-jupyter installed (`python -m mlvc_jupyter filter "
            "install`), or `mlvc filter uninstall`.",
        )
    return 0


def _merge_drivers(root: Path, *, install: bool) -> None:
    from mlvc_jupyter.core.notebooks import gitfilter

    if not install:
        gitfilter.uninstall_merge_driver(root)
        print("nbdime's merge and diff drivers are no longer configured.")
        return
    for line in gitfilter.install_merge_driver(root):
        print(f"set  {line}")
    print("git merge and git diff now handle notebooks cell by cell with nbdime.")


def cmd_demo(args: argparse.Namespace) -> int:
    from mlvc_jupyter.demo import run_demo

    target = _path(args, args.dir) if args.dir else None
    keep = args.keep or target is not None
    return run_demo(target, keep=keep, lab=args.lab, out=sys.stdout)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))
