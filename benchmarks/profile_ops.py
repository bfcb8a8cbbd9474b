"""Profile one operation the benchmark times, to see where the time goes.

    python benchmarks/profile_ops.py small      # checkpoint after 10 small files changed
    python benchmarks/profile_ops.py notebook   # checkpoint after the notebook was re-run
    python benchmarks/profile_ops.py first      # first checkpoint (start), strip cache removed
    python benchmarks/profile_ops.py listing --n 10000 --layout packed
    python benchmarks/profile_ops.py import     # python -X importtime, grouped by package

For the in-process operations it prints each git call of one operation with its duration (the
``mlvc_jupyter.git`` logger at DEBUG), the phase timings the checkpoint recorded
(``ExperimentManager.show(id).timings``), and a cProfile of ``--rounds`` operations (top
functions by cumulative and by own time). Uses the caches ``bench.py`` builds.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import pstats
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import gen_experiments
from bench import WORK, NotebookEdits, SmallFileEdits
from common import fresh_copy
from gen_project import NOTEBOOK, ensure_project

from mlvc_jupyter import ExperimentManager


def _operation(kind: str) -> tuple[ExperimentManager, Callable[[], object], Callable[[], None]]:
    """Return (manager, operation, setup before each operation) for a checkpoint kind."""
    project, _ = ensure_project()
    root = fresh_copy(project, WORK / f"profile-{kind}", link_prefixes=("checkpoints/",))
    manager = ExperimentManager(root)
    manager.start("profile")
    if kind == "small":
        edits = SmallFileEdits(root)
        return manager, lambda: manager.commit("profile", message="p"), edits
    if kind == "notebook":
        nb_edits = NotebookEdits(root / NOTEBOOK)
        return manager, lambda: manager.commit("profile", message="p"), nb_edits
    serial = iter(range(1_000_000))
    holder: dict[str, ExperimentManager] = {}

    def setup() -> None:
        (root / ".git" / "mlvc" / "strip-cache.json").unlink(missing_ok=True)
        holder["m"] = ExperimentManager(root)

    return manager, lambda: holder["m"].start(f"first-{next(serial)}"), setup


def profile_checkpoint(kind: str, rounds: int, top: int) -> None:
    manager, operation, setup = _operation(kind)
    setup()
    operation()  # warm-up (imports, caches)
    setup()
    git_log = logging.getLogger("mlvc_jupyter.git")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("    %(message)s"))
    git_log.addHandler(handler)
    git_log.setLevel(logging.DEBUG)
    print(f"## git calls of one '{kind}' checkpoint")
    checkpoint = operation()
    git_log.removeHandler(handler)
    git_log.setLevel(logging.WARNING)
    record = manager.show(checkpoint.experiment_id)
    print(f"\n## phases recorded in its record (s): {record.timings}")
    profiler = cProfile.Profile()
    for _ in range(rounds):
        setup()
        profiler.enable()
        operation()
        profiler.disable()
    _print_stats(profiler, top, f"{rounds} '{kind}' checkpoints")


def profile_listing(n: int, layout: str, rounds: int, top: int) -> None:
    loose, packed, marker = gen_experiments.paths(n)
    if not marker.exists():
        sys.exit(f"no cached {n}-experiment repository: run benchmarks/gen_experiments.py {n}")
    manager = ExperimentManager(loose if layout == "loose" else packed)
    manager.log()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(rounds):
        manager.log()
    profiler.disable()
    _print_stats(profiler, top, f"{rounds} log() of {n} experiments, {layout} refs")


def _print_stats(profiler: cProfile.Profile, top: int, what: str) -> None:
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.strip_dirs().sort_stats(order).print_stats(top)
        text = out.getvalue()
        print(f"\n## cProfile of {what}, by {order}\n")
        print(text[text.find("   ncalls") :].rstrip())


def profile_import(code: str, top: int) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=WORK if WORK.exists() else Path.cwd(),
    )
    rows = []
    for line in proc.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            rows.append((int(match[1]), int(match[2]), len(match[3]) // 2, match[4]))
    by_package: dict[str, int] = defaultdict(int)
    for own, _, _, name in rows:
        by_package[name.split(".")[0]] += own
    total = sum(own for own, *_ in rows)
    print(f"## python -X importtime -c {code!r}: {total / 1e3:.1f} ms of imports\n")
    print("own time by top-level package (ms):")
    for name, own in sorted(by_package.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {own / 1e3:8.1f}  {name}")
    print("\nslowest imports by cumulative time (ms), as imported by the code:")
    for _, cumulative, depth, name in sorted(rows, key=lambda r: -r[1])[:top]:
        print(f"  {cumulative / 1e3:8.1f}  {'  ' * depth}{name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["small", "notebook", "first", "listing", "import"])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--n", type=int, default=10_000, help="listing: experiments")
    parser.add_argument("--layout", choices=["loose", "packed"], default="packed")
    parser.add_argument(
        "--code",
        default="import mlvc_jupyter; mlvc_jupyter.VersionControlManager",
        help="import: the code to run",
    )
    args = parser.parse_args(argv)
    if args.what == "listing":
        profile_listing(args.n, args.layout, args.rounds, args.top)
    elif args.what == "import":
        profile_import(args.code, args.top)
    else:
        profile_checkpoint(args.what, args.rounds, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
