"""Export one experiment as a self-contained zip: record, metric history and a reproduce script."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

from mlvc_jupyter.core.configs import values as configs_mod
from mlvc_jupyter.core.files import atomic_write
from mlvc_jupyter.core.reading.listing import show
from mlvc_jupyter.core.recording.writer import METRICS_PATH
from mlvc_jupyter.core.repo.refs import ExperimentRef
from mlvc_jupyter.core.repo.repository import Repository

__all__ = ["export_zip"]

_SCRIPT = '''\
"""Reproduce experiment {id!r} ({name}) recorded by mlvc-jupyter.

Run it from inside a clone of the repository that recorded the experiment:

    python reproduce.py

Without mlvc-jupyter, the same with git alone:

    git fetch origin {ref}:{ref}     # if the experiment lives on a remote
    git worktree add --detach ../{id} {commit}
"""

from mlvc_jupyter import VersionControlManager

if __name__ == "__main__":
    manager = VersionControlManager(".")
    manager.reproduce_experiment({id!r})
    print("Materialised", {id!r}, "at commit {commit}")
'''


def export_zip(repo: Repository, experiment_id: str) -> Path:
    """Write ``<runtime>/snapshots/<id>-<time>.zip`` and return its path.

    The zip holds ``experiment.json`` (summary, configs, git info, environment, files),
    ``metrics.jsonl`` (the metric history, possibly empty) and ``reproduce.py``.

    Raises:
        ExperimentNotFoundError: no such experiment.
    """
    record = show(repo, experiment_id)
    summary = record.summary
    (metrics,) = repo.read_blobs([f"{summary.commit}:{METRICS_PATH}"])
    document = {
        **record.to_dict(),
        "git": {
            "commit": summary.commit,
            "ref": ExperimentRef.parse_name(experiment_id).ref,
            "head": summary.head,
            "branch": summary.branch,
        },
        "final_metrics": summary.metrics,
    }
    folder = repo.runtime_dir / "snapshots"
    folder.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    target = folder / f"{experiment_id.replace('/', '-')}-{stamp}.zip"
    script = _SCRIPT.format(
        id=experiment_id,
        name=summary.name,
        ref=ExperimentRef.parse_name(experiment_id).ref,
        commit=summary.commit,
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("experiment.json", configs_mod.dumps(document))
        archive.writestr("metrics.jsonl", metrics or b"")
        archive.writestr("reproduce.py", script)
    atomic_write(target, buffer.getvalue())
    return target
