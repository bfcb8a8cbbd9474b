"""How much a new experiment costs against a checkpoint, as the number of experiments grows.

    python benchmarks/start_cost.py 0 2000 10000 [--rounds 15] [--profile]

For each count N, a small repository gets N ended experiments on loose refs, the first through
the API and the rest with ``git fast-import`` (``gen_experiments.build_fast``, so each carries
the summary and record mlvc writes).
Then, in one process, ``ExperimentManager.start(<new id>)`` and ``ExperimentManager.commit(<a
running experiment>)`` alternate for ``--rounds`` rounds; the median of each and their ratio
are printed. ``--profile`` prints cProfile's top functions of the ``start`` calls.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from gen_experiments import build_fast

from mlvc_jupyter.core.manager import ExperimentManager


def measure(root: Path, rounds: int, profile: bool) -> tuple[float, float]:
    """Return the median seconds of start() and commit(), alternating, in one process."""
    manager = ExperimentManager(root, init=False)
    manager.start("running")
    manager.start("warm-up")  # first-use costs (environment capture, caches) are not compared
    starts: list[float] = []
    commits: list[float] = []
    profiler = cProfile.Profile()
    for i in range(rounds):
        order = [("start", i), ("commit", i)]
        for kind, n in order if i % 2 == 0 else reversed(order):
            began = time.perf_counter()
            if kind == "start":
                if profile:
                    profiler.enable()
                manager.start(f"new-{n:04d}")
                if profile:
                    profiler.disable()
                starts.append(time.perf_counter() - began)
            else:
                manager.commit("running", message=f"step {n}")
                commits.append(time.perf_counter() - began)
    if profile:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return statistics.median(starts), statistics.median(commits)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("counts", nargs="*", type=int, default=[0, 2000])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    print(f"{'experiments':>11}  {'start ms':>8}  {'commit ms':>9}  {'ratio':>5}")
    for count in args.counts:
        folder = Path(tempfile.mkdtemp(prefix="mlvc-start-cost-"))
        try:
            build_fast(folder / "repo", max(count, 1))
            start, commit = measure(folder / "repo", args.rounds, args.profile)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        print(f"{count:>11}  {start * 1000:>8.1f}  {commit * 1000:>9.1f}  {start / commit:>5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
