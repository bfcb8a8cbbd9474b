"""Shared helpers of the benchmarks: git calls, the round-robin timer, statistics, the table.

Method (see benchmarks/README.md): the methods of one benchmark run in the same rounds,
round-robin, odd rounds in reverse order, so a slow spell of the shared machine hits every method
alike; each method's sample of round ``i`` is divided by the baseline's sample of the same round
(paired ratio), and medians are quoted, never maxima.
"""

from __future__ import annotations

import gc
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("MLVC_BENCH_CACHE") or BENCH_DIR / ".cache")  # override for CI
RESULTS = BENCH_DIR / "results"

IDENTITY = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


# -- git ---------------------------------------------------------------------------------------


def git_env(*, date: str | None = None, **extra: str) -> dict[str, str]:
    """Return an environment for git with a fixed identity (and dates, if given)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(IDENTITY, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    if date is not None:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    env.update(extra)
    return env


def git(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
) -> bytes:
    """Run git in ``cwd`` and return stdout; raise with git's stderr on failure."""
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=dict(env) if env is not None else git_env(),
        input=stdin,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def fresh_copy(template: Path, dest: Path, *, link_prefixes: Sequence[str] = ()) -> Path:
    """Copy a repository (work tree and .git) to ``dest``, replacing it; refresh its index.

    Files under ``link_prefixes`` (relative paths, e.g. the ignored 200 MB checkpoint) are
    hard-linked instead of copied: the benchmarks never write them.
    """
    if dest.exists():
        shutil.rmtree(dest)

    def copy(src: str, dst: str) -> str:
        rel = os.path.relpath(src, template)
        if any(rel.startswith(prefix) for prefix in link_prefixes):
            os.link(src, dst)
            return dst
        return shutil.copy2(src, dst)

    shutil.copytree(template, dest, copy_function=copy, symlinks=True)
    # New inodes and ctimes: refresh the stat cache once, as the user's own git would.
    git(dest, "update-index", "-q", "--refresh")
    return dest


# -- the round-robin timer ---------------------------------------------------------------------


@dataclass
class Task:
    """One method of a benchmark: ``setup``, ``run`` (timed) and ``teardown``, every round.

    If ``run`` returns a number, that is the sample (in the benchmark's unit) instead of the
    wall time around it.
    """

    name: str
    run: Callable[[], object]
    setup: Callable[[], object] | None = None
    teardown: Callable[[], object] | None = None


def round_robin(
    tasks: Sequence[Task],
    *,
    rounds: int,
    warmup: int = 1,
    label: str = "",
) -> dict[str, list[float]]:
    """Run every task once per round, odd rounds in reverse; return samples per task (s)."""
    samples: dict[str, list[float]] = {task.name: [] for task in tasks}
    for r in range(warmup + rounds):
        order = list(tasks) if r % 2 == 0 else list(reversed(tasks))
        for task in order:
            if task.setup is not None:
                task.setup()
            gc.collect()
            start = time.perf_counter()
            result = task.run()
            elapsed = time.perf_counter() - start
            if task.teardown is not None:
                task.teardown()
            if r >= warmup:
                own = isinstance(result, int | float) and not isinstance(result, bool)
                samples[task.name].append(float(result) if own else elapsed)
        if label:
            done = max(0, r + 1 - warmup)
            progress(f"{label}: round {done}/{rounds}")
    if label:
        progress("")
    return samples


def paired_ratios(samples: Mapping[str, list[float]], baseline: str) -> dict[str, list[float]]:
    """Return, per task, the per-round ratio of its sample to the baseline's sample."""
    base = samples[baseline]
    return {
        name: [v / b for v, b in zip(values, base, strict=True) if b > 0]
        for name, values in samples.items()
    }


_last_progress = [0.0]


def progress(text: str) -> None:
    """Show a status line on stderr: rewritten in place on a terminal, every 15 s in a log."""
    if sys.stderr.isatty():
        print(f"\r\033[K{text}", end="", file=sys.stderr, flush=True)
    elif text and time.monotonic() - _last_progress[0] > 15:
        _last_progress[0] = time.monotonic()
        print(text, file=sys.stderr, flush=True)


# -- statistics and the table ------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


@dataclass
class Row:
    """One line of the results table.

    ``values`` are samples in ``unit``; ``ratios`` the paired ratios against the benchmark's
    baseline (None for the baseline itself and for rows without one); ``limit`` is the target
    as a number checked against the median of ``values`` (or of ``ratios`` when
    ``limit_on_ratio``).
    """

    bench: str
    method: str
    values: list[float]
    unit: str = "ms"
    ratios: list[float] | None = None
    target: str = ""
    limit: float | None = None
    limit_on_ratio: bool = False
    baseline: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def verdict(self) -> str:
        if self.limit is None:
            return ""
        if self.limit_on_ratio:
            if not self.ratios:
                return "n/a"
            value = statistics.median(self.ratios)
        else:
            value = self.median
        return "PASS" if value <= self.limit else "MISS"


def fmt(value: float) -> str:
    """Format a number with about three significant digits."""
    if value != value:  # NaN
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def scaled(samples: Sequence[float], unit: str) -> list[float]:
    """Convert samples in seconds to ``unit`` (ms or µs)."""
    factor = {"s": 1.0, "ms": 1e3, "µs": 1e6}[unit]
    return [v * factor for v in samples]


def markdown_table(rows: Sequence[Row]) -> str:
    """Return the results as a markdown table."""
    lines = [
        "| benchmark | method | median | range (min–max) | n | paired ratio vs baseline "
        "(median, range) | target | result |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    previous = None
    for row in rows:
        bench = row.bench if row.bench != previous else ""
        previous = row.bench
        if row.ratios:
            ratio = (
                f"{fmt(statistics.median(row.ratios))}x "
                f"({fmt(min(row.ratios))}–{fmt(max(row.ratios))})"
            )
        else:
            ratio = "1 (baseline)" if row.baseline else "–"
        verdict = f"**{row.verdict}**" if row.verdict else ""
        lines.append(
            f"| {bench} | {row.method} | **{fmt(row.median)} {row.unit}** | "
            f"{fmt(min(row.values))}–{fmt(max(row.values))} | {len(row.values)} | {ratio} | "
            f"{row.target} | {verdict} |"
        )
    return "\n".join(lines)


class Cold:
    """A new manager before each run (its construction untimed), so nothing is in memory."""

    def __init__(self, root: Path) -> None:
        from mlvc_jupyter.core.manager import ExperimentManager

        self.root = root
        self.manager = ExperimentManager(root)

    def setup(self) -> None:
        self.manager = type(self.manager)(self.root)
