"""Time the history panel's first page over 10,000 experiments, and log_metrics with a live panel.

    python benchmarks/bench_panels.py              # 10,000 experiments, 9 rounds
    python benchmarks/bench_panels.py --rounds 5 --size 1000

Targets (issue 9): building a ``HistoryPanel`` and its widget view (the first page of 50, as
``%vc_log`` shows it in a notebook) over 10,000 experiments with loose refs, warm (the query
cache filled: refs unchanged since the last read) under 300 ms; cold (a new repository object,
nothing in memory) is reported. ``tracker.log_metrics`` with a ``LivePanel`` attached costs at
most 2x what it costs without (median of paired ratios, 20,000 calls per sample). Method as in
README.md: round-robin, odd rounds reversed, paired ratios, medians.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import gen_experiments
from common import Row, Task, markdown_table, paired_ratios, round_robin, scaled

from mlvc_jupyter import kernel
from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.tracking.local import LocalTracker
from mlvc_jupyter.widgets import HistoryPanel, LivePanel

CALLS = 20_000


def first_page(root: Path) -> None:
    panel = HistoryPanel(root)
    panel.widget  # noqa: B018  # the view: what a notebook displays
    assert len(panel.visible_ids()) == 50


def history_rows(root: Path, rounds: int) -> list[Row]:
    first_page(root)  # fill the cache
    tasks = [
        Task("HistoryPanel first page + view, warm", lambda: first_page(root)),
        Task(
            "HistoryPanel first page + view, cold",
            lambda: first_page(root),
            setup=kernel._MANAGERS.clear,
        ),  # a new manager: the query cache is empty
    ]
    samples = round_robin(tasks, rounds=rounds, label="history panel")
    bench = "history panel, 10,000 experiments, loose refs"
    return [
        Row(bench, tasks[0].name, scaled(samples[tasks[0].name], "ms"), target="< 300 ms",
            limit=300.0),
        Row(bench, tasks[1].name, scaled(samples[tasks[1].name], "ms")),
    ]  # fmt: skip


def logging_rows(rounds: int) -> list[Row]:
    folder = Path(tempfile.mkdtemp(prefix="mlvc-bench-live-"))
    manager = ExperimentManager(folder, init=True)
    manager.start("live")
    plain = LocalTracker(folder / "plain.jsonl", experiment_id="live")
    watched = manager.tracker("live")
    panel = LivePanel.attach(watched, path=folder)

    def log(tracker: LocalTracker) -> None:
        for step in range(CALLS):
            tracker.log_metrics({"loss": 1.0 / (step + 1), "acc": step / CALLS}, step=step)

    tasks = [
        Task("log_metrics x20,000 (no panel)", lambda: log(plain)),
        Task("log_metrics x20,000 (LivePanel attached)", lambda: log(watched)),
    ]
    samples = round_robin(tasks, rounds=rounds, label="log_metrics")
    panel.detach()
    ratios = paired_ratios(samples, tasks[0].name)
    bench = "log_metrics with a live panel"
    return [
        Row(bench, tasks[0].name, scaled(samples[tasks[0].name], "ms"), baseline=True),
        Row(bench, tasks[1].name, scaled(samples[tasks[1].name], "ms"),
            ratios=ratios[tasks[1].name], target="≤ 2x", limit=2.0, limit_on_ratio=True),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    gen_experiments.build(args.size)
    root = gen_experiments.layouts(args.size)["loose"]
    rows = history_rows(root, args.rounds) + logging_rows(args.rounds)
    print(markdown_table(rows))
    return 1 if any(row.verdict == "MISS" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
