"""The ``mlvc`` command: the verbs of the Python API and the magics, for shells, scripts and CI.

:mod:`~mlvc_jupyter.cli.parser` builds the argument parser; each subcommand's handler in
:mod:`~mlvc_jupyter.cli.commands` makes one call into :mod:`mlvc_jupyter.core` and prints the
record it gets back, rendered by :mod:`mlvc_jupyter.render` (``--json`` prints ``to_dict()``); no
business logic lives here. Errors are translated once, in :func:`main`: an
:class:`~mlvc_jupyter.errors.MlvcError` becomes ``error:`` and ``hint:`` lines on stderr and exit
status 1 (``--verbose`` adds the traceback); invalid usage exits 2.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Sequence

from mlvc_jupyter.cli.output import print_error
from mlvc_jupyter.cli.parser import build_parser
from mlvc_jupyter.core.reading.options import join_dash_values
from mlvc_jupyter.errors import MlvcError

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mlvc`` command line and return its exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(join_dash_values(sys.argv[1:] if argv is None else argv))
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
    except BrokenPipeError:  # `mlvc log | head`: the reader left; say nothing more
        _silence_stdout()
        return 1
    except (MlvcError, OSError) as exc:  # OSError: a file the user named cannot be used
        if args.verbose:
            traceback.print_exc(file=sys.stderr)
        print_error(exc)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
    return status


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
