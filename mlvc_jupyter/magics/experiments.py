"""The experiment magics: ``%vc_init``, ``%vc_status``, ``%vc_start``, ``%vc_commit``, ``%vc_end``,
``%%vc_experiment``, ``%vc_log``, ``%vc_show``, ``%vc_diff``, ``%vc_tag``, ``%vc_branch``,
``%vc_snapshot``, ``%vc_restore``.

Each magic parses its line with ``magic_arguments`` (so ``%vc_start?`` shows real help), makes one
call to the repository's :class:`~mlvc_jupyter.core.manager.ExperimentManager` and shows a view
from :mod:`mlvc_jupyter.display` that renders as a table. Query magics (status, log, show, diff)
return their view, so ``x = %vc_log`` keeps it. Action magics (init, start, commit, end, tag,
branch, snapshot, restore, reproduce) ``display()`` it and return None: every line of a cell
shows its outcome where it sits, once; the checkpoints of one cell (a training loop) share one
output that shows the latest. Errors are IPython's own ``UsageError`` (a subclass would print a
traceback): the message, then the fix, and Run All stops there.

``--config VAR`` and ``--metrics VAR`` name variables of the notebook (``cfg`` or
``args.config``); how a line is expanded and parsed is :mod:`mlvc_jupyter.magics.lines`'s.

The manager is opened on first use for the kernel's current folder (``%vc_init PATH`` picks
another, and is the only magic that creates a repository). The active experiment belongs to
this kernel. Loading the extension is cheap (about 20 ms): the manager, GitPython and nbformat
are imported on first use, and neither widgets nor the server ever.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.display import display as show

from mlvc_jupyter import display
from mlvc_jupyter.core.repo.gitignore import describe as describe_gitignore
from mlvc_jupyter.errors import MlvcError
from mlvc_jupyter.kernel import KernelSession
from mlvc_jupyter.magics.lines import parse, query_arguments, reports_errors

if TYPE_CHECKING:
    from mlvc_jupyter.core.manager import ExperimentManager

__all__ = ["VCMagics"]


@magics_class
class VCMagics(Magics):
    """Version control for ML experiments: ``%vc_start``, ``%vc_commit``, ``%vc_end``, ..."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.session = KernelSession(shell)
        self._progress: tuple[int, Any] | None = None

    @property
    def manager(self) -> ExperimentManager:
        """Return the repository's manager, opened for the current folder on first use."""
        return self.session.manager

    def reset(self) -> None:
        """Forget the manager and the active experiment (a fresh kernel's state)."""
        self.session.close()
        self.session = KernelSession(self.shell)
        self._progress = None

    def _show(self, view: object, *, progress: bool = False) -> None:
        """Display an action's outcome where its line sits (the magic then returns None).

        With ``progress``, later calls from the same cell replace the output instead of
        adding one: a training loop's checkpoints show as one line, the latest.
        """
        count = self.shell.execution_count if self.shell is not None else None
        if progress and self._progress is not None and self._progress[0] == count:
            self._progress[1].update(view)
        else:
            handle = show(view, display_id=True)
            if progress and count is not None:
                self._progress = (count, handle)
        for warning in self.session.pop_warnings():
            show(display.Notice(warning))

    def _wants_panel(self, args: Any) -> bool:
        """Return True for ``--panel``, or in a notebook kernel with ipywidgets (not ``--text``)."""
        if args.panel or args.text:
            return bool(args.panel)
        from mlvc_jupyter.widgets.base import has_widgets

        return getattr(self.shell, "kernel", None) is not None and has_widgets()

    # -- the repository -------------------------------------------------------------------------

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("path", nargs="?", help="the project folder (default: the current folder)")
    @argument(
        "--gitignore",
        action="store_true",
        help="append the ML .gitignore entries missing from an existing .gitignore",
    )
    def vc_init(self, line: str) -> None:
        """Record this kernel's experiments in the repository of a folder (git init if needed).

        Experiments go to hidden refs (refs/mlvc/...): your branch, HEAD and index stay as
        they are. Without PATH, the current folder is used. A repository is created only here,
        in the folder you name (never in /, your home folder, a bare repository or .git).
        """
        args = parse(self.vc_init, line)
        manager = self.session.use(args.path or os.getcwd())
        root = manager.root
        made = (
            f"Created a git repository in {root} (branch main, ML .gitignore). "
            if (manager.created)
            else ""
        )
        entries = describe_gitignore(manager.gitignore(add=args.gitignore))
        text = f"{made}Recording experiments of {root} under refs/mlvc/."
        self._show(display.Notice(f"{text} {entries}" if entries else text, root))

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("--panel", action="store_true", help="a live panel: refresh, auto-refresh")
    def vc_status(self, line: str) -> display.StatusView:
        """Show the branch, HEAD, dirty files, active experiment and its last checkpoint.

        Experiments this notebook left running (a kernel restart) are named, with the
        commands that continue and end them.
        """
        args = parse(self.vc_status, line)
        if args.panel:
            from mlvc_jupyter.widgets.status import StatusPanel

            return StatusPanel(self.manager.root, session=self.session)  # type: ignore[return-value]  # shows like the view
        active = self.session.active
        last = self.manager.summary(active) if active else None
        running = self.session.left_running()
        return display.StatusView(self.manager.status(), active=active, last=last, running=running)

    # -- recording ------------------------------------------------------------------------------

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("experiment_id", metavar="EXP_ID", help="letters, digits, '.', '_' and '-'")
    @argument("-n", "--name", help="a readable name (default: EXP_ID)")
    @argument("--config", metavar="VAR", help="a notebook variable holding the configs")
    @argument("--branch", action="store_true", help="keep branch mlvc/EXP_ID at each checkpoint")
    @argument(
        "--track",
        metavar="BACKENDS",
        help="create a metric tracker as the variable `tracker` (local, or a list such as "
        "local,mlflow: also wandb, tensorboard): call tracker.log_metrics({...}, step=i); "
        "checkpoints flush it",
    )
    @argument("--seed", type=int, metavar="N", help="seed random, numpy and torch; record N")
    @argument("--resume", action="store_true", help="continue an existing experiment")
    @argument(
        "--data",
        action="append",
        metavar="PATH",
        help="a file or folder the experiment reads: its size, mtime and sha256 are recorded "
        "(repeatable)",
    )
    @argument("--notebook", metavar="PATH", help="this notebook's path, if not detected")
    @argument(
        "--entry",
        metavar="CMD",
        help='the command that re-runs the experiment, e.g. "python train.py" (`%%vc_reproduce '
        "--run` runs it; default: this notebook)",
    )
    @argument(
        "--live",
        action="store_true",
        help="show the tracker's metric curves live, redrawn as tracker.log_metrics is called "
        "(implies --track local)",
    )
    def vc_start(self, line: str) -> None:
        """Start an experiment: record its first checkpoint (code, notebooks, configs).

        Example: `%vc_start lr-0.1 --config cfg --seed 0 --track local`. The snapshot of the
        working tree (notebooks stripped of outputs) and the notebook's execution order go to
        refs/mlvc/experiments/EXP_ID; your branch, HEAD and index are untouched.
        """
        args = parse(self.vc_start, line)
        checkpoint = self.session.start(
            args.experiment_id, seed=args.seed, notebook=args.notebook, name=args.name,
            track=args.track or ("local" if args.live else None),
            configs=self.session.variable(args.config, "--config"),
            create_branch=args.branch, resume=args.resume, data=args.data,
            entry=args.entry,
        )  # fmt: skip
        self._show(display.CheckpointView(checkpoint))
        if args.live:
            from mlvc_jupyter.widgets.live import LivePanel

            self._show(LivePanel.attach(self.session.tracker, path=self.manager.root))

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("-m", "--message", help='what this checkpoint is; "{var}" expands')
    @argument("--config", metavar="VAR", help="a notebook variable with updated configs")
    @argument(
        "--async",
        dest="background",
        action="store_true",
        help="return at once: a background worker records it, bursts coalesce into one "
        "checkpoint listing every message, and %%vc_end waits for it",
    )
    def vc_commit(self, line: str) -> None:
        """Record a checkpoint of the active experiment.

        Example: `%vc_commit -m "epoch {epoch} loss {loss:.3f}" --async` inside a training
        loop. In the line, `{expr}`, `{expr:spec}` and `$name` take values from the notebook;
        write `$$` for a literal `$` and `{{ }}` for braces; an undefined `{name}` leaves the
        whole line as typed.
        """
        args = parse(self.vc_commit, line)
        configs = self.session.variable(args.config, "--config")
        checkpoint = self.session.commit(
            message=args.message, configs=configs, background=args.background
        )
        if checkpoint is None:
            queued = f"Queued a checkpoint of {self.session.active}: {args.message or 'checkpoint'}"
            self._show(display.Notice(queued), progress=True)
        else:
            self._show(display.CheckpointView(checkpoint), progress=True)

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("--metrics", metavar="VAR", help="a dict of final metrics (default: tracker's)")
    @argument("--tag", help="tag the final checkpoint (an annotated git tag)")
    @argument("--status", choices=("success", "failed"), default="success", help="the outcome")
    def vc_end(self, line: str) -> None:
        """End the active experiment: wait for queued checkpoints, record the final one.

        Example: `%vc_end --metrics results --tag v1`.
        """
        args = parse(self.vc_end, line)
        self.session.require_active("vc_end")
        metrics = self.session.metrics(args.metrics)
        self._show(
            display.CheckpointView(
                self.session.end(metrics=metrics, status=args.status, tag=args.tag)
            )
        )

    @cell_magic
    @reports_errors
    @magic_arguments()
    @argument("experiment_id", metavar="EXP_ID", help="letters, digits, '.', '_' and '-'")
    @argument("-n", "--name", help="a readable name (default: EXP_ID)")
    @argument("--config", metavar="VAR", help="a notebook variable holding the configs")
    @argument("--metrics", metavar="VAR", help="a dict variable the cell fills with metrics")
    @argument("--tag", help="tag the final checkpoint (an annotated git tag)")
    def vc_experiment(self, line: str, cell: str) -> None:
        """Run the cell as an experiment: started before it, ended after it.

        If the cell raises, the experiment ends as failed with the error in its record, and
        the error stops Run All.
        """
        args = parse(self.vc_experiment, line)
        self.session.refuse_other_active()
        configs = self.session.variable(args.config, "--config")
        self.session.start(args.experiment_id, name=args.name, configs=configs)
        result = self._run_nested(cell)
        error = result.error_before_exec or result.error_in_exec
        if error is not None:
            self.session.end(error=error)
            raise UsageError(
                f"Experiment '{args.experiment_id}' failed: {type(error).__name__}: {error}\n"
                f"It is recorded as failed with the error (`%vc_show {args.experiment_id}`)."
            )
        metrics = self.session.metrics(args.metrics)
        self._show(
            display.CheckpointView(self.session.end(metrics=metrics, tag=args.tag, configs=configs))
        )

    def _run_nested(self, cell: str) -> Any:
        """Run ``cell`` with the shell (its output shows); keep the outer cell's result slot."""
        shell: Any = self.shell
        hook = shell.displayhook
        outer = getattr(hook, "exec_result", None)
        try:
            return shell.run_cell(cell)
        finally:
            hook.exec_result = outer  # so this magic's return value is the cell's Out[]

    # -- reading --------------------------------------------------------------------------------

    @line_magic
    @reports_errors
    @magic_arguments()
    @query_arguments
    @argument(
        "--all", dest="show_all", action="store_true",
        help="show every match (no --limit), remote-tracking experiments (origin/<id>) too",
    )  # fmt: skip
    @argument("--panel", action="store_true", help="the history panel (default in a notebook)")
    @argument("--text", action="store_true", help="the static table, even in a notebook")
    def vc_log(self, line: str) -> display.ExperimentListView:
        """List experiments, newest first: id, status, metrics, tags.

        Example: `%vc_log --search lr --status success --sort -metrics.acc -n 5`. The options
        are those of `mlvc log`. In a notebook it shows the history panel (sort, filter, page,
        act on rows); `--text` shows the static table.
        """
        args = parse(self.vc_log, line)
        if self._wants_panel(args):
            from mlvc_jupyter.widgets.history import HistoryPanel

            return HistoryPanel(  # type: ignore[return-value]  # shows like the view
                self.manager.root, page_size=args.limit, search=args.search,
                status=args.status, tag=args.tag, sort=args.sort, shell=self.shell,
            )  # fmt: skip
        page = self.manager.query(
            args.search, status=args.status, tag=args.tag, sort=args.sort, offset=args.offset,
            limit=None if args.show_all else args.limit, remotes=args.show_all,
        )  # fmt: skip
        filtered = bool(args.search or args.status or args.tag)
        return display.ExperimentListView(page, filtered=filtered)

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("experiment_id", metavar="EXP_ID", help="the experiment to show")
    def vc_show(self, line: str) -> display.RecordView:
        """Show everything recorded about an experiment's last checkpoint."""
        args = parse(self.vc_show, line)
        return display.RecordView(
            self.manager.show(args.experiment_id),
            curves=self.manager.metric_curves(args.experiment_id),
        )

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("a", metavar="EXP_A", help="the experiment to compare from")
    @argument("b", metavar="EXP_B", help="the experiment to compare to")
    @argument("more", metavar="EXP", nargs="*", help="more experiments, compared with EXP_A")
    @argument("--panel", action="store_true", help="the compare panel (default in a notebook)")
    @argument("--text", action="store_true", help="the static tables, even in a notebook")
    def vc_diff(self, line: str) -> display.DiffView:
        """Compare two experiments: params, metrics and changed files.

        With more ids, each is compared with EXP_A. In a notebook it shows the compare panel
        (metric curves plotted together, notebook diffs); `--text` shows the tables.
        """
        args = parse(self.vc_diff, line)
        ids = [args.a, args.b, *args.more]
        if self._wants_panel(args):
            from mlvc_jupyter.widgets.compare import ComparePanel

            return ComparePanel(self.manager.root, ids)  # type: ignore[return-value]  # shows like the view
        if args.more:
            return display.ComparisonView(self.manager.compare(ids))  # type: ignore[return-value]  # shows like the view
        return display.DiffView(self.manager.diff(args.a, args.b))

    # -- labels and configs (%vc_reproduce: magics_reproduce.py) ------------------------------

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("experiment_id", metavar="EXP_ID", nargs="?", help="the experiment to tag")
    @argument("tag", metavar="TAG", nargs="?", help="the tag name, e.g. best")
    @argument("-f", "--force", action="store_true", help="move the tag if it exists")
    @argument("--bump", choices=("major", "minor", "patch"), help="tag the next vX.Y.Z")
    @argument("--prefix", default="", help="the release line --bump follows, e.g. bert-")
    @argument("--list", action="store_true", help="list the tags mlvc made (EXP_ID's)")
    @argument("--delete", metavar="TAG", help="delete a tag (kept in the trash until gc)")
    def vc_tag(self, line: str) -> Any:
        """Tag an experiment's last checkpoint; list, delete or bump version tags."""
        args = parse(self.vc_tag, line)
        if args.list:
            return display.TagsView(self.manager.tags(args.experiment_id))
        if args.delete:
            kept = self.manager.delete_tag(args.delete)
            self._show(display.Notice(
                f"Deleted tag {args.delete}; kept as {kept} until %vc_gc expires it "
                f"(undo: `git update-ref refs/tags/{args.delete} {kept}`).", kept,
            ))  # fmt: skip
            return None
        if not args.experiment_id or bool(args.tag) == bool(args.bump):
            raise MlvcError(
                "%vc_tag needs an experiment and either a tag name or --bump.",
                hint="For example `%vc_tag lr-0.1 best`, `%vc_tag lr-0.1 --bump patch`, "
                "`%vc_tag --list` or `%vc_tag --delete best`.",
            )
        if args.bump:
            tag = self.manager.bump_tag(args.experiment_id, args.bump, prefix=args.prefix)
        else:
            tag = self.manager.tag(args.experiment_id, args.tag, force=args.force)
        self._show(display.Notice(f"Tagged {args.experiment_id} as {tag}.", tag))
        return None

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("experiment_id", metavar="EXP_ID", help="the experiment to branch from")
    @argument("name", metavar="NAME", nargs="?", help="the branch name (mlvc/EXP_ID)")
    @argument("--clean", action="store_true", help="without mlvc's .mlvc/ records (mergeable)")
    def vc_branch(self, line: str) -> None:
        """Create a real branch (mlvc/EXP_ID) at an experiment's last checkpoint."""
        args = parse(self.vc_branch, line)
        branch = self.manager.branch(args.experiment_id, args.name, clean=args.clean)
        what = "a clean copy of " if args.clean else ""
        self._show(
            display.Notice(f"Created branch {branch} at {what}{args.experiment_id}.", branch)
        )

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("--config", metavar="VAR", help="a notebook variable holding the configs")
    def vc_snapshot(self, line: str) -> None:
        """Save the configs and the repository's config files to a config snapshot."""
        args = parse(self.vc_snapshot, line)
        configs = self.session.variable(args.config, "--config")
        path = self.manager.save_configs(configs if configs is not None else {})
        self._show(display.Notice(f"Config snapshot saved to {path}.", path))

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument(
        "source",
        metavar="SNAPSHOT_PATH_OR_EXP_ID",
        help="a file %%vc_snapshot wrote, or an experiment id (its last checkpoint's configs)",
    )
    def vc_restore(self, line: str) -> None:
        """Restore config files from a snapshot file or an experiment, saving yours first."""
        args = parse(self.vc_restore, line)
        self._show(display.RestoreView(self.manager.restore(args.source)))
