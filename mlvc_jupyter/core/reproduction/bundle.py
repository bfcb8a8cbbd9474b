"""Export an experiment as a portable zip that reproduces it on a machine without the repository.

The zip holds:

* ``experiment.bundle``: ``git bundle`` of the experiment's ref with all the history reachable
  from it (the first checkpoint's parent, the user's HEAD at start, and its ancestors), so the
  bundle needs no base repository;
* ``experiment.json``: the record (summary, configs, environment, files) plus ``git`` (commit,
  ref, the HEAD and branch it started from) and ``final_metrics``;
* ``metrics.jsonl``: the metric history (possibly empty);
* ``requirements.txt``: the packages the experiment ran with, pinned (pip itself left out);
* ``reproduce.py``: :mod:`~mlvc_jupyter.core.reproduction.reproduce_script`, which needs only
  Python, git and those packages.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import zipfile
from pathlib import Path

from mlvc_jupyter.core.configs import values as configs_mod
from mlvc_jupyter.core.reading.listing import show
from mlvc_jupyter.core.recording.workfiles import unique_suffix
from mlvc_jupyter.core.recording.writer import METRICS_PATH
from mlvc_jupyter.core.records import ExperimentRecord
from mlvc_jupyter.core.repo.places import user_path
from mlvc_jupyter.core.repo.refs import ExperimentRef
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.core.reproduction import reproduce_script
from mlvc_jupyter.errors import MlvcError

__all__ = ["ARCHIVE_FILES", "export_archive", "requirements"]

ARCHIVE_FILES = (
    "experiment.bundle",
    "experiment.json",
    "metrics.jsonl",
    "reproduce.py",
    "requirements.txt",
)
_LEFT_OUT = {"pip"}  # installing into an environment should not replace its installer


def export_archive(
    repo: Repository, experiment_id: str, *, path: str | os.PathLike[str] | None = None
) -> Path:
    """Write the experiment's portable zip and return its path.

    The default place is ``<runtime>/snapshots/<id>-<time>.zip``; ``path`` names a file (never
    an existing one: nothing is overwritten) or an existing folder to write the default name in.

    Raises:
        ExperimentNotFoundError: no such experiment.
        MlvcError: ``path`` exists, or its folder does not.
    """
    record = show(repo, experiment_id)
    target = _target(repo, experiment_id, path)
    (metrics,) = repo.read_blobs([f"{record.summary.commit}:{METRICS_PATH}"])
    texts = {
        "experiment.json": configs_mod.dumps(_document(record)),
        "metrics.jsonl": (metrics or b"").decode("utf-8", "replace"),
        "requirements.txt": requirements(record.environment),
        "reproduce.py": Path(reproduce_script.__file__).read_text(encoding="utf-8"),
    }
    temp = target.with_name(f".{target.name}.mlvc-{unique_suffix()}.tmp")
    try:
        with tempfile.TemporaryDirectory(dir=repo.runtime_dir) as folder:
            bundle = Path(folder, "experiment.bundle")
            ref = ExperimentRef(experiment_id).ref
            repo.git.run("bundle", "create", "-q", str(bundle), ref)
            with zipfile.ZipFile(temp, "x", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.write(bundle, "experiment.bundle", compress_type=zipfile.ZIP_STORED)
                for name, text in texts.items():
                    archive.writestr(name, text)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return target


def _document(record: ExperimentRecord) -> dict[str, object]:
    summary = record.summary
    return {
        **record.to_dict(),
        "git": {
            "commit": summary.commit,
            "ref": ExperimentRef(summary.id).ref,
            "head": summary.head,
            "branch": summary.branch,
        },
        "final_metrics": summary.metrics,
    }


def requirements(environment: dict[str, object]) -> str:
    """Return ``name==version`` lines of the recorded packages (pip left out), sorted."""
    packages = environment.get("packages")
    if not isinstance(packages, dict):
        return ""
    pins = [f"{n}=={v}" for n, v in sorted(packages.items()) if n not in _LEFT_OUT]
    return "".join(f"{pin}\n" for pin in pins)


def _target(repo: Repository, experiment_id: str, path: str | os.PathLike[str] | None) -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    default_name = f"{experiment_id}-{stamp}.zip"
    if path is None:
        folder = repo.runtime_dir / "snapshots"
        folder.mkdir(exist_ok=True)
        return folder / default_name
    target = user_path(path, what="export path").absolute()
    if target.is_dir():
        target = target / default_name
    if os.path.lexists(target):
        raise MlvcError(
            f"Cannot export to '{target}': a file is already there.",
            hint="Choose a new file name (mlvc never overwrites a file it did not create).",
        )
    if not target.parent.is_dir():
        raise MlvcError(
            f"Cannot export to '{target}': the folder '{target.parent}' does not exist.",
            hint="Create the folder first, or choose another path.",
        )
    return target
