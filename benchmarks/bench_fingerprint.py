"""Fingerprinting a 1 GB data folder: the first time, and again unchanged (issue 12).

    python benchmarks/bench_fingerprint.py [--mb 1024] [--files 64] [--rounds 3]

A folder of ``--files`` random files totalling ``--mb`` MB (mtimes set an hour back, as a data
set's are) inside a fresh repository. Each round, round-robin: ``sha256sum`` over the same files
(the floor: one process reading and hashing every byte), ``fingerprint()`` with an empty cache
(first time: every file read, in parallel threads; and with one thread, to show what the threads
give), and ``fingerprint()`` again with the cache
the first run filled (unchanged: a stat per file, nothing read). The files stay in the page cache
between methods, so every method is timed warm; the ``bytes read`` column shows what each read.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import Task, git, round_robin

from mlvc_jupyter.core.data.fingerprint import FingerprintCache, fingerprint


def build(root: Path, total_mb: int, count: int) -> list[Path]:
    git(root, "init", "-q", "-b", "main")
    data = root / "data"
    data.mkdir()
    size = total_mb * 1024 * 1024 // count
    then = time.time() - 3600
    files = []
    for i in range(count):
        path = data / f"shard-{i:04d}.bin"
        with open(path, "wb") as handle:
            for _ in range(size // (1 << 20)):
                handle.write(os.urandom(1 << 20))
            handle.write(os.urandom(size % (1 << 20)))
        os.utime(path, (then, then))
        files.append(path)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=1024)
    parser.add_argument("--files", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-fingerprint-") as folder:
        root = Path(folder)
        files = build(root, args.mb, args.files)
        sqlite = root / ".git" / "mlvc" / "data" / "fingerprints.sqlite"
        read: dict[str, int] = {}

        def floor() -> None:
            subprocess.run(["sha256sum", *map(str, files)], capture_output=True, check=True)
            read["sha256sum"] = sum(f.stat().st_size for f in files)

        def measure(name: str, workers: int = 8) -> None:
            cache = FingerprintCache(sqlite)
            fingerprint(["data"], root=root, cache=cache, workers=workers)
            read[name] = cache.bytes_read

        def forget() -> None:
            sqlite.unlink(missing_ok=True)

        tasks = [
            Task("sha256sum (floor)", floor),
            Task("first time", lambda: measure("first time"), setup=forget),
            Task("first, 1 thread", lambda: measure("first, 1 thread", 1), setup=forget),
            Task("again, unchanged", lambda: measure("again, unchanged")),
        ]
        samples = round_robin(tasks, rounds=args.rounds, warmup=1)
    print(f"{args.files} files, {args.mb} MB, {args.rounds} rounds (median s; bytes read):")
    for task in tasks:
        key = task.name.split(" (")[0]
        median = statistics.median(samples[task.name])
        print(f"  {task.name:20} {median:8.3f}   {read.get(key, 0):>14,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
