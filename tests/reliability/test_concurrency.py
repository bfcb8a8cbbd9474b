"""Concurrent writers: N processes x M checkpoints, on one experiment and on N experiments.

Guards: every acknowledged checkpoint is reachable and holds the file its writer wrote just
before the call (no lost update, no cross-contamination), fsck is clean, and the user's HEAD,
index and files are untouched. p50/p95 latency is printed and, with
``MLVC_RELIABILITY_REPORT``, recorded; it is never asserted.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlvc_jupyter import ExperimentManager
from tests.reliability.conftest import (
    Counts,
    Invariants,
    checkpoint_count,
    read_acks,
    report_latency,
    worker_argv,
)


def _run_writers(inv: Invariants, ids: list[str], m: int, tmp: Path) -> list[dict]:
    """Start one commit-loop process per id in ``ids`` at once; return every acknowledgement."""
    procs = []
    for w, experiment_id in enumerate(ids):
        acks = tmp / f"acks-{w}.jsonl"
        argv = worker_argv(
            "commit-loop", str(inv.path), experiment_id, str(m), str(acks), f"w{w}.txt"
        )
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        procs.append((proc, acks, experiment_id))
    results = []
    for proc, acks, experiment_id in procs:
        _, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"a writer of {experiment_id} failed:\n{stderr}"
        results += [{**ack, "id": experiment_id} for ack in read_acks(acks)]
    for w in range(len(ids)):
        (inv.path / f"w{w}.txt").unlink()
    return results


def _check(inv: Invariants, results: list[dict], ids: list[str], m: int, name: str) -> None:
    for ack in results:
        inv.ack(ack["id"], ack["commit"], {ack["file"]: ack["content"].encode()})
    assert len(results) == len(ids) * m, "every call must be acknowledged"
    for experiment_id in set(ids):
        expected = 1 + ids.count(experiment_id) * m  # the start, then every worker's calls
        assert checkpoint_count(inv.path, experiment_id) == expected
    inv.check(next_call=ids[0])
    report_latency(name, [ack["latency"] for ack in results], writers=len(ids), per_writer=m)


@pytest.mark.parametrize("shared", [True, False], ids=["one-experiment", "n-experiments"])
def test_concurrent_writers_lose_nothing(
    invariants: Invariants, counts: Counts, tmp_path: Path, shared: bool
) -> None:
    """N x M concurrent checkpoints: all acknowledged, all reachable, each with its own file."""
    n, m = counts.writers, counts.checkpoints
    ids = ["shared"] * n if shared else [f"exp{w}" for w in range(n)]
    manager = ExperimentManager(invariants.path, init=False)
    for experiment_id in sorted(set(ids)):
        invariants.ack(experiment_id, manager.start(experiment_id).commit)
    results = _run_writers(invariants, ids, m, tmp_path)
    name = f"concurrency.{'one' if shared else 'n'}-experiment{'' if shared else 's'}.{n}x{m}"
    _check(invariants, results, ids, m, name)
