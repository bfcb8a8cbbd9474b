"""How a re-run knows it is a reproduction: environment variables its process inherits.

``mlvc reproduce --run`` executes the experiment's entry point (its notebook in a fresh kernel,
or its command) in the materialised worktree. That code starts the original experiment again
(``%vc_start exp1``); recording into ``exp1`` would collide with it. The reproducing process
sets :data:`REPRODUCES` to the original id and :data:`RUN_ID` to the linked run's id
(``exp1-repro1``, see :mod:`~mlvc_jupyter.core.reproduction.runs`) in the child's environment
only; every start, commit, end and tracker of the original id in that child is redirected to
the run, which records ``reproduces: exp1``. :data:`SEED` carries the recorded seed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

__all__ = [
    "REPRODUCES",
    "RUN_ID",
    "SEED",
    "child_environment",
    "linked_details",
    "recorded_seed",
    "redirect",
    "reproducing",
]

REPRODUCES = "MLVC_REPRODUCES"
RUN_ID = "MLVC_REPRODUCTION_ID"
SEED = "MLVC_SEED"


def child_environment(original: str, run_id: str, seed: int | None) -> dict[str, str]:
    """Return the variables a re-run's process gets (added to the current environment)."""
    env = {REPRODUCES: original, RUN_ID: run_id}
    if seed is not None:
        env[SEED] = str(seed)
        env["PYTHONHASHSEED"] = str(seed % 2**32)
    return env


def reproducing() -> str | None:
    """Return the id of the experiment this process re-runs, or None outside a re-run."""
    return os.environ.get(REPRODUCES) or None


def redirect(experiment_id: str) -> str:
    """Return the id to record ``experiment_id`` under: the linked run's id in a re-run of it."""
    run_id = os.environ.get(RUN_ID)
    if run_id and experiment_id == reproducing():
        return run_id
    return experiment_id


def linked_details(
    experiment_id: str, details: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """Return ``details`` plus ``reproduces: <original>`` when ``experiment_id`` is a re-run."""
    original = reproducing()
    if original is None or experiment_id != os.environ.get(RUN_ID):
        return details
    return {**(details or {}), "reproduces": original}


def recorded_seed() -> int | None:
    """Return the seed a re-run was given, or None."""
    try:
        return int(os.environ[SEED])
    except (KeyError, ValueError):
        return None
