"""The drift report: how the place a reproduction runs in differs from what was recorded.

Made before anything runs, so a failed or different re-run can be read against it: the
environment (Python, platform, packages that changed, were added or are missing), the data
files (large files left out of the checkpoint, each restored or checked by sha256), and the
config files and configs the checkpoint brought back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mlvc_jupyter.core.configs.values import is_config_path
from mlvc_jupyter.core.data.cache import ContentCache
from mlvc_jupyter.core.data.fingerprint import DataFingerprint, FingerprintCache, fingerprint
from mlvc_jupyter.core.environment.capture import (
    EnvironmentChange,
    capture_environment,
    compare_environments,
    file_sha256,
)
from mlvc_jupyter.core.records import ExperimentRecord, _Record
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.errors import MlvcError

__all__ = ["DataCheck", "DriftReport", "data_checks", "drift_report", "restore_large_files"]

DataState = Literal["match", "restored", "changed", "missing"]


@dataclass(frozen=True, slots=True)
class DataCheck(_Record):
    """One data file of the record, as found in the reproduction.

    ``state``: ``match`` (its sha256 is the recorded one; a folder's covers every file in it),
    ``restored`` (brought back from the local content cache), ``changed`` (another sha256) or
    ``missing``.
    """

    path: str
    sha256: str
    state: DataState
    kind: str = "large file"
    """``data`` (declared with ``--data``) or ``large file`` (left out of the checkpoint)."""
    found: str | None = None
    """The sha256 found, when it differs."""


@dataclass(frozen=True, slots=True)
class DriftReport(_Record):
    """What differs between the recorded run and the reproduction, before anything runs."""

    experiment_id: str
    environment: list[EnvironmentChange]
    data: list[DataCheck]
    config_files: list[str]
    """Config files the checkpoint restored in the worktree (repository-relative)."""
    configs: list[str] = field(default_factory=list)
    """Top-level keys of the recorded configs (``--load VAR`` brings them into a notebook)."""

    @property
    def drifted(self) -> bool:
        """Return True when the environment or a data file differs from the record."""
        return bool(self.environment) or any(c.state in ("changed", "missing") for c in self.data)


def drift_report(
    repo: Repository, record: ExperimentRecord, worktree: Path, data: list[DataCheck]
) -> DriftReport:
    """Return the drift of ``worktree`` (materialised from ``record``'s checkpoint) and of this
    process's environment from ``record``; ``data`` are the checks of :func:`data_checks`."""
    changes = compare_environments(record.environment, capture_environment())
    return DriftReport(
        experiment_id=record.summary.id,
        environment=changes,
        data=data,
        config_files=_config_files(repo, worktree),
        configs=sorted(str(key) for key in record.configs),
    )


def restore_large_files(repo: Repository, record: ExperimentRecord, worktree: Path) -> set[str]:
    """Copy the large files ``record`` lists into ``worktree`` from the local content cache
    (verified by sha256); return the paths restored. A file already there is left alone."""
    cache, restored = ContentCache(repo), set()
    base = worktree.resolve()
    for large in record.large_files:
        dest = worktree / large.path
        if not dest.resolve().is_relative_to(base) or dest.exists() or dest.is_symlink():
            continue  # a path leading out of the worktree is never written; existing files stay
        dest.parent.mkdir(parents=True, exist_ok=True)
        if cache.restore(large.sha256, dest):
            restored.add(large.path)
    return restored


def data_checks(
    repo: Repository, record: ExperimentRecord, worktree: Path, restored: set[str]
) -> list[DataCheck]:
    """Return a check of every ``--data`` path and large file ``record`` lists.

    Large files are looked for in ``worktree`` (``restored`` names those the content cache
    brought back). A ``--data`` path, usually ignored by git and so not in the checkout, is
    looked for in ``worktree`` first, then in the project, where the re-run's data lives.
    """
    cache = FingerprintCache.for_repository(repo)
    checks = [_data_check(repo, recorded, worktree, cache) for recorded in record.data]
    for large in record.large_files:
        state, found = _check(worktree / large.path, large.sha256)
        if state == "match" and large.path in restored:
            state = "restored"
        checks.append(DataCheck(path=large.path, sha256=large.sha256, state=state, found=found))
    return checks


def _data_check(
    repo: Repository, recorded: DataFingerprint, worktree: Path, cache: FingerprintCache
) -> DataCheck:
    base = worktree if (worktree / recorded.path).exists() else repo.root
    try:
        (current,) = fingerprint([recorded.path], root=base, cache=cache)
    except MlvcError:  # not there, or unreadable
        return DataCheck(recorded.path, recorded.sha256, "missing", kind="data")
    if (current.kind, current.sha256) == (recorded.kind, recorded.sha256):
        return DataCheck(recorded.path, recorded.sha256, "match", kind="data")
    return DataCheck(recorded.path, recorded.sha256, "changed", kind="data", found=current.sha256)


def _check(path: Path, sha256: str) -> tuple[DataState, str | None]:
    try:
        found = file_sha256(path)
    except OSError:  # not there (or unreadable): the reproduction lacks it
        return "missing", None
    return ("match", None) if found == sha256 else ("changed", found)


def _config_files(repo: Repository, worktree: Path) -> list[str]:
    out = repo.git.run("-C", str(worktree), "ls-files", "-z")
    names = out.decode("utf-8", "surrogateescape").split("\0")
    return sorted(n for n in names if n and not n.startswith(".mlvc/") and is_config_path(n))
