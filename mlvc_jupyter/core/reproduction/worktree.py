"""Materialise an experiment's checkpoint in a git worktree beside the user's working tree."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mlvc_jupyter.core.files import atomic_write
from mlvc_jupyter.core.reading.listing import get
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.errors import DirtyWorkingTreeError, MlvcError

__all__ = ["default_worktree", "materialise", "worktree_of"]


def default_worktree(repo: Repository, experiment_id: str) -> Path:
    """Return ``<runtime>/worktrees/<id>``, where reproduce puts an experiment by default."""
    return repo.runtime_dir / "worktrees" / experiment_id


def materialise(
    repo: Repository, experiment_id: str, *, path: str | os.PathLike[str] | None = None
) -> Path:
    """Check out the experiment's last checkpoint (detached) in a worktree; return its path.

    The user's HEAD, index and working tree are untouched. A worktree mlvc made earlier at the
    same place is replaced when it has no local edits.

    Raises:
        ExperimentNotFoundError: no such experiment.
        DirtyWorkingTreeError: the target worktree has edits that replacing it would lose.
        MlvcError: the target is inside the user's working tree, or a folder that is not empty.
    """
    summary = get(repo, experiment_id)
    target = Path(path).expanduser().absolute() if path else default_worktree(repo, experiment_id)
    if repo.is_inside(target) and not target.resolve().is_relative_to(
        repo.paths.common_dir.resolve()
    ):
        raise MlvcError(
            f"Cannot reproduce into '{target}': it is inside your working tree.",
            hint="Choose a folder outside the repository, or leave the path out to use "
            "the default under .git/mlvc/worktrees/.",
        )
    if target.exists():
        _remove_previous(repo, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    repo.git.run("worktree", "add", "--detach", "--force", str(target), summary.commit)
    _remember(repo, experiment_id, target)
    return target


def _registry(repo: Repository) -> Path:
    return repo.runtime_dir / "worktrees.json"


def _remember(repo: Repository, experiment_id: str, target: Path) -> None:
    known = _load_registry(repo)
    known[experiment_id] = str(target)
    atomic_write(_registry(repo), json.dumps(known, indent=1, sort_keys=True))


def _load_registry(repo: Repository) -> dict[str, str]:
    try:
        data = json.loads(_registry(repo).read_text())
    except (OSError, ValueError):  # none yet, or torn: reproduce again to re-register
        return {}
    return data if isinstance(data, dict) else {}


def worktree_of(repo: Repository, experiment_id: str) -> str | None:
    """Return where reproduce last materialised an experiment, if that folder still exists."""
    path = _load_registry(repo).get(experiment_id)
    return path if path and Path(path).is_dir() else None


def _remove_previous(repo: Repository, target: Path) -> None:
    if not any(target.iterdir()):
        target.rmdir()
        return
    if target.resolve() not in {Path(path).resolve() for path in repo.worktrees()}:
        raise MlvcError(
            f"Cannot reproduce into '{target}': the folder exists and is not an mlvc worktree.",
            hint="Choose an empty or new folder.",
        )
    out = repo.git.run("-C", str(target), "status", "--porcelain", "-z", "--untracked-files=all")
    edited = [entry[3:] for entry in out.decode("utf-8", "replace").split("\0") if entry]
    if edited:
        raise DirtyWorkingTreeError(
            f"The reproduction in '{target}' has edits that replacing it would lose.",
            paths=edited,
            hint="Keep them (copy them out or commit them there), or pass another path.",
        )
    repo.git.run("worktree", "remove", "--force", str(target))
