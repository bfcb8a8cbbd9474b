"""Build repositories holding N finished experiments, through mlvc's public API, and cache them.

    python benchmarks/gen_experiments.py 100 1000 10000 [--jobs 2]

Each repository is a small project (a few files, so every checkpoint is quick) in which
experiment ``exp-00000`` ... is recorded with ``ExperimentManager.start(id, configs=...)`` and
``ExperimentManager.end(id, metrics=..., tag=...)`` (one in a hundred is tagged), exactly as a
user would; nothing is written with fast-import. 10,000 experiments take a while (about 60 ms
each on the reference machine, more as loose refs accumulate), so ``--jobs`` worker processes
record disjoint ids in parallel and a progress line shows the count. An interrupted build resumes
where it stopped.

The result is cached as ``benchmarks/.cache/exps-<N>-loose`` (as written: one file per ref, all
objects loose), ``exps-<N>-packed`` (a copy after ``git pack-refs --all``) and ``exps-<N>-gc`` (a
copy after ``git gc``: refs and objects packed).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import CACHE, git, git_env, progress

PREFIX = "exp-"


LAYOUTS = ("loose", "packed", "gc")


def paths(n: int) -> tuple[Path, Path, Path]:
    """Return (loose repository, packed repository, completion marker) for ``n``."""
    return CACHE / f"exps-{n}-loose", CACHE / f"exps-{n}-packed", CACHE / f"exps-{n}.json"


def layouts(n: int) -> dict[str, Path]:
    """Return the cached repositories of ``n`` experiments by layout, making missing copies.

    ``loose``: as mlvc wrote it (one file per ref, every object loose, since mlvc's own git
    calls never run auto-gc); ``packed``: after ``git pack-refs --all``; ``gc``: after
    ``git gc`` (refs and objects packed), as a repository looks once the user's git collected.
    """
    loose, packed, _ = paths(n)
    result = {"loose": loose, "packed": packed, "gc": CACHE / f"exps-{n}-gc"}
    for layout, command in (("packed", ("pack-refs", "--all")), ("gc", ("gc", "-q"))):
        target = result[layout]
        if not target.exists():
            partial = target.with_name(target.name + ".partial")
            if partial.exists():
                shutil.rmtree(partial)
            shutil.copytree(loose, partial, symlinks=True)
            git(partial, *command)
            partial.rename(target)
    return result


def experiment_id(i: int) -> str:
    return f"{PREFIX}{i:05d}"


def _init_small_repo(root: Path) -> None:
    root.mkdir(parents=True)
    (root / "src").mkdir()
    (root / "src" / "train.py").write_text("def train(lr):\n    return lr * 2\n")
    (root / "params.yaml").write_text("lr: 0.1\nepochs: 10\n")
    (root / "README.md").write_text("# Small project for the listing benchmark\n")
    (root / ".gitignore").write_text("__pycache__/\n")
    env = git_env(date="2026-01-01T00:00:00Z")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A", env=env)
    git(root, "commit", "-q", "-m", "Small project", env=env)


def _record_one(manager: Any, i: int, existing: dict[str, str]) -> None:
    exp = experiment_id(i)
    status = existing.get(exp)
    if status not in (None, "running"):
        return
    if status is None:
        manager.start(
            exp, configs={"lr": round(0.001 * (i % 97 + 1), 6), "seed": i, "depth": i % 8}
        )
    manager.end(
        exp,
        metrics={"loss": round(1.0 / (i + 1), 6), "acc": round((i % 1000) / 1000, 4)},
        tag=f"best-{i:05d}" if i % 100 == 0 else None,
    )


def worker(root: Path, n: int, job: int, jobs: int) -> None:
    """Record the experiments ``job, job + jobs, ...`` below ``n`` that are not finished yet."""
    from mlvc_jupyter import ExperimentManager

    manager = ExperimentManager(root)
    existing = {s.id: s.status for s in manager.log()}
    for i in range(job, n, jobs):
        _record_one(manager, i, existing)


def _count(root: Path) -> int:
    folder = root / ".git" / "refs" / "mlvc" / "experiments"
    return sum(1 for _ in folder.iterdir()) if folder.exists() else 0


def build(n: int, *, jobs: int = 2, quiet: bool = False) -> Path:
    """Build (or finish building) the ``n``-experiment repositories; return the loose one."""
    loose, packed, marker = paths(n)
    if marker.exists():
        return loose
    if not loose.exists():
        _init_small_repo(loose)
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, str(n), "--worker", f"{job}/{jobs}", "--root", str(loose)],
            env=git_env(),
        )
        for job in range(jobs)
    ]
    while any(p.poll() is None for p in procs):
        time.sleep(1.0)
        if not quiet:
            done, elapsed = _count(loose), time.perf_counter() - started
            rate = done / elapsed if elapsed else 0.0
            progress(f"building {n} experiments: {done}/{n} ({rate:.1f}/s, {elapsed:.0f} s)")
    if not quiet:
        progress("")
    failed = [p.returncode for p in procs if p.returncode]
    if failed:
        raise RuntimeError(f"a worker building {loose} failed ({failed}); rerun to resume")
    summaries = git(loose, "for-each-ref", "--format=%(refname)", "refs/mlvc/experiments/")
    count = len(summaries.split())
    if count != n:
        raise RuntimeError(f"{loose} has {count} experiments, expected {n}; rerun to resume")
    for stale in (packed, CACHE / f"exps-{n}-gc"):
        if stale.exists():
            shutil.rmtree(stale)
    layouts(n)
    info = {"experiments": n, "jobs": jobs, "seconds": round(time.perf_counter() - started, 1)}
    marker.write_text(json.dumps(info) + "\n")
    return loose


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100, 1000, 10000])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        job, jobs = (int(x) for x in args.worker.split("/"))
        worker(args.root, args.sizes[0], job, jobs)
        return 0
    for n in args.sizes:
        loose = build(n, jobs=args.jobs)
        print(f"{n}: {loose} (and the packed and gc copies)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
