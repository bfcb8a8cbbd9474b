"""TensorBoard: event files under ``<runtime>/tensorboard/<experiment>/<run>``.

Written through tensorboardX (the ``tensorboard`` extra) or, when only torch is installed,
through ``torch.utils.tensorboard``. Each metric is a scalar at its step (points without a step
get the next one); the configs (secrets redacted) and the checkpoint commit are text summaries.
View them with ``tensorboard --logdir "$(git rev-parse --git-common-dir)/mlvc/tensorboard"``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlvc_jupyter.core.tracking.fanout import Point, RunInfo

__all__ = ["TensorBoardBridge", "log_dir"]


def log_dir(run: RunInfo) -> Path:
    """Return the run's event folder."""
    return run.runtime / "tensorboard" / run.experiment_id / run.run_id


def _summary_writer() -> Any:
    try:
        from tensorboardX import SummaryWriter  # type: ignore[import-untyped]  # no stubs
    except ImportError:
        from torch.utils.tensorboard import SummaryWriter  # type: ignore[import-not-found, unused-ignore]
    return SummaryWriter


class TensorBoardBridge:
    """Write an experiment's run as TensorBoard event files (see the module's docstring)."""

    name = "tensorboard"
    requires = ("tensorboardX", "torch")

    def __init__(self) -> None:
        self._writer: Any = None
        self._next_step = 0

    def open(self, run: RunInfo) -> None:
        self._writer = _summary_writer()(str(log_dir(run)))

    def log_points(self, points: Sequence[Point]) -> None:
        for point in points:
            step = self._next_step if point.step is None else point.step
            self._next_step = max(self._next_step, step + 1)
            for key, value in point.metrics.items():
                self._writer.add_scalar(key, value, global_step=step, walltime=point.time)

    def log_params(self, params: Mapping[str, object]) -> None:
        table = "\n".join(f"| {key} | {json.dumps(value)} |" for key, value in params.items())
        self._writer.add_text("mlvc/configs", f"| name | value |\n|---|---|\n{table}")

    def set_commit(self, commit: str) -> None:
        self._writer.add_text("mlvc/commit", commit)

    def close(self, final_metrics: Mapping[str, float], status: str) -> None:
        self._writer.add_text("mlvc/status", status)
        self._writer.close()
