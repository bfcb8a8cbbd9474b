"""Build repositories holding N finished experiments, through mlvc's public API, and cache them.

    python benchmarks/gen_experiments.py 100 1000 10000 [--jobs 2]

Each repository is a small project (a few files, so every checkpoint is quick) in which
experiment ``exp-00000`` ... is recorded with ``ExperimentManager.start(id, configs=...)`` and
``ExperimentManager.end(id, metrics=..., tag=...)`` (one in a hundred is tagged), exactly as a
user would. 10,000 experiments take a while that way (about 60 ms each on the reference machine,
more as loose refs accumulate: 12 minutes or more), so ``--jobs`` worker processes record disjoint
ids in parallel and a progress line shows the count. An interrupted build resumes where it stopped.

``--fast`` (the default from 10,000 experiments on; ``--api`` forces the slow path) records the
first experiment through the API and writes the others with ``git fast-import``: the same two
checkpoints per experiment, the commit messages made by mlvc's own ``format_message``, a record
file per checkpoint and the same tags, then every object unpacked so the loose layout stays "one
file per ref and per object". The listing benchmarks are about reading, so how the refs were
written does not matter; building 10,000 takes well under a minute this way.

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


def build_fast(root: Path, n: int) -> None:
    """Record experiment 0 through the API, then write the others with ``git fast-import``."""
    from mlvc_jupyter import ExperimentManager
    from mlvc_jupyter.core.recording.summary import format_message, parse_summary

    if root.exists():  # a partial build of either kind: start over, fast-import is quick
        shutil.rmtree(root)
    _init_small_repo(root)
    _record_one(ExperimentManager(root), 0, {})
    ref = f"refs/mlvc/experiments/{experiment_id(0)}"
    summary = parse_summary(git(root, "log", "-1", "--format=%B", ref).decode())
    record = json.loads(git(root, "show", f"{ref}:{RECORD}"))
    tree = git(root, "rev-parse", f"{ref}^{{tree}}").decode().strip()
    head = git(root, "rev-parse", "HEAD").decode().strip()
    assert summary is not None, "the API wrote no summary"
    stream = b"".join(
        _fast_import_experiment(i, summary, record, tree, head, format_message) for i in range(1, n)
    )
    git(root, "fast-import", "--quiet", "--done", stdin=stream + b"done\n")
    _unpack_objects(root)


RECORD = ".mlvc/experiment.json"


def _data(payload: bytes) -> bytes:
    return b"data %d\n%s\n" % (len(payload), payload)


def _fast_import_experiment(
    i: int, template: dict[str, Any], record: dict[str, Any], tree: str, head: str, fmt: Any
) -> bytes:
    """Return the fast-import commands of experiment ``i``: two checkpoints, maybe a tag."""
    exp = experiment_id(i)
    created = 1_767_225_600 + 60 * i  # 2026-01-01 plus a minute per experiment
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    configs = {"lr": round(0.001 * (i % 97 + 1), 6), "seed": i, "depth": i % 8}
    blob = json.dumps({**record, "id": exp, "configs": configs}, indent=2).encode()
    metrics = {"loss": round(1.0 / (i + 1), 6), "acc": round((i % 1000) / 1000, 4)}
    base = {**template, "id": exp, "name": exp, "created": f"{stamp}.000+00:00"}
    checkpoints = (
        {**base, "seq": 1, "status": "running", "message": "checkpoint", "metrics": {}},
        {**base, "seq": 2, "status": "success", "message": "ended: success", "metrics": metrics},
    )
    out = []
    for seq, summary in enumerate(checkpoints, start=1):
        summary["time"] = f"{stamp}.{seq:03d}+00:00"
        out.append(
            b"commit refs/mlvc/experiments/%s\nmark :%d\n" % (exp.encode(), 2 * i + seq)
            + b"committer Bench <bench@example.invalid> %d +0000\n" % created
            + _data(fmt(summary))
            + (b'from %s\nM 040000 %s ""\n' % (head.encode(), tree.encode()) if seq == 1 else b"")
            + b"M 100644 inline %s\n" % RECORD.encode()
            + _data(blob)
        )
    if i % 100 == 0:
        message = (
            f"mlvc experiment {exp} checkpoint 2 (success)\n\n"
            f"metrics: {json.dumps(metrics, sort_keys=True)}\nmlvc-experiment: {exp}\n"
        )
        out.append(
            b"tag best-%05d\nfrom :%d\n" % (i, 2 * i + 2)
            + b"tagger Bench <bench@example.invalid> %d +0000\n" % created
            + _data(message.encode())
        )
    return out[0] + b"".join(out[1:])


def _unpack_objects(root: Path) -> None:
    """Turn fast-import's pack into loose objects, as mlvc's own writes leave them."""
    pack_dir = root / ".git" / "objects" / "pack"
    for pack in sorted(pack_dir.glob("*.pack")):
        moved = root / ".git" / pack.name
        pack.rename(moved)
        pack.with_suffix(".idx").unlink()
        with moved.open("rb") as stream:
            subprocess.run(["git", "unpack-objects", "-q"], cwd=root, stdin=stream, check=True)
        moved.unlink()


def _count(root: Path) -> int:
    folder = root / ".git" / "refs" / "mlvc" / "experiments"
    return sum(1 for _ in folder.iterdir()) if folder.exists() else 0


def build(n: int, *, jobs: int = 2, quiet: bool = False, fast: bool | None = None) -> Path:
    """Build (or finish building) the ``n``-experiment repositories; return the loose one.

    ``fast`` (default: from 10,000 on) writes all but the first with ``git fast-import``.
    """
    loose, packed, marker = paths(n)
    if marker.exists():
        return loose
    started = time.perf_counter()
    fast = n >= 10_000 if fast is None else fast
    if fast:
        if not quiet:
            progress(f"building {n} experiments with git fast-import")
        build_fast(loose, n)
    else:
        _record_with_workers(loose, n, jobs=jobs, quiet=quiet)
    return _finish(n, started, {"jobs": jobs, "method": "fast-import" if fast else "api"})


def _record_with_workers(loose: Path, n: int, *, jobs: int, quiet: bool) -> None:
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


def _finish(n: int, started: float, info: dict[str, Any]) -> Path:
    loose, packed, marker = paths(n)
    summaries = git(loose, "for-each-ref", "--format=%(refname)", "refs/mlvc/experiments/")
    count = len(summaries.split())
    if count != n:
        raise RuntimeError(f"{loose} has {count} experiments, expected {n}; rerun to resume")
    for stale in (packed, CACHE / f"exps-{n}-gc"):
        if stale.exists():
            shutil.rmtree(stale)
    layouts(n)
    info = {"experiments": n, **info, "seconds": round(time.perf_counter() - started, 1)}
    marker.write_text(json.dumps(info) + "\n")
    return loose


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100, 1000, 10000])
    parser.add_argument("--jobs", type=int, default=2)
    speed = parser.add_mutually_exclusive_group()
    speed.add_argument("--fast", action="store_true", default=None, help="use git fast-import")
    speed.add_argument("--api", dest="fast", action="store_false", help="record through the API")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        job, jobs = (int(x) for x in args.worker.split("/"))
        worker(args.root, args.sizes[0], job, jobs)
        return 0
    for n in args.sizes:
        loose = build(n, jobs=args.jobs, fast=args.fast)
        print(f"{n}: {loose} (and the packed and gc copies)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
