"""MLflow: each experiment run becomes an MLflow run, through ``MlflowClient`` (no global state).

The store is ``MLFLOW_TRACKING_URI`` when set (a server, a database), else a SQLite file under
``<runtime>/mlflow/`` (artifacts beside it). The MLflow experiment is ``MLFLOW_EXPERIMENT_NAME``
or the project folder's name; the run is named after the mlvc experiment and tagged
``mlvc.experiment``, ``mlvc.run`` and ``mlvc.commit`` (the newest checkpoint); params are the
flattened configs (secrets redacted); metrics keep their steps and times, sent in batches.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from mlvc_jupyter.core.tracking.fanout import Point, RunInfo

__all__ = ["MlflowBridge", "tracking_uri"]

_METRICS_PER_BATCH = 1000  # MLflow's limits for one log_batch call
_PARAMS_PER_BATCH = 100
_PARAM_CHARS = 6000
_STATUS = {"success": "FINISHED", "failed": "FAILED"}


def tracking_uri(run: RunInfo, environ: Mapping[str, str] = os.environ) -> str:
    """Return ``MLFLOW_TRACKING_URI``, or the SQLite store under the runtime folder."""
    return environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{run.runtime / 'mlflow' / 'mlflow.db'}"


class MlflowBridge:
    """Send an experiment's run to MLflow (see the module's docstring)."""

    name = "mlflow"
    requires = ("mlflow",)

    def __init__(self) -> None:
        self._client: Any = None
        self._run_id = ""
        self._step = 0  # the highest step sent

    def open(self, run: RunInfo) -> None:
        from mlflow.tracking import MlflowClient

        uri = tracking_uri(run)
        if uri.startswith("sqlite:///"):
            (run.runtime / "mlflow").mkdir(parents=True, exist_ok=True)
        self._client = MlflowClient(tracking_uri=uri)
        experiment = self._experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME") or run.project, run)
        tags = {"mlvc.experiment": run.experiment_id, "mlvc.run": run.run_id}
        created = self._client.create_run(experiment, run_name=run.experiment_id, tags=tags)
        self._run_id = created.info.run_id

    def _experiment(self, name: str, run: RunInfo) -> str:
        """Return the id of the MLflow experiment ``name``, created if missing."""
        from mlflow.exceptions import MlflowException

        found = self._client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        artifacts = None
        if "MLFLOW_TRACKING_URI" not in os.environ:  # keep artifacts out of the working tree
            artifacts = (run.runtime / "mlflow" / "artifacts").as_uri()
        try:
            return str(self._client.create_experiment(name, artifact_location=artifacts))
        except MlflowException:  # another process created it meanwhile
            return str(self._client.get_experiment_by_name(name).experiment_id)

    def log_points(self, points: Sequence[Point]) -> None:
        from mlflow.entities import Metric

        metrics = []
        for point in points:  # no step: the highest so far, so end's final metrics are latest
            if point.step is not None:
                self._step = max(self._step, point.step)
            step = self._step if point.step is None else point.step
            stamp = int(point.time * 1000)
            metrics += [Metric(key, value, stamp, step) for key, value in point.metrics.items()]
        for start in range(0, len(metrics), _METRICS_PER_BATCH):
            chunk = metrics[start : start + _METRICS_PER_BATCH]
            self._client.log_batch(self._run_id, metrics=chunk)

    def log_params(self, params: Mapping[str, object]) -> None:
        from mlflow.entities import Param

        known = self._client.get_run(self._run_id).data.params
        fresh = [
            Param(key, str(value)[:_PARAM_CHARS])
            for key, value in params.items()
            if known.get(key) != str(value)[:_PARAM_CHARS]
        ]
        changed = [param for param in fresh if param.key in known]
        for param in changed:  # MLflow params are write-once: a changed value becomes a tag
            self._client.set_tag(self._run_id, f"mlvc.param.{param.key}", param.value)
        new = [param for param in fresh if param.key not in known]
        for start in range(0, len(new), _PARAMS_PER_BATCH):
            self._client.log_batch(self._run_id, params=new[start : start + _PARAMS_PER_BATCH])

    def set_commit(self, commit: str) -> None:
        self._client.set_tag(self._run_id, "mlvc.commit", commit)

    def close(self, final_metrics: Mapping[str, float], status: str) -> None:
        """End the run as FINISHED or FAILED; a session closed while its experiment is still
        running (a kernel restart, ``mlvc start``) leaves the run RUNNING, like the experiment."""
        if status in _STATUS:
            self._client.set_terminated(self._run_id, _STATUS[status])
