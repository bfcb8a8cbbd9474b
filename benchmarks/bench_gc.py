"""Listing 10,000 experiments before and after ``mlvc gc``; loose objects under automatic gc.

    python benchmarks/bench_gc.py                       # 10,000 experiments, 10,000 checkpoints
    python benchmarks/bench_gc.py --size 1000 --checkpoints 2000 --rounds 5

Part 1 (issue 13): two fresh copies of the cached 10,000-experiment repository as mlvc writes
it (``gen_experiments.py``: one file per ref, every object loose). ``mlvc gc`` (the manager's
``gc_plan``/``gc`` with no policy: nothing removed, refs and objects packed) runs on one; then a
cold ``log()`` (a new manager each round) and the floor ``git for-each-ref`` are timed on both,
round-robin (method as in README.md: odd rounds reversed, paired ratios, medians). The gc's own
time and ``git count-objects -v`` before and after are reported.

Part 2: N real checkpoints (``ExperimentManager.commit``, a metric and a tracked file changing
each time) of one experiment in a small project, with the automatic gc on at its defaults
(``gc-auto-every = 100``, ``gc-auto-limit = 6700``). Reported: loose objects at the end, packs,
and every object written (loose plus packed), which is what would be loose without it.
Tables go to stdout and ``results/gc.md``, raw numbers to ``results/gc.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import gen_experiments
from common import (
    CACHE,
    RESULTS,
    Cold,
    Row,
    Task,
    fresh_copy,
    git,
    markdown_table,
    paired_ratios,
    progress,
    round_robin,
    scaled,
)

from mlvc_jupyter import ExperimentManager
from mlvc_jupyter.core.housekeeping.gc import GcPolicy, count_objects

FLOOR = "--format=%(objectname) %(refname) %(contents)"


def listing(n: int, rounds: int) -> tuple[list[Row], dict]:
    loose = gen_experiments.build(n)
    before = fresh_copy(loose, CACHE / "work" / f"gc-{n}-before")
    after = fresh_copy(loose, CACHE / "work" / f"gc-{n}-after")
    manager = ExperimentManager(after)
    counts_before = count_objects(manager.repo)
    start = time.perf_counter()
    result = manager.gc(manager.gc_plan(GcPolicy()))
    gc_seconds = time.perf_counter() - start
    cold_before, cold_after = Cold(before), Cold(after)
    tasks = [
        Task("git for-each-ref (floor), before gc",
             lambda: git(before, "for-each-ref", FLOOR, "refs/mlvc/experiments/")),
        Task("log(), cold, before gc", lambda: cold_before.manager.log(),
             setup=cold_before.setup),
        Task("git for-each-ref (floor), after gc",
             lambda: git(after, "for-each-ref", FLOOR, "refs/mlvc/experiments/")),
        Task("log(), cold, after gc", lambda: cold_after.manager.log(), setup=cold_after.setup),
    ]  # fmt: skip
    samples = round_robin(tasks, rounds=rounds, label=f"listing {n} before/after gc")
    ratios = paired_ratios(samples, tasks[1].name)
    bench = f"log() of {n:,} experiments"
    rows = [
        Row(bench, t.name, scaled(samples[t.name], "ms"),
            ratios=None if i == 1 else ratios[t.name], baseline=i == 1)
        for i, t in enumerate(tasks)
    ]  # fmt: skip
    facts = {
        "gc_seconds": gc_seconds,
        "count_objects_before": counts_before,
        "count_objects_after": count_objects(manager.repo),
        "result": result.to_dict(),
        "samples": samples,
    }
    return rows, facts


def checkpoints(n: int) -> dict:
    root = CACHE / "work" / f"autogc-{n}"
    template = CACHE / "work" / "autogc-template"
    if not template.exists():
        gen_experiments._init_small_repo(template)  # the listing benchmark's small project
    fresh_copy(template, root)
    manager = ExperimentManager(root)
    manager.start("run")
    start = time.perf_counter()
    for step in range(1, n):
        (root / "params.yaml").write_text(f"lr: 0.1\nepochs: 10\nstep: {step}\n")
        manager.commit("run", metrics={"loss": 1 / step}, message=f"step {step}")
        if step % 500 == 0:
            progress(f"checkpoints: {step}/{n}")
    manager.end("run")
    seconds = time.perf_counter() - start
    manager.auto_gc.wait()
    progress("")
    counts = count_objects(manager.repo)
    return {
        "checkpoints": n,
        "seconds": seconds,
        "auto_gc_runs": manager.auto_gc.runs,
        "count_objects": counts,
        "objects_written": counts["count"] + counts.get("in-pack", 0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--checkpoints", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    rows, facts = listing(args.size, args.rounds)
    facts["autogc"] = checkpoints(args.checkpoints)
    before, after = facts["count_objects_before"], facts["count_objects_after"]
    auto = facts["autogc"]
    report = "\n".join([
        markdown_table(rows),
        "",
        f"mlvc gc on {args.size:,} experiments: {facts['gc_seconds']:.1f} s; loose objects "
        f"{before['count']:,} -> {after['count']:,}, packs {before.get('packs', 0)} -> "
        f"{after.get('packs', 0)}, {before['size'] + before.get('size-pack', 0):,} kB -> "
        f"{after['size'] + after.get('size-pack', 0):,} kB.",
        f"{auto['checkpoints']:,} checkpoints with automatic gc (defaults) in "
        f"{auto['seconds']:.0f} s: {auto['count_objects']['count']:,} loose objects at the end, "
        f"{auto['count_objects'].get('packs', 0)} packs, {auto['objects_written']:,} objects "
        f"written (all loose without it); git gc --auto ran {auto['auto_gc_runs']} times.",
    ])  # fmt: skip
    print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gc.md").write_text(report + "\n")
    (RESULTS / "gc.json").write_text(json.dumps(facts, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
