"""What the secret guard adds to a checkpoint of 10 changed files (issue 12; target: <= 10 ms).

    python benchmarks/bench_secrets.py [--rounds 30] [--files 10]

A repository of 200 small Python and YAML files; every round rewrites ``--files`` of them (so
each is new to the guard and scanned whole) and records a checkpoint, once with the guard and
once with it switched off (the writer's guard replaced by one that scans nothing), round-robin in
the same process. Reported: the median checkpoint with and without the guard, their paired
difference, the guard's own phase as the checkpoint records it (``timings["secrets"]``), and the
one-time cost of importing detect-secrets in a fresh interpreter (paid at the first scan).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from common import Task, git, round_robin

from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.recording.workfiles import WorkingFiles

SOURCE = '''"""Module {i}: a training helper."""
import os

import numpy as np

LEARNING_RATE = {lr}
num_tokens = 512
api_key = os.environ.get("API_KEY")


def step_{i}(batch, weights):
    """Return the loss of one step."""
    logits = batch @ weights
    return float(np.mean((logits - batch.mean()) ** 2)) * {lr}
'''
CONFIG = "model:\n  layers: {i}\n  tokenizer: bpe\noptimizer:\n  lr: {lr}\n"


class NoGuard:
    """A guard that scans nothing: the checkpoint without the secret guard."""

    def check(
        self, files: WorkingFiles, paths: Sequence[str], notebooks: Mapping[str, bytes]
    ) -> None:
        """Do nothing."""


def build(root: Path) -> None:
    git(root, "init", "-q", "-b", "main")
    for i in range(200):
        folder = root / "src" if i % 4 else root / "configs"
        folder.mkdir(exist_ok=True)
        name = f"mod_{i}.py" if i % 4 else f"cfg_{i}.yaml"
        template = SOURCE if i % 4 else CONFIG
        (folder / name).write_text(template.format(i=i, lr=0.001))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "project")


def rewrite(root: Path, count: int, value: list[int]) -> None:
    value[0] += 1
    for i in range(1, count + 1):
        (root / "src" / f"mod_{i * 4 + 1}.py").write_text(SOURCE.format(i=i, lr=value[0] * 1e-5))


def import_cost() -> float:
    code = "import time;t=time.perf_counter();import mlvc_jupyter.core.secrets.scan as s;"
    code += "s._format_patterns();s._keyword_tools();print(time.perf_counter()-t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    return float(out.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--files", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-secrets-") as folder:
        root = Path(folder)
        build(root)
        manager = ExperimentManager(root)
        manager.start("guarded")
        manager.start("unguarded")
        guard, counter = manager.writer.secrets, [0]
        scans: list[float] = []

        def guarded() -> None:
            manager.writer.secrets = guard
            manager.commit("guarded")

        def read_phase() -> None:  # untimed: the guard's phase as the checkpoint recorded it
            scans.append(manager.show("guarded").timings["secrets"])

        def unguarded() -> None:
            manager.writer.secrets = NoGuard()  # type: ignore[assignment]
            manager.commit("unguarded")

        setup = lambda: rewrite(root, args.files, counter)  # noqa: E731
        tasks = [
            Task("with guard", guarded, setup, read_phase),
            Task("without guard", unguarded, setup),
        ]
        samples = round_robin(tasks, rounds=args.rounds, warmup=2)
    with_ms = [s * 1000 for s in samples["with guard"]]
    without_ms = [s * 1000 for s in samples["without guard"]]
    diffs = [a - b for a, b in zip(with_ms, without_ms, strict=True)]
    print(f"checkpoint of {args.files} changed files, {args.rounds} rounds (median ms):")
    print(f"  with the guard     {statistics.median(with_ms):8.2f}")
    print(f"  without the guard  {statistics.median(without_ms):8.2f}")
    print(f"  paired difference  {statistics.median(diffs):8.2f}  (target <= 10)")
    print(f"  guard phase        {statistics.median(scans[-args.rounds :]) * 1000:8.2f}")
    print(
        f"  first-scan import of detect-secrets (fresh interpreter): {import_cost() * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
