"""The reproduction magic: ``%vc_reproduce``.

It parses its line into core's reproduce options (the same table ``mlvc reproduce`` uses), makes
one call to the manager (:mod:`mlvc_jupyter.core.reproduction.pipeline` does the work) and
displays the result where the line sits: the checkout, the drift report and, after ``--run``,
the verdict. ``--cell`` inserts the same line as a cell below instead (the text the history
panel and the sidebar insert too); ``--load VAR`` puts the recorded configs into ``VAR``.
"""

from __future__ import annotations

from typing import Any

from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from mlvc_jupyter import display
from mlvc_jupyter.core.reproduction.linking import reproducing
from mlvc_jupyter.core.reproduction.options import options_from, reproduce_cell_text
from mlvc_jupyter.magics.lines import MagicFamily, parse, reports_errors, reproduce_arguments
from mlvc_jupyter.magics.undo import restore_inplace

__all__ = ["ReproduceMagics"]


@magics_class
class ReproduceMagics(MagicFamily):
    """Reproduce experiments: ``%vc_reproduce``."""

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("experiment_id", metavar="EXP_ID", help="the experiment to reproduce")
    @reproduce_arguments
    @argument("--load", metavar="VAR", help="put the recorded configs into the variable VAR")
    @argument(
        "--cell", action="store_true", help="insert this line, without --cell, as a cell below"
    )
    def vc_reproduce(self, line: str) -> None:
        """Check an experiment out, report its drift, and with --run re-run it.

        Example: `%vc_reproduce lr-0.1 --run --tolerance loss=1e-3`. The checkout goes to
        reproductions/EXP_ID (kept out of git status); --run executes the recorded notebook in
        a fresh kernel there, records it as EXP_ID-repro<N> and shows the verdict. `--load cfg`
        alone only loads the last checkpoint's configs into `cfg`. In a notebook that is itself
        being re-run, only --load acts.
        """
        args = parse(self.vc_reproduce, line)
        if args.inplace:
            restore_inplace(self.main, args)
            return
        options = options_from(args, load=args.load)
        if args.cell:
            text = reproduce_cell_text(args.experiment_id, options)
            shell: Any = self.shell
            shell.set_next_input(text, replace=False)
            self.main._show(display.Notice(f"Inserted a cell below: {text}", text))
            return
        only_load = args.load and not (args.run or args.dir or args.checkpoint)
        if only_load or (args.load and reproducing()):
            self._load(args.load, self.main.manager.show(args.experiment_id).configs)
            return
        original = reproducing()
        if original is not None:
            skipped = f"Skipped: this notebook is being re-run to reproduce {original}."
            self.main._show(display.Notice(skipped))
            return
        self.main._show(display.ReproductionView(self._reproduction(args.experiment_id, options)))

    def _reproduction(self, experiment_id: str, options: Any) -> Any:
        """Reproduce with progress bars (checkout steps, then cells), loading configs if asked."""
        from mlvc_jupyter.widgets.progress import ProgressBar

        with (
            ProgressBar(f"checking out {experiment_id}") as checkout,
            ProgressBar(f"re-running {experiment_id}") as cells,
        ):
            result = self.main.manager.reproduction(
                experiment_id, options, on_progress=checkout, on_run_progress=cells
            )
        if options.load:
            self._load(options.load, result.configs)
        return result

    def _load(self, name: str, configs: Any) -> None:
        shell: Any = self.shell
        shell.user_ns[name] = configs
        self.main._show(display.Notice(f"Loaded the recorded configs into `{name}`.", name))
