"""Time ``log_metrics`` per call: the local store alone, with MLflow attached, and MLflow direct.

    python benchmarks/bench_tracking.py               # ~1 min
    python benchmarks/bench_tracking.py --rounds 3 --direct 100

Targets (issue 12): the local store alone under 5 us per call; with MLflow attached (the
fan-out: local line + a queue put, MLflow fed by a background thread) against calling
``mlflow.log_metrics`` directly in the same MLflow run. Every call logs the same two metrics at a
new step. Each figure is the median over rounds of (time of N calls) / N; "delivered" is the time
from the first call until ``finish()`` returns, i.e. until MLflow holds every point. The MLflow
store is a SQLite file in a temporary folder (the bridge's default store). Prints the table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from mlvc_jupyter.core.tracking import create_tracker
from mlvc_jupyter.core.tracking.local import LocalTracker


def per_call(log: object, calls: int) -> float:
    """Return seconds per ``log(metrics, step)`` call over ``calls`` calls."""
    metrics = {"loss": 0.25, "acc": 0.5}
    started = time.perf_counter()
    for step in range(calls):
        log(metrics, step)  # type: ignore[operator]
    return (time.perf_counter() - started) / calls


def local_alone(folder: Path, calls: int) -> float:
    with LocalTracker(folder / "local.jsonl", experiment_id="bench") as tracker:
        return per_call(tracker.log_metrics, calls)


def with_mlflow(folder: Path, calls: int, round_no: int) -> tuple[float, float, str]:
    """Return (seconds per call, seconds until MLflow holds it all, MLflow run id)."""
    tracker = create_tracker(
        "local,mlflow", path=folder / f"fan-{round_no}.jsonl", experiment_id=f"bench-{round_no}",
        runtime=folder, project="bench",
    )  # fmt: skip
    tracker.log_metrics({"warm": 1.0}, 0)  # the run opens in the background; not timed
    time.sleep(3)
    started = time.perf_counter()
    seconds = per_call(tracker.log_metrics, calls)
    problems = tracker.finish(timeout=600)  # type: ignore[attr-defined]
    delivered = time.perf_counter() - started
    tracker.close()
    if problems:
        sys.exit(f"MLflow did not receive everything: {problems}")
    return seconds, delivered, _run_id(folder, tracker.run_id)


def _run_id(folder: Path, mlvc_run: str) -> str:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{folder / 'mlflow' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("bench")
    (run,) = client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.`mlvc.run` = '{mlvc_run}'"
    )
    return str(run.info.run_id)


def mlflow_direct(folder: Path, calls: int, run_id: str) -> float:
    """``mlflow.log_metrics`` in the same run (reopened through the fluent API)."""
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow' / 'mlflow.db'}")
    with mlflow.start_run(run_id=run_id):
        return per_call(lambda metrics, step: mlflow.log_metrics(metrics, step=step), calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20_000, help="calls per round")
    parser.add_argument("--direct", type=int, default=300, help="direct MLflow calls per round")
    args = parser.parse_args()
    local, fan, delivered, direct = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="mlvc-bench-tracking-") as name:
        folder = Path(name)
        for round_no in range(args.rounds):
            local.append(local_alone(folder, args.calls * 5))
            seconds, total, run_id = with_mlflow(folder, args.calls, round_no)
            fan.append(seconds)
            delivered.append(total / args.calls)
            direct.append(mlflow_direct(folder, args.direct, run_id))
            print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
    rows = {
        "local alone (target < 5 us)": statistics.median(local),
        "local + MLflow attached (caller's cost)": statistics.median(fan),
        "local + MLflow: until MLflow holds it, per point": statistics.median(delivered),
        "mlflow.log_metrics direct, same run": statistics.median(direct),
    }
    print("| log_metrics({loss, acc}, step) | per call |\n| --- | --- |")
    for label, seconds in rows.items():
        print(f"| {label} | {seconds * 1e6:,.2f} us |")
    attached, alone = statistics.median(fan), statistics.median(local)
    print(f"\nattached / local alone: {attached / alone:.2f}x")
    print(f"direct MLflow / attached: {statistics.median(direct) / attached:,.0f}x")


if __name__ == "__main__":
    main()
