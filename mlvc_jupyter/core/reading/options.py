"""The options of an experiment query, as every face spells them: one table, no heavy import.

``mlvc log`` and ``%vc_log`` add :data:`QUERY_OPTIONS` to their argument parsers, so both take
``--search/--status/--tag/--sort/--limit/--offset`` with the same meaning; each option's ``dest``
is the keyword of :func:`mlvc_jupyter.core.reading.query.query`; numbers are checked as they are
parsed (a usage error). This module imports only the records, so the CLI's start-up stays cheap
(git runs ``mlvc strip --stdin`` once per notebook).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

from mlvc_jupyter.core.records import ExperimentSummary

__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_SORT",
    "MAX_LIMIT",
    "QUERY_OPTIONS",
    "SORT_FIELDS",
    "STATUSES",
    "join_dash_values",
]

STATUSES = ("running", "success", "failed")
SORT_FIELDS = (
    *(f.name for f in fields(ExperimentSummary) if f.name not in ("metrics", "extra")),
    "duration",
)
"""The summary's fields, and ``duration`` (seconds from the first checkpoint to the last)."""
DEFAULT_SORT = "-created"
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


def _count(low: int, high: int | None) -> Callable[[str], int]:
    """Return an argparse ``type`` reading a whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            limits = f"from {low} to {high}" if high is not None else f"{low} or more"
            raise argparse.ArgumentTypeError(f"{text!r} must be {limits}")
        return value

    return parse


_SORT_HELP = (
    f"order by a field ({', '.join(SORT_FIELDS)}) or a metric (metrics.<name>); a leading '-' "
    f"sorts descending; missing values come last (default {DEFAULT_SORT})"
)

QUERY_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("--search",), {
        "metavar": "TEXT",
        "help": "only experiments whose id, name, message or tags contain TEXT (any case)",
    }),
    (("--status",), {"choices": STATUSES, "help": "only experiments with this status"}),
    (("--tag",), {"metavar": "TAG", "help": "only experiments carrying this tag"}),
    (("--sort",), {"metavar": "KEY", "default": DEFAULT_SORT, "help": _SORT_HELP}),
    (("-n", "--limit"), {
        "type": _count(1, MAX_LIMIT),
        "metavar": "N",
        "default": 20,
        "help": f"show at most N experiments, 1 to {MAX_LIMIT} (default 20)",
    }),
    (("--offset",), {
        "type": _count(0, None),
        "metavar": "K",
        "default": 0,
        "help": "skip the first K matches (default 0)",
    }),
)  # fmt: skip
"""The options of ``mlvc log`` and ``%vc_log`` as (flags, argparse keywords): one table, so
both faces spell them alike. ``dest`` of each is the keyword of :func:`query`."""


_TEXT_OPTIONS = ("--search", "--tag", "--sort")


def join_dash_values(argv: Sequence[str]) -> list[str]:
    """Return ``argv`` with ``--sort -metrics.loss`` written as ``--sort=-metrics.loss``.

    argparse reads a word after an option that starts with '-' as another option (and
    ``-name`` even as ``-n ame``), so a descending sort key would fail to parse. Call this on
    the arguments before parsing them.
    """
    result: list[str] = []
    for arg in argv:
        if result and result[-1] in _TEXT_OPTIONS and arg.startswith("-") and arg != "--":
            result[-1] = f"{result[-1]}={arg}"
        else:
            result.append(arg)
    return result
