"""Materialise an experiment's checkpoint in a git worktree beside the user's working tree.

The default place is ``reproductions/<id>/`` at the project root, where JupyterLab can open it;
mlvc adds ``/reproductions/`` (and any ``--dir`` inside the project) to ``.git/info/exclude``
so that neither ``git status`` nor a checkpoint ever sees it.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import NoReturn

from mlvc_jupyter.core.files import atomic_write
from mlvc_jupyter.core.reading.listing import get, history
from mlvc_jupyter.core.records import Progress, report
from mlvc_jupyter.core.repo.places import inside_git_dir, user_path
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.errors import DirtyWorkingTreeError, MlvcError

__all__ = ["REPRODUCTIONS", "checkpoint_commit", "default_worktree", "materialise", "worktree_of"]

# A file in a worktree's admin folder (.git/worktrees/<name>/) saying mlvc created it: only such
# worktrees are ever replaced. git removes the folder, marker included, with the worktree.
_MARKER = "mlvc-reproduction"
REPRODUCTIONS = "reproductions"
"""The folder at the project root that holds reproductions by default."""
_EXCLUDE_HEADER = "# added by mlvc: reproductions stay out of git status and checkpoints"


def default_worktree(repo: Repository, experiment_id: str) -> Path:
    """Return ``<root>/reproductions/<id>``, where reproduce puts an experiment by default."""
    return repo.root / REPRODUCTIONS / experiment_id


def materialise(
    repo: Repository,
    experiment_id: str,
    *,
    path: str | os.PathLike[str] | None = None,
    checkpoint: int | None = None,
    on_progress: Progress | None = None,
) -> Path:
    """Check out the experiment's checkpoint ``checkpoint`` (its sequence number; default the
    last) detached in a worktree; return its path.

    The target is a new folder or an empty one, never inside any ``.git``, never a symbolic
    link and never a worktree mlvc did not create. A reproduction mlvc made earlier at the same
    place is replaced when nothing in it (ignored files included) would be lost. The user's
    HEAD, index and working tree are untouched (a target inside the project is added to
    ``.git/info/exclude`` first). ``on_progress(done, total)`` hears of its three steps: the
    target cleared, the files checked out, the worktree registered.

    Raises:
        ExperimentNotFoundError: no such experiment.
        DirtyWorkingTreeError: mlvc's earlier reproduction there holds files it would lose.
        MlvcError: the target breaks one of the rules above, or no such checkpoint.
    """
    commit = checkpoint_commit(repo, experiment_id, checkpoint)
    target = _target(repo, experiment_id, path)
    report(on_progress, 0, 3)
    ours = _is_ours(repo, target)
    if target.exists():
        _clear(repo, target, ours=ours)
    _exclude(repo, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    report(on_progress, 1, 3)
    force = ["--force"] if ours else []  # ours, registered but deleted by hand: take it back
    repo.git.run("worktree", "add", "--detach", *force, str(target), commit)
    report(on_progress, 2, 3)
    _mark_ours(repo, target)
    _remember(repo, experiment_id, target)
    report(on_progress, 3, 3)
    return target


def checkpoint_commit(repo: Repository, experiment_id: str, checkpoint: int | None) -> str:
    """Return the commit of the experiment's checkpoint number ``checkpoint`` (None: the last).

    Raises:
        ExperimentNotFoundError: no such experiment.
        MlvcError: it has no such checkpoint.
    """
    if checkpoint is None:
        return get(repo, experiment_id).commit
    checkpoints = history(repo, experiment_id)
    for found in checkpoints:
        if found.seq == checkpoint:
            return found.commit
    raise MlvcError(
        f"Experiment '{experiment_id}' has no checkpoint {checkpoint}.",
        hint=f"Its checkpoints are numbered 1 to {len(checkpoints)} (`mlvc show "
        f"{experiment_id}`); leave --checkpoint out for the last.",
    )


def _exclude(repo: Repository, target: Path) -> None:
    """Add ``target`` (``/reproductions/`` for the default place) to ``.git/info/exclude``
    when it lies in the project, once; the user's own lines are never changed."""
    if not repo.is_inside(target):
        return
    relative = target.resolve().relative_to(repo.root.resolve())
    if relative.parts[:1] == (REPRODUCTIONS,):
        relative = Path(REPRODUCTIONS)
    line = f"/{relative.as_posix()}/"
    exclude = repo.paths.common_dir / "info" / "exclude"
    try:
        text = exclude.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    if line in text.splitlines():
        return
    header = "" if _EXCLUDE_HEADER in text else f"{_EXCLUDE_HEADER}\n"
    separator = "\n" if text and not text.endswith("\n") else ""
    exclude.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(exclude, f"{text}{separator}{header}{line}\n")


def _target(repo: Repository, experiment_id: str, path: str | os.PathLike[str] | None) -> Path:
    """Return the absolute target, refusing links and git's files."""
    if path is None:
        return default_worktree(repo, experiment_id)
    target = user_path(path, what="reproduction folder").absolute()
    if target.is_symlink():
        _refuse(target, "it is a symbolic link", "Pass the folder the link points to, if new.")
    own_area = target.resolve().is_relative_to(repo.runtime_dir.resolve() / "worktrees")
    if not own_area and inside_git_dir(target):
        _refuse(target, "it is inside a .git folder or a bare repository (git's own files)")
    return target


def _refuse(target: Path, why: str, hint: str = "") -> NoReturn:
    raise MlvcError(
        f"Cannot reproduce into '{target}': {why}.",
        hint=hint
        or "Choose a new or empty folder, or leave the path out to use the default, "
        f"{REPRODUCTIONS}/<id>/ at the project root.",
    )


def _clear(repo: Repository, target: Path, *, ours: bool) -> None:
    """Make way at an existing ``target``: keep an empty folder, replace only our own."""
    if not target.is_dir():
        _refuse(target, "it exists and is not a folder")
    if not any(target.iterdir()):
        return
    if not ours:
        what = "an existing git worktree mlvc did not create" if (target / ".git").exists() else ""
        _refuse(target, what or "the folder is not empty")
    out = repo.git.run(
        "-C", str(target), "status", "--porcelain", "-z", "--untracked-files=all", "--ignored"
    )
    edited = [entry[3:] for entry in out.decode("utf-8", "replace").split("\0") if entry]
    if edited:
        raise DirtyWorkingTreeError(
            f"The reproduction in '{target}' has edits that replacing it would lose "
            "(new and ignored files count too).",
            paths=edited,
            hint="Keep them (copy them out or commit them there), or pass another path.",
        )
    repo.git.run("worktree", "remove", "--force", str(target))


def _admin_dir(repo: Repository, target: Path) -> Path | None:
    """Return git's administrative folder of the worktree at ``target``, if it is one."""
    wanted = target / ".git"
    for gitdir in (repo.paths.common_dir / "worktrees").glob("*/gitdir"):
        with contextlib.suppress(OSError):
            if Path(gitdir.read_text(encoding="utf-8", errors="replace").strip()) == wanted:
                return gitdir.parent
    return None


def _is_ours(repo: Repository, target: Path) -> bool:
    """Return True if mlvc created the worktree at ``target``.

    Its admin folder is marked, or it lies in mlvc's own area (where reproductions made before
    the marker existed live).
    """
    admin = _admin_dir(repo, target)
    own_area = target.resolve().is_relative_to(repo.runtime_dir.resolve() / "worktrees")
    return admin is not None and ((admin / _MARKER).is_file() or own_area)


def _mark_ours(repo: Repository, target: Path) -> None:
    """Mark the new worktree as mlvc's, in git's admin folder (removed along with it)."""
    admin = _admin_dir(repo, target)
    if admin is None:  # git registers every worktree it adds; nothing to mark otherwise
        raise MlvcError(
            f"git did not register the worktree at '{target}'.",
            hint="Run `git worktree list` to check; then retry.",
        )
    (admin / _MARKER).write_text("created by mlvc reproduce\n", encoding="utf-8")


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
