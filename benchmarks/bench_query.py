"""Time the first page of an experiment query over 10,000 experiments, cold and warm.

    python benchmarks/bench_query.py              # 10,000 experiments, 9 rounds (~2 min)
    python benchmarks/bench_query.py --rounds 5 --size 1000

Targets (issue 6): a cold ``ExperimentManager.query()`` (a new manager: nothing in memory)
within 1.2x of the floor ``git for-each-ref --format='%(objectname) %(refname) %(contents)'
refs/mlvc/experiments/`` on the same refs, loose and packed; a warm one (the same manager again,
refs unchanged: the freshness check and the page) at most 20 ms. ``log()`` reads through the
same pass, so its cold time is shown against the same floor. Method as in README.md: methods
interleaved round by round (odd rounds reversed, one warm-up round), paired ratios, medians.
The repositories come from ``gen_experiments.py`` (cached; 10,000 build in about 2 minutes).
The table goes to stdout and ``results/query.md``, raw samples to ``results/query.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import gen_experiments
from common import RESULTS, Cold, Row, Task, git, markdown_table, paired_ratios, round_robin, scaled

from mlvc_jupyter import ExperimentManager
from mlvc_jupyter.core.recording.summary import LISTING_FORMAT

FLOOR = "--format=%(objectname) %(refname) %(contents)"


def bench_layout(n: int, layout: str, root: Path, rounds: int) -> tuple[list[Row], dict]:
    warm = ExperimentManager(root)
    page = warm.query()
    if page.total != n or len(page.items) != 50:
        raise RuntimeError(f"{root}: query() found {page.total} experiments, expected {n}")
    warm.query(search="exp-0", sort="-metrics.acc")  # memoise that order too
    cold_query, cold_log = Cold(root), Cold(root)
    tasks = [
        Task("git for-each-ref (floor)", lambda: git(root, "for-each-ref", FLOOR,
                                                     "refs/mlvc/experiments/")),
        Task("query() first page, cold", lambda: cold_query.manager.query(),
             setup=cold_query.setup),
        Task("log(), cold", lambda: cold_log.manager.log(), setup=cold_log.setup),
        Task("query() first page, warm", warm.query),
        Task("query(search, sort=-metrics.acc), warm",
             lambda: warm.query(search="exp-0", sort="-metrics.acc")),
        Task("  git for-each-ref, mlvc's format (no parse)", lambda: git(
            root, "for-each-ref", f"--format={LISTING_FORMAT}", "refs/mlvc/experiments/",
            "refs/tags/")),
    ]  # fmt: skip
    samples = round_robin(tasks, rounds=rounds, label=f"query {n} {layout}")
    ratios = paired_ratios(samples, tasks[0].name)
    bench = f"first page of {n:,} experiments, {layout} refs"
    targets = {
        "query() first page, cold": ("≤ 1.2x floor", 1.2, True),
        "log(), cold": ("≤ 1.2x floor", 1.2, True),
        "query() first page, warm": ("≤ 20 ms", 20.0, False),
    }
    rows = []
    for task in tasks:
        target, limit, on_ratio = targets.get(task.name, ("", None, False))
        is_floor = task is tasks[0]
        rows.append(
            Row(
                bench,
                task.name.strip(),
                scaled(samples[task.name], "ms"),
                ratios=None if is_floor else ratios[task.name],
                target=target,
                limit=limit,
                limit_on_ratio=on_ratio,
                baseline=is_floor,
            )
        )
    return rows, samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    gen_experiments.build(args.size)
    repos = gen_experiments.layouts(args.size)
    rows, raw = [], {}
    for layout in ("loose", "packed"):
        layout_rows, samples = bench_layout(args.size, layout, repos[layout], args.rounds)
        rows += layout_rows
        raw[layout] = samples
    table = markdown_table(rows)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "query.md").write_text(table + "\n")
    (RESULTS / "query.json").write_text(json.dumps(raw, indent=1) + "\n")
    return 1 if any(row.verdict == "MISS" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
