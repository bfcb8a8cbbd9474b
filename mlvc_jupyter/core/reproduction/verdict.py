"""The verdict: did the re-run give the experiment's final metrics again, within tolerance?

Every final metric of the original is compared with the re-run's: numbers pass when
``|reproduced - original| <= atol + rtol * |original|`` (numpy's ``isclose``, one-sided on the
original), anything else when equal. One metric's relative tolerance can be set on its own
(``--tolerance NAME=RTOL``). The outcome is ``reproduced``, ``not reproduced`` or ``could not
run`` (with the reason: the re-run failed, or recorded nothing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mlvc_jupyter.core.records import _Record, number_delta
from mlvc_jupyter.errors import MlvcError

__all__ = [
    "COULD_NOT_RUN",
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "NOT_REPRODUCED",
    "REPRODUCED",
    "MetricCheck",
    "Tolerance",
    "Verdict",
    "could_not_run",
    "judge",
    "parse_tolerance",
]

Outcome = Literal["reproduced", "not reproduced", "could not run"]
REPRODUCED: Outcome = "reproduced"
NOT_REPRODUCED: Outcome = "not reproduced"
COULD_NOT_RUN: Outcome = "could not run"
DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 0.0


@dataclass(frozen=True, slots=True)
class Tolerance(_Record):
    """How close a reproduced metric must be: ``rtol``/``atol`` for all, ``per_metric`` rtols."""

    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    per_metric: dict[str, float] = field(default_factory=dict)

    def rtol_of(self, metric: str) -> float:
        """Return the relative tolerance of ``metric``."""
        return self.per_metric.get(metric, self.rtol)


@dataclass(frozen=True, slots=True)
class MetricCheck(_Record):
    """One final metric: original, reproduced, their delta and whether it is within tolerance."""

    name: str
    original: Any
    reproduced: Any
    delta: float | int | None
    rtol: float
    within: bool


@dataclass(frozen=True, slots=True)
class Verdict(_Record):
    """The table of final metrics and the one-line outcome."""

    outcome: Outcome
    metrics: list[MetricCheck]
    tolerance: Tolerance
    reason: str | None = None
    """Why it could not run, or which metrics differ."""
    run_id: str | None = None
    """The linked experiment the re-run recorded (``<id>-repro<N>``)."""

    @property
    def exit_code(self) -> int:
        """Return the CLI's exit status: 0 reproduced, 1 not reproduced, 2 could not run."""
        return {REPRODUCED: 0, NOT_REPRODUCED: 1, COULD_NOT_RUN: 2}[self.outcome]

    @property
    def line(self) -> str:
        """Return the outcome as one line, with its reason."""
        return f"{self.outcome}: {self.reason}" if self.reason else self.outcome


def judge(
    original: Mapping[str, Any],
    reproduced: Mapping[str, Any],
    tolerance: Tolerance,
    *,
    run_id: str | None = None,
) -> Verdict:
    """Compare every final metric of ``original`` with ``reproduced``; return the verdict."""
    checks = [
        _check(name, original.get(name), reproduced.get(name), tolerance)
        for name in sorted(original.keys() | reproduced.keys())
    ]
    failed = [check.name for check in checks if not check.within]
    if not original:
        return could_not_run("the original experiment recorded no final metrics", tolerance,
                             run_id=run_id, metrics=checks)  # fmt: skip
    if failed:
        reason = (
            f"{', '.join(failed)} {'differs' if len(failed) == 1 else 'differ'} beyond tolerance"
        )
        return Verdict(NOT_REPRODUCED, checks, tolerance, reason=reason, run_id=run_id)
    return Verdict(REPRODUCED, checks, tolerance, run_id=run_id)


def could_not_run(
    reason: str,
    tolerance: Tolerance,
    *,
    run_id: str | None = None,
    metrics: list[MetricCheck] | None = None,
) -> Verdict:
    """Return the verdict of a re-run that failed or recorded nothing."""
    return Verdict(COULD_NOT_RUN, metrics or [], tolerance, reason=reason, run_id=run_id)


def _check(name: str, original: Any, reproduced: Any, tolerance: Tolerance) -> MetricCheck:
    rtol = tolerance.rtol_of(name)
    delta = number_delta(original, reproduced)
    if delta is not None:
        both_nan = math.isnan(original) and math.isnan(reproduced)
        within = both_nan or abs(delta) <= tolerance.atol + rtol * abs(original)
    else:
        within = original is not None and original == reproduced
    return MetricCheck(name, original, reproduced, delta, rtol, within)


def parse_tolerance(text: str) -> tuple[str, float]:
    """Return ``(name, rtol)`` of a ``NAME=RTOL`` option.

    Raises:
        MlvcError: it is not of that form, or RTOL is not a non-negative number.
    """
    name, sep, value = text.partition("=")
    try:
        rtol = float(value)
    except ValueError:
        rtol = -1.0
    if not sep or not name.strip() or not rtol >= 0:
        raise MlvcError(
            f"--tolerance {text!r} is not NAME=RTOL.",
            hint="Give a metric name and a relative tolerance, e.g. `--tolerance loss=1e-3`.",
        )
    return name.strip(), rtol
