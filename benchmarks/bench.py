"""Time mlvc against raw git and plain Python on the synthetic project; print a markdown table.

    python benchmarks/bench.py            # full run (~1 min once the caches exist)
    python benchmarks/bench.py --quick    # smoke run: fewer rounds, no 10,000-experiment build
    python benchmarks/bench.py --only a,d # some benchmarks only

Benchmarks (targets from issue 2; method and caveats in benchmarks/README.md):

a. checkpoint after 10 small files changed: ``ExperimentManager.commit()`` in process vs the same
   snapshot with git plumbing processes (copied index, ``add -A``, pre-stripped notebook blob,
   ``write-tree``, ``commit-tree``, ``update-ref`` compare-and-swap); median ratio <= 1.3x.
b. checkpoint after the notebook was re-executed (output digits changed, saved): <= 150 ms.
c. first checkpoint of a new experiment (``start``) in a repository with history: <= 500 ms,
   with the stripped-notebook cache warm and removed (cold).
d. ``ExperimentManager.log()`` of 100 / 1,000 / 10,000 experiments vs ``git for-each-ref``,
   refs loose and packed: 10,000 <= 400 ms.
e. 10,000 ``tracker.log_metrics`` calls vs a buffered JSONL append: p50 <= 5 µs per call.
f. ``import mlvc_jupyter`` in a fresh interpreter vs ``python -c pass``: <= 150 ms.

The table goes to stdout and to ``benchmarks/results/latest.md`` (``latest-quick.md`` with
``--quick``), the raw samples to the matching ``.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gen_experiments
from common import (
    CACHE,
    RESULTS,
    Cold,
    Row,
    Task,
    fresh_copy,
    git,
    git_env,
    markdown_table,
    paired_ratios,
    percentile,
    progress,
    round_robin,
    scaled,
)
from gen_project import NOTEBOOK, ensure_project

from mlvc_jupyter import ExperimentManager
from mlvc_jupyter.core.notebooks.strip import strip_bytes
from mlvc_jupyter.core.repo import runner as mlvc_git

WORK = CACHE / "work"
ZERO = "0" * 40
ROUNDS = {
    "full": {"a": 31, "b": 21, "c": 15, "d": 11, "d10k": 9, "e": 7, "f": 21},
    "quick": {"a": 5, "b": 4, "c": 3, "d": 3, "d10k": 3, "e": 3, "f": 5},
}
LISTING_SIZES = (100, 1000, 10000)


@dataclass
class Report:
    """What the benchmarks produce: table rows, notes under the table, raw samples."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, object] = field(default_factory=dict)


# -- workload helpers --------------------------------------------------------------------------


class SmallFileEdits:
    """Rewrite the same 10 small tracked files with new content each time it is called."""

    def __init__(self, root: Path, count: int = 10) -> None:
        sources = sorted((root / "src").rglob("*.py"))
        step = max(1, len(sources) // count)
        self.files = sources[::step][:count]
        self.originals = [path.read_text() for path in self.files]
        self.counter = 0

    def __call__(self) -> None:
        self.counter += 1
        for path, text in zip(self.files, self.originals, strict=True):
            path.write_text(f"{text}# bench edit {self.counter}\n")


class NotebookEdits:
    """Re-"execute" the notebook: change 20 loss values in its stdout logs and save it.

    ``grow=False`` keeps the file size (git must then hash the 20 MB to see the change);
    ``grow=True`` also lengthens one number, as a real re-run usually does.
    """

    def __init__(self, path: Path, count: int = 20) -> None:
        self.path = path
        self.raw = path.read_bytes()
        offsets = [m.end() for m in re.finditer(rb"loss=0\.", self.raw)]
        self.offsets = offsets[:: max(1, len(offsets) // count)][:count]
        self.counter = 0

    def __call__(self, *, grow: bool = False) -> None:
        self.counter += 1
        data = bytearray(self.raw)
        digits = f"{self.counter:06d}"[-6:].encode()
        for offset in self.offsets:
            data[offset : offset + 6] = digits
        if grow:
            at = self.offsets[-1] + 6
            data[at:at] = b"7" * (1 + self.counter % 5)
        self.path.write_bytes(bytes(data))


class Plumbing:
    """The baseline snapshot: git plumbing processes, the user's index and HEAD untouched.

    ``cp .git/index`` to a private index, ``git add -A``, the stripped notebook blob put in
    place with ``update-index --cacheinfo``, ``write-tree``, ``commit-tree -p <old>`` and
    ``update-ref <ref> <new> <old>`` (compare-and-swap). With ``strip=True`` the notebook is
    left out of ``add`` and stripped in process (mlvc's own ``strip_bytes``, so only the git
    side differs) and stored with ``hash-object -w --stdin``, as a re-run notebook needs.
    """

    def __init__(self, root: Path, notebook_blob: str | None = None, *, strip: bool = False):
        self.root = root
        self.index = root / ".git" / "bench-plumbing-index"
        self.env = git_env(GIT_INDEX_FILE=str(self.index))
        self.blob = notebook_blob
        self.strip = strip
        self.steps: dict[str, list[float]] = defaultdict(list)

    def _git(self, step: str, *args: str, stdin: bytes | None = None) -> bytes:
        start = time.perf_counter()
        out = git(self.root, *args, env=self.env, stdin=stdin)
        self.steps[step].append(time.perf_counter() - start)
        return out

    def snapshot(self, ref: str, old: str | None, parent: str) -> str:
        """Snapshot onto ``ref`` (expected at ``old``; None: must not exist); return the commit."""
        start = time.perf_counter()
        shutil.copyfile(self.root / ".git" / "index", self.index)
        self.steps["cp index"].append(time.perf_counter() - start)
        if self.strip:
            self._git("add -A", "add", "-A", "--", ".", f":(exclude){NOTEBOOK}")
            stripped = strip_bytes((self.root / NOTEBOOK).read_bytes())
            blob = self._git("hash-object", "hash-object", "-w", "--stdin", stdin=stripped)
            blob_id = blob.decode().strip()
        else:
            self._git("add -A", "add", "-A")
            blob_id = str(self.blob)
        self._git("update-index", "update-index", "--cacheinfo", f"100644,{blob_id},{NOTEBOOK}")
        tree = self._git("write-tree", "write-tree").decode().strip()
        commit = self._git(
            "commit-tree", "commit-tree", tree, "-p", parent, "-m", "plumbing snapshot"
        )
        new = commit.decode().strip()
        self._git("update-ref", "update-ref", ref, new, old or ZERO)
        return new


class RefChain:
    """A plumbing ref and its current tip, advanced by each snapshot (a running experiment)."""

    def __init__(self, plumbing: Plumbing, ref: str, parent: str) -> None:
        self.plumbing, self.ref, self.tip = plumbing, ref, parent
        git(plumbing.root, "update-ref", ref, parent, ZERO)

    def __call__(self) -> None:
        self.tip = self.plumbing.snapshot(self.ref, self.tip, self.tip)


class GitCalls:
    """Collect the durations of mlvc's own git calls (``recent_timings``) per subcommand."""

    def __init__(self) -> None:
        self.calls: dict[str, list[float]] = defaultdict(list)
        self.totals: list[float] = []

    def reset(self) -> None:
        mlvc_git.reset_timings()

    def collect(self) -> None:
        timings = mlvc_git.recent_timings()
        for command, seconds in timings:
            self.calls[command].append(seconds)
        self.totals.append(sum(seconds for _, seconds in timings))

    def summary(self, rounds: int) -> str:
        per = sorted(self.calls.items(), key=lambda kv: -sum(kv[1]))
        parts = [
            f"{name} {statistics.median(v) * 1e3:.1f}"
            + (f" x{len(v) / rounds:.2g}" if len(v) != rounds else "")
            for name, v in per
        ]
        total = statistics.median(self.totals) * 1e3 if self.totals else 0.0
        return f"{', '.join(parts)} (ms, median per call; sum per checkpoint {total:.1f} ms)"


def _steps_summary(steps: dict[str, list[float]]) -> str:
    parts = [f"{name} {statistics.median(v) * 1e3:.1f}" for name, v in steps.items()]
    total = sum(statistics.median(v) for v in steps.values()) * 1e3
    return f"{', '.join(parts)} (ms, median; sum {total:.1f} ms)"


def _phases(manager: ExperimentManager, commits: list[str]) -> str:
    """Return the median of each phase timing recorded in the checkpoints' records."""
    specs = [f"{c}:.mlvc/experiment.json" for c in commits]
    phases: dict[str, list[float]] = defaultdict(list)
    for blob in manager.repo.read_blobs(specs):
        for name, seconds in (json.loads(blob).get("timings") or {}).items() if blob else ():
            phases[name].append(seconds)
    if not phases:
        return "none recorded"
    return ", ".join(f"{k} {statistics.median(v) * 1e3:.1f}" for k, v in phases.items()) + " ms"


def _user_state(root: Path) -> str:
    index = hashlib.sha1((root / ".git" / "index").read_bytes()).hexdigest()
    head = git(root, "rev-parse", "HEAD").decode().strip()
    status = git(root, "status", "--porcelain", env=git_env(GIT_OPTIONAL_LOCKS="0"))
    return f"{index} {head} {hashlib.sha1(status).hexdigest()}"


def _stripped_blob(root: Path) -> str:
    stripped = strip_bytes((root / NOTEBOOK).read_bytes())
    return git(root, "hash-object", "-w", "--stdin", stdin=stripped).decode().strip()


def _tree_difference(root: Path, a: str, b: str) -> list[str]:
    out = git(root, "diff-tree", "-r", "--name-only", f"{a}^{{tree}}", f"{b}^{{tree}}")
    return out.decode().split()


# -- a. checkpoint after 10 small files ---------------------------------------------------------


def bench_small(project: Path, rounds: int, report: Report) -> None:
    root = fresh_copy(project, WORK / "a", link_prefixes=("checkpoints/",))
    manager = ExperimentManager(root)
    manager.start("bench-a")
    head = git(root, "rev-parse", "HEAD").decode().strip()
    edits = SmallFileEdits(root)
    plumbing = Plumbing(root, _stripped_blob(root))
    chain = RefChain(plumbing, "refs/bench/plumbing-a", head)
    calls, commits = GitCalls(), []
    edits()
    before = _user_state(root)  # the edited files stay modified; nothing else may change

    def mlvc_setup() -> None:
        edits()
        calls.reset()

    def mlvc_teardown() -> None:
        calls.collect()

    def mlvc_run() -> None:
        commits.append(manager.commit("bench-a", message="bench").commit)

    tasks = [
        Task("git plumbing (5 processes)", chain, setup=edits),
        Task("mlvc commit()", mlvc_run, setup=mlvc_setup, teardown=mlvc_teardown),
    ]
    samples = round_robin(tasks, rounds=rounds, label="a. 10 small files")
    ratios = paired_ratios(samples, tasks[0].name)
    bench = "a. checkpoint, 10 small files changed (in-proc)"
    report.rows += [
        Row(bench, tasks[0].name, scaled(samples[tasks[0].name], "ms"), baseline=True),
        Row(
            bench,
            tasks[1].name,
            scaled(samples[tasks[1].name], "ms"),
            ratios=ratios[tasks[1].name],
            target="≤ 1.3x plumbing",
            limit=1.3,
            limit_on_ratio=True,
        ),
    ]
    # Same content? One more edit, both methods, compare the trees.
    edits()
    mlvc_commit = manager.commit("bench-a", message="check").commit
    chain()
    differ = _tree_difference(root, mlvc_commit, chain.tip)
    untouched = _user_state(root) == before
    report.notes += [
        f"a. mlvc git calls: {calls.summary(rounds + 1)}.",
        f"a. mlvc phases recorded in the checkpoints: {_phases(manager, commits[1:])}.",
        f"a. plumbing steps: {_steps_summary(plumbing.steps)}.",
        f"a. check: mlvc's and the plumbing's trees differ only in {differ} (mlvc's record); "
        f"user's index, HEAD and status untouched: {untouched}.",
    ]
    report.raw["a"] = samples


# -- b. checkpoint after the notebook changed ---------------------------------------------------


def bench_notebook(project: Path, rounds: int, report: Report) -> None:
    root = fresh_copy(project, WORK / "b", link_prefixes=("checkpoints/",))
    manager = ExperimentManager(root)
    manager.start("bench-b")
    head = git(root, "rev-parse", "HEAD").decode().strip()
    edits = NotebookEdits(root / NOTEBOOK)
    chain = RefChain(Plumbing(root, strip=True), "refs/bench/plumbing-b", head)
    calls = {"same": GitCalls(), "grow": GitCalls()}
    commits: dict[str, list[str]] = {"same": [], "grow": []}

    def mlvc_task(kind: str, name: str) -> Task:
        def setup() -> None:
            edits(grow=kind == "grow")
            calls[kind].reset()

        def run() -> None:
            commits[kind].append(manager.commit("bench-b", message="bench").commit)

        return Task(name, run, setup=setup, teardown=calls[kind].collect)

    tasks = [
        Task("plumbing + in-proc strip + hash-object", chain, setup=edits),
        mlvc_task("same", "mlvc commit(), notebook size unchanged"),
        mlvc_task("grow", "mlvc commit(), notebook size changed"),
    ]
    samples = round_robin(tasks, rounds=rounds, label="b. notebook re-run")
    ratios = paired_ratios(samples, tasks[0].name)
    bench = "b. checkpoint, 20 MB notebook re-executed (in-proc)"
    report.rows.append(
        Row(bench, tasks[0].name, scaled(samples[tasks[0].name], "ms"), baseline=True)
    )
    for task in tasks[1:]:
        report.rows.append(
            Row(
                bench,
                task.name,
                scaled(samples[task.name], "ms"),
                ratios=ratios[task.name],
                target="≤ 150 ms",
                limit=150,
            )
        )
    for kind in calls:
        report.notes += [
            f"b. mlvc git calls ({kind} size): {calls[kind].summary(rounds + 1)}.",
            f"b. mlvc phases ({kind} size): {_phases(manager, commits[kind][1:])}.",
        ]
    report.notes.append(f"b. plumbing steps: {_steps_summary(chain.plumbing.steps)}.")
    report.raw["b"] = samples


# -- c. first checkpoint -----------------------------------------------------------------------


def bench_first(project: Path, rounds: int, report: Report) -> None:
    root = fresh_copy(project, WORK / "c", link_prefixes=("checkpoints/",))
    warm = ExperimentManager(root)
    warm.start("bench-c-setup")  # fills the stripped-notebook cache of this repository
    head = git(root, "rev-parse", "HEAD").decode().strip()
    edits = SmallFileEdits(root)
    plumbing = Plumbing(root, _stripped_blob(root))
    serial = {"n": 0}
    cold: dict[str, ExperimentManager] = {}
    cache_file = root / ".git" / "mlvc" / "strip-cache.json"
    calls = {"warm": GitCalls(), "cold": GitCalls()}
    commits: dict[str, list[str]] = {"warm": [], "cold": []}

    def next_id(prefix: str) -> str:
        serial["n"] += 1
        return f"{prefix}-{serial['n']:04d}"

    def plumbing_run() -> None:
        plumbing.snapshot(f"refs/bench/first/{next_id('p')}", None, head)

    def warm_setup() -> None:
        edits()
        calls["warm"].reset()

    def cold_setup() -> None:
        edits()
        cache_file.unlink(missing_ok=True)
        cold["manager"] = ExperimentManager(root)  # a new process's manager: empty caches
        calls["cold"].reset()

    def warm_run() -> None:
        commits["warm"].append(warm.start(next_id("warm")).commit)

    def cold_run() -> None:
        commits["cold"].append(cold["manager"].start(next_id("cold")).commit)

    tasks = [
        Task("git plumbing (5 processes)", plumbing_run, setup=edits),
        Task("mlvc start(), warm", warm_run, setup=warm_setup, teardown=calls["warm"].collect),
        Task(
            "mlvc start(), strip cache removed",
            cold_run,
            setup=cold_setup,
            teardown=calls["cold"].collect,
        ),
    ]
    samples = round_robin(tasks, rounds=rounds, label="c. first checkpoint")
    ratios = paired_ratios(samples, tasks[0].name)
    bench = "c. first checkpoint of an experiment (in-proc)"
    report.rows.append(
        Row(bench, tasks[0].name, scaled(samples[tasks[0].name], "ms"), baseline=True)
    )
    for task, target in ((tasks[1], "≤ 500 ms"), (tasks[2], "≤ 500 ms (cold)")):
        report.rows.append(
            Row(
                bench,
                task.name,
                scaled(samples[task.name], "ms"),
                ratios=ratios[task.name],
                target=target,
                limit=500,
            )
        )
    for kind in calls:
        report.notes += [
            f"c. mlvc git calls ({kind}): {calls[kind].summary(rounds + 1)}.",
            f"c. mlvc phases ({kind}): {_phases(warm, commits[kind][1:])}.",
        ]
    report.raw["c"] = samples


# -- d. listing --------------------------------------------------------------------------------


def bench_listing(sizes: list[int], rounds: dict[str, int], report: Report, *, quick: bool):
    from mlvc_jupyter.core.recording.summary import LISTING_FORMAT

    baseline_format = "--format=%(objectname) %(refname) %(subject)"
    described = {
        "loose": "loose refs and objects (as written)",
        "packed": "packed refs (pack-refs --all)",
        "gc": "after git gc (refs and objects packed)",
    }
    for n in sizes:
        if not gen_experiments.paths(n)[2].exists():
            if quick and n >= 10_000:
                report.notes.append(f"d. {n:,} experiments skipped: not cached (--quick).")
                continue
            gen_experiments.build(n)
        for layout, root in gen_experiments.layouts(n).items():
            cold = Cold(root)
            found = len(cold.manager.log())
            if found != n:
                raise RuntimeError(f"{root}: log() returned {found} experiments, expected {n}")

            def for_each_ref(root: Path = root, fmt: str = baseline_format) -> None:
                git(root, "for-each-ref", fmt, "refs/mlvc/experiments/")

            def mlvc_format(root: Path = root) -> None:
                git(root, "for-each-ref", f"--format={LISTING_FORMAT}", "refs/mlvc/experiments/",
                    "refs/tags/")  # fmt: skip

            tasks = [
                Task("git for-each-ref (subjects)", for_each_ref),
                Task(
                    "mlvc log(), cold (a new manager)",
                    lambda cold=cold: cold.manager.log(),
                    setup=cold.setup,
                ),
                Task("  git for-each-ref, mlvc's format (no parse)", mlvc_format),
            ]
            count = rounds["d10k"] if n >= 10_000 else rounds["d"]
            samples = round_robin(tasks, rounds=count, label=f"d. list {n} {layout}")
            ratios = paired_ratios(samples, tasks[0].name)
            bench = f"d. list {n:,} experiments, {described[layout]}"
            target, limit = "", None
            if n == 10_000:
                target, limit = "≤ 400 ms", 400.0
            elif n == 1_000:
                target, limit = "≤ 60 ms (anchors §9)", 60.0
            if layout == "gc":  # not a layout the brief names: the verdict is information
                target = f"{target} (info)" if target else ""
            report.rows += [
                Row(bench, tasks[0].name, scaled(samples[tasks[0].name], "ms"), baseline=True),
                Row(
                    bench,
                    tasks[1].name,
                    scaled(samples[tasks[1].name], "ms"),
                    ratios=ratios[tasks[1].name],
                    target=target,
                    limit=limit,
                ),
                Row(
                    bench,
                    tasks[2].name.strip(),
                    scaled(samples[tasks[2].name], "ms"),
                    ratios=ratios[tasks[2].name],
                ),
            ]
            report.raw[f"d-{n}-{layout}"] = samples


# -- e. metric logging -------------------------------------------------------------------------


def bench_metrics(rounds: int, report: Report, calls: int = 10_000) -> None:
    root = WORK / "e"
    if root.exists():
        shutil.rmtree(root)
    manager = ExperimentManager(root, init=True)  # a scratch repository, created here
    tracker = manager.tracker("bench-e")
    bare = (root / "bare.jsonl").open("a", encoding="utf-8")
    rng = random.Random(0)
    values = [rng.random() for _ in range(calls)]
    per_call: dict[str, list[list[int]]] = defaultdict(list)
    clock = time.perf_counter_ns

    def mlvc_run() -> None:
        log, out = tracker.log_metrics, [0] * calls
        for i in range(calls):
            x = values[i]
            start = clock()
            log({"loss": x}, step=i)
            out[i] = clock() - start
        per_call["mlvc"].append(out)

    def bare_run() -> None:
        write, dumps, now, out = bare.write, json.dumps, time.time, [0] * calls
        for i in range(calls):
            x = values[i]
            start = clock()
            write(dumps({"step": i, "time": now(), "metrics": {"loss": x}}) + "\n")
            out[i] = clock() - start
        per_call["bare"].append(out)

    tasks = [
        Task("bare JSONL append (buffered file)", bare_run),
        Task("mlvc tracker.log_metrics", mlvc_run),
    ]
    samples = round_robin(tasks, rounds=rounds, label="e. log_metrics")
    tracker.close()
    bare.close()
    overhead = [0] * 1000
    for i in range(1000):
        start = clock()
        overhead[i] = clock() - start
    names = {"bare": tasks[0].name, "mlvc": tasks[1].name}
    for q, label in ((50, "p50"), (99, "p99")):
        stats = {  # the first batch of each method was the warm-up round
            k: [percentile(batch, q) / 1e3 for batch in v[-rounds:]] for k, v in per_call.items()
        }
        ratio = [m / b for m, b in zip(stats["mlvc"], stats["bare"], strict=True)]
        bench = f"e. 10,000 log_metrics calls, {label} per call"
        report.rows += [
            Row(bench, names["bare"], stats["bare"], unit="µs", baseline=True),
            Row(
                bench,
                names["mlvc"],
                stats["mlvc"],
                unit="µs",
                ratios=ratio,
                target="≤ 5 µs" if q == 50 else "",
                limit=5.0 if q == 50 else None,
            ),
        ]
    ratios = paired_ratios(samples, tasks[0].name)
    bench = "e. 10,000 log_metrics calls, mean per call (batch / 10,000)"
    report.rows += [
        Row(bench, names["bare"], [v / calls for v in scaled(samples[names["bare"]], "µs")],
            unit="µs", baseline=True),
        Row(bench, names["mlvc"], [v / calls for v in scaled(samples[names["mlvc"]], "µs")],
            unit="µs", ratios=ratios[names["mlvc"]]),
    ]  # fmt: skip
    report.notes.append(
        f"e. per-call timer overhead (two perf_counter_ns calls, included in both methods): "
        f"p50 {percentile(overhead, 50) / 1e3:.2f} µs. Each batch is {calls:,} calls; the "
        "p50/p99 rows give the median (range) over batches."
    )
    report.raw["e"] = samples


# -- f. import ---------------------------------------------------------------------------------


def bench_import(rounds: int, report: Report) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}

    def python(code: str) -> Callable[[], None]:
        def run() -> None:
            subprocess.run([sys.executable, "-c", code], cwd=WORK, env=env, check=True)

        return run

    tasks = [
        Task("python -c pass", python("pass")),
        Task('python -c "import mlvc_jupyter"', python("import mlvc_jupyter")),
        Task(
            "  + mlvc_jupyter.VersionControlManager (API)",
            python("import mlvc_jupyter; mlvc_jupyter.VersionControlManager"),
        ),
    ]
    samples = round_robin(tasks, rounds=rounds, warmup=2, label="f. import")
    ratios = paired_ratios(samples, tasks[0].name)
    bench = "f. fresh interpreter (proc)"
    report.rows += [
        Row(bench, tasks[0].name, scaled(samples[tasks[0].name], "ms"), baseline=True),
        Row(
            bench,
            tasks[1].name,
            scaled(samples[tasks[1].name], "ms"),
            ratios=ratios[tasks[1].name],
            target="≤ 150 ms",
            limit=150,
        ),
        Row(
            bench,
            tasks[2].name.strip(),
            scaled(samples[tasks[2].name], "ms"),
            ratios=ratios[tasks[2].name],
            target="(info)",
        ),
    ]
    report.raw["f"] = samples


# -- the run -----------------------------------------------------------------------------------


def _header(stats: dict[str, object], mode: str, started: float) -> str:
    rev = git(Path(__file__).parent, "describe", "--always", "--dirty").decode().strip()
    version = git(Path(__file__).parent, "--version").decode().strip()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"Benchmark run {dt.datetime.now().isoformat(timespec='seconds')} ({mode}, "
        f"{time.perf_counter() - started:.0f} s): {os.cpu_count()} CPUs, load average at the end "
        f"{load}; Python {platform.python_version()}, {version}; mlvc_jupyter at {rev}.\n"
        f"Project: {stats['tracked_files']:,} tracked files in {stats['folders']} folders, "
        f"notebook {int(stats['notebook_bytes']) / 2**20:.1f} MiB "
        f"({stats['notebook_cells']} cells), ignored checkpoint "
        f"{int(stats['checkpoint_bytes']) / 2**20:.0f} MiB.\n"
        "Median (min–max) over n rounds; methods interleaved round-robin, odd rounds reversed; "
        "ratio = median of per-round ratios to the baseline row of the same benchmark."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds, no 10,000 build")
    parser.add_argument("--only", default="abcdef", help="benchmarks to run, e.g. a,d")
    parser.add_argument("--rounds", type=int, help="rounds for every benchmark")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    rounds = dict(ROUNDS[mode])
    if args.rounds:
        rounds = dict.fromkeys(rounds, args.rounds)
    only = set(args.only.replace(",", ""))
    started = time.perf_counter()
    project, stats = ensure_project()
    report = Report()
    steps: list[tuple[str, Callable[[], None]]] = [
        ("a", lambda: bench_small(project, rounds["a"], report)),
        ("b", lambda: bench_notebook(project, rounds["b"], report)),
        ("c", lambda: bench_first(project, rounds["c"], report)),
        ("d", lambda: bench_listing(list(LISTING_SIZES), rounds, report, quick=args.quick)),
        ("e", lambda: bench_metrics(rounds["e"], report)),
        ("f", lambda: bench_import(rounds["f"], report)),
    ]
    for key, step in steps:
        if key in only:
            step()
    progress("")
    text = "\n\n".join(
        [
            _header(stats, mode, started),
            markdown_table(report.rows),
            "\n".join(f"- {note}" for note in report.notes),
        ]
    )
    print(text)
    RESULTS.mkdir(exist_ok=True)
    name = "latest" if mode == "full" else "latest-quick"
    (RESULTS / f"{name}.md").write_text(text + "\n")
    (RESULTS / f"{name}.json").write_text(json.dumps(report.raw, indent=1) + "\n")
    missed = [row for row in report.rows if row.verdict == "MISS"]
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
