"""The sharing magics: ``%vc_push``, ``%vc_pull`` and ``%vc_share``.

Each parses its line, makes one call to the manager (:mod:`mlvc_jupyter.core.sharing.remotes`
does the work) and displays the report where the line sits. A transfer shows progress: a widget
bar in a notebook kernel with ipywidgets, text lines elsewhere.
"""

from __future__ import annotations

from typing import Any

from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from mlvc_jupyter.magics.lines import MagicFamily, parse, reports_errors
from mlvc_jupyter.sharing_views import ShareView, TransferView
from mlvc_jupyter.widgets.progress import TextProgress

__all__ = ["SharingMagics"]


@magics_class
class SharingMagics(MagicFamily):
    """Share experiments through git remotes: ``%vc_push``, ``%vc_pull``, ``%vc_share``."""

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("remote", nargs="?", metavar="REMOTE", help="a remote's name (default: origin)")
    @argument("ids", nargs="*", metavar="EXP_ID", help="only these experiments (default: all)")
    @argument(
        "--force", action="store_true",
        help="replace the remote's experiment, only if it still is what the last pull saw",
    )  # fmt: skip
    def vc_push(self, line: str) -> None:
        """Push experiments and their tags to a remote (never overwriting the remote's work).

        Example: `%vc_push`, `%vc_push origin lr-0.1 lr-0.01`. An experiment the remote has
        newer checkpoints of is rejected: `%vc_pull` first.
        """
        args = parse(self.vc_push, line)
        with _progress(f"pushing to {args.remote or 'origin'}") as progress:
            report = self.main.manager.push(
                args.remote, args.ids, force=args.force, on_progress=progress
            )
        self.main._show(TransferView(report))

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("remote", nargs="?", metavar="REMOTE", help="a remote's name (default: origin)")
    def vc_pull(self, line: str) -> None:
        """Fetch a remote's experiments and tags; a diverged one stays readable as REMOTE/ID.

        Example: `%vc_pull`, then `%vc_diff e1 origin/e1` for an experiment both sides
        recorded. New and fast-forwarded experiments move; nothing is overwritten.
        """
        args = parse(self.vc_pull, line)
        with _progress(f"pulling from {args.remote or 'origin'}") as progress:
            report = self.main.manager.pull(args.remote, on_progress=progress)
        self.main._show(TransferView(report))

    @line_magic
    @reports_errors
    @magic_arguments()
    @argument("remote", nargs="?", metavar="REMOTE", help="a remote's name (default: origin)")
    @argument("--disable", action="store_true", help="remove exactly the lines --enable added")
    @argument("--enable", action="store_true", help="(the default) add the refspecs")
    def vc_share(self, line: str) -> None:
        """Make plain `git fetch`/`git push` of REMOTE carry experiments (opt-in).

        Example: `%vc_share origin`, `%vc_share origin --disable`.
        """
        args = parse(self.vc_share, line)
        self.main._show(ShareView(self.main.manager.share(args.remote, enable=not args.disable)))


def _progress(description: str) -> Any:
    """Return a widget bar in a notebook kernel with ipywidgets, else text progress."""
    from mlvc_jupyter.widgets.progress import ProgressBar

    bar = ProgressBar(description)
    return bar if bar.show else TextProgress(description)
