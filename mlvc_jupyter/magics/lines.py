"""How a magic's line becomes its arguments: expansion, shell-like splitting, argparse, errors.

Strings such as ``-m`` are expanded the IPython way before parsing, plus format specs:
``{expr}``, ``{expr:spec}`` and ``$name`` take values from the notebook, or from the function a
magic runs in (``-m "epoch {epoch}"``, ``-m "loss {loss:.3f}"``, ``-m "{round(loss, 4)}"``).
Write ``$$`` for a literal ``$`` (``$5`` would become ``5``) and ``{{``/``}}`` for literal
braces; if a name in braces is undefined (or a spec does not fit its value), the whole line is
left unexpanded (:mod:`mlvc_jupyter.magics.expansion`). Then the line is split as a shell would, and
an ``MlvcError`` becomes IPython's own ``UsageError``: the message, then the fix, no traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from IPython.core.error import UsageError
from IPython.core.magic import Magics, needs_local_scope, no_var_expand
from IPython.core.magic_arguments import argument
from IPython.utils.process import arg_split  # type: ignore[attr-defined]  # public, no __all__

from mlvc_jupyter.core.reading.options import QUERY_OPTIONS, join_dash_values
from mlvc_jupyter.core.reproduction.options import REPRODUCE_OPTIONS
from mlvc_jupyter.errors import MlvcError
from mlvc_jupyter.magics.expansion import expand

if TYPE_CHECKING:
    from mlvc_jupyter.magics.experiments import VCMagics

__all__ = ["MagicFamily", "parse", "query_arguments", "reports_errors", "reproduce_arguments"]

_F = TypeVar("_F", bound=Callable[..., Any])


class MagicFamily(Magics):
    """A family of magics beside :class:`~mlvc_jupyter.magics.experiments.VCMagics`.

    ``main`` is the extension's ``VCMagics``: the families share its manager, kernel session and
    display (``main._show``), so every magic of a kernel sees the same repository and experiment.
    """

    def __init__(self, shell: Any, main: VCMagics) -> None:
        super().__init__(shell)
        self.main = main


def parse(magic: Any, line: str) -> Any:
    """Parse a magic's line with its magic_arguments parser, removing quotes as a shell does.

    IPython's ``parse_argstring`` keeps the quotes (``-m "a b"`` gives ``"a b"``).
    """
    try:
        argv = arg_split(line, posix=True)
    except ValueError as exc:  # shlex: "No closing quotation"
        raise UsageError(f"Cannot read {line!r}: {exc}.\nClose the quotes and retry.") from None
    return magic.parser.parse_args(join_dash_values(argv))


def query_arguments(func: _F) -> _F:
    """Add the query options ``mlvc log`` takes (one table in core) to a magic."""
    for flags, options in reversed(QUERY_OPTIONS):
        func = argument(*flags, **options)(func)
    return func


def reproduce_arguments(func: _F) -> _F:
    """Add the options ``mlvc reproduce`` takes (one table in core) to a magic."""
    for flags, options in reversed(REPRODUCE_OPTIONS):
        func = argument(*flags, **options)(func)
    return func


def reports_errors(func: _F) -> _F:
    """Turn an MlvcError into IPython's own UsageError (message, then hint): no traceback.

    The line is expanded here (:func:`~mlvc_jupyter.magics.expansion.expand`), not by IPython,
    from the notebook's variables and the scope the magic runs in.
    """

    @functools.wraps(func)
    def wrapper(self: Any, line: str, *cell: str, local_ns: Any = None) -> Any:
        try:
            return func(self, expand(line, {**self.shell.user_ns, **(local_ns or {})}), *cell)
        except MlvcError as exc:
            raise UsageError(str(exc)) from None

    return needs_local_scope(no_var_expand(wrapper))  # type: ignore[no-any-return]  # IPython's decorators are untyped
