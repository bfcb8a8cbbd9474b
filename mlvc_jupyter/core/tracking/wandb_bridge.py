"""Weights & Biases: each experiment run becomes a W&B run, offline unless an API key is set.

Without ``WANDB_API_KEY`` (and without an explicit ``WANDB_MODE``) the run is offline: it needs
no account and no network, and its files go under ``<runtime>/wandb/`` (upload them later with
``wandb sync``). The run is named after the experiment and grouped by it; its config is the
experiment's configs (secrets redacted) plus ``mlvc.experiment`` and ``mlvc.commit``; its summary
gets the final metrics. W&B steps must grow, so every point is one W&B step and the caller's step
is logged as ``mlvc/step`` (an epoch loop restarting ``batch_idx`` at 0 loses nothing).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from mlvc_jupyter.core.tracking.fanout import Point, RunInfo

__all__ = ["WandbBridge", "wandb_mode"]

STEP_KEY = "mlvc/step"


def wandb_mode(environ: Mapping[str, str] = os.environ) -> str:
    """Return the W&B mode: ``WANDB_MODE`` if set, else online with an API key, else offline."""
    return environ.get("WANDB_MODE") or ("online" if environ.get("WANDB_API_KEY") else "offline")


class WandbBridge:
    """Send an experiment's run to W&B (see the module's docstring)."""

    name = "wandb"
    requires = ("wandb",)

    def __init__(self) -> None:
        self._run: Any = None

    def open(self, run: RunInfo) -> None:
        import wandb

        folder = run.runtime / "wandb"
        folder.mkdir(parents=True, exist_ok=True)
        settings = wandb.Settings(
            silent=True, console="off", disable_git=True, save_code=False,
            x_disable_stats=True, disable_job_creation=True,
        )  # fmt: skip
        self._run = wandb.init(
            project=os.environ.get("WANDB_PROJECT") or run.project,
            name=run.experiment_id,
            group=run.experiment_id,
            id=run.run_id,
            dir=str(folder),
            mode=wandb_mode(),  # type: ignore[arg-type]  # one of wandb's literal modes
            config={"mlvc.experiment": run.experiment_id, "mlvc.run": run.run_id},
            reinit="create_new",
            settings=settings,
        )
        self._run.define_metric("*", step_metric=STEP_KEY)

    def log_points(self, points: Sequence[Point]) -> None:
        for point in points:
            row: dict[str, Any] = dict(point.metrics)
            if point.step is not None:
                row[STEP_KEY] = point.step
            self._run.log(row)

    def log_params(self, params: Mapping[str, object]) -> None:
        self._run.config.update(dict(params), allow_val_change=True)

    def set_commit(self, commit: str) -> None:
        self._run.config.update({"mlvc.commit": commit}, allow_val_change=True)
        self._run.summary["mlvc/commit"] = commit

    def close(self, final_metrics: Mapping[str, float], status: str) -> None:
        self._run.summary.update(dict(final_metrics))
        self._run.summary["mlvc/status"] = status
        self._run.finish(exit_code=0 if status == "success" else 1)
