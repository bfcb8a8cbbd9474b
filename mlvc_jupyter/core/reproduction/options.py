"""What a reproduction is asked to do, and the ``%vc_reproduce`` line that asks it again.

The same options reach core from the magic, the CLI, the Python API and the panels;
:func:`reproduce_cell_text` writes them back as one ``%vc_reproduce`` line, the text that
``--cell``, the history panel's "reproduce cell" and the sidebar's "Reproduce here" insert.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlvc_jupyter.core.records import _Record
from mlvc_jupyter.core.reproduction.verdict import Tolerance, parse_tolerance
from mlvc_jupyter.errors import MlvcError

__all__ = ["REPRODUCE_OPTIONS", "ReproduceOptions", "options_from", "reproduce_cell_text"]

_DEFAULT = Tolerance()

REPRODUCE_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("--run",), {
        "action": "store_true",
        "help": "re-run its notebook (or --entry command) there and judge its final metrics",
    }),
    (("--dir",), {
        "metavar": "PATH",
        "help": "a new or empty folder for it (default: reproductions/EXP_ID at the project root)",
    }),
    (("--checkpoint",), {
        "type": int, "metavar": "N", "help": "check out checkpoint N (default: the last)",
    }),
    (("--inplace",), {
        "action": "store_true",
        "help": "restore it into your working tree instead, after a safety ref (undo: "
        "`mlvc undo`, `%%vc_undo`); HEAD, branches and your index do not move",
    }),
    (("--rtol",), {
        "type": float, "default": _DEFAULT.rtol, "metavar": "X",
        "help": f"relative tolerance of every metric (default {_DEFAULT.rtol:g})",
    }),
    (("--atol",), {
        "type": float, "default": _DEFAULT.atol, "metavar": "X",
        "help": f"absolute tolerance of every metric (default {_DEFAULT.atol:g})",
    }),
    (("--tolerance",), {
        "action": "append", "metavar": "NAME=RTOL",
        "help": "one metric's relative tolerance (repeatable)",
    }),
)  # fmt: skip
"""The options ``mlvc reproduce`` and ``%vc_reproduce`` share (same flags, same meaning)."""


@dataclass(frozen=True, slots=True)
class ReproduceOptions(_Record):
    """How to reproduce: where, which checkpoint, whether to re-run, and the tolerance."""

    run: bool = False
    dir: str | None = None
    checkpoint: int | None = None
    tolerance: Tolerance = field(default_factory=Tolerance)
    load: str | None = None
    """A notebook variable to put the recorded configs into (notebooks only)."""


def options_from(args: Any, *, load: str | None = None) -> ReproduceOptions:
    """Return the options an argument parser with :data:`REPRODUCE_OPTIONS` read.

    Raises:
        MlvcError: a ``--tolerance`` is not ``NAME=RTOL``, or a tolerance is negative.
    """
    pairs: Sequence[str] = args.tolerance or ()
    per_metric = dict(parse_tolerance(text) for text in pairs)
    for name, value in (("--rtol", args.rtol), ("--atol", args.atol)):
        if not value >= 0:  # negative, or nan
            raise MlvcError(
                f"{name} {value} is not a tolerance.", hint=f"Give {name} 0 or more, e.g. 1e-6."
            )
    tolerance = Tolerance(rtol=args.rtol, atol=args.atol, per_metric=per_metric)
    return ReproduceOptions(
        run=args.run, dir=args.dir, checkpoint=args.checkpoint, tolerance=tolerance, load=load
    )


def reproduce_cell_text(experiment_id: str, options: ReproduceOptions | None = None) -> str:
    """Return the ``%vc_reproduce`` line that reproduces ``experiment_id`` with ``options``.

    Defaults are left out, so ``reproduce_cell_text("exp1")`` is ``%vc_reproduce exp1``.
    """
    given = options or ReproduceOptions()
    default = _DEFAULT
    words = ["%vc_reproduce", experiment_id]
    if given.run:
        words.append("--run")
    if given.checkpoint is not None:
        words += ["--checkpoint", str(given.checkpoint)]
    if given.dir is not None:
        words += ["--dir", given.dir]
    if given.load is not None:
        words += ["--load", given.load]
    if given.tolerance.rtol != default.rtol:
        words += ["--rtol", repr(given.tolerance.rtol)]
    if given.tolerance.atol != default.atol:
        words += ["--atol", repr(given.tolerance.atol)]
    for name, rtol in sorted(given.tolerance.per_metric.items()):
        words += ["--tolerance", f"{name}={rtol!r}"]
    return shlex.join(words)
