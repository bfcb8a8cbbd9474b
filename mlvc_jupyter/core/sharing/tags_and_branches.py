"""Give experiments names git users know: annotated tags and real branches."""

from __future__ import annotations

import json

from mlvc_jupyter.core.reading.listing import get
from mlvc_jupyter.core.recording.summary import TAG_MARKER
from mlvc_jupyter.core.repo.refs import ExperimentRef, validate_branch_name, validate_new_tag
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.errors import DirtyWorkingTreeError, GitOperationError, MlvcError

__all__ = ["branch", "check_tag_name", "switch", "tag"]

ZERO = "0" * 40


def tag(repo: Repository, experiment_id: str, name: str, *, force: bool = False) -> str:
    """Create annotated tag ``name`` at the experiment's last checkpoint; return the name.

    The tag's message carries the checkpoint's metrics. Tagging the same checkpoint again with
    the same name does nothing.

    Raises:
        InvalidNameError: the tag name breaks git's rules, differs only by case from
            another tag, or is a branch's name.
        ExperimentNotFoundError: no such experiment.
        MlvcError: the tag exists and points elsewhere (and ``force`` is False).
    """
    check_tag_name(repo, name)
    summary = get(repo, experiment_id)
    existing = repo.ref_exists(f"refs/tags/{name}^{{commit}}")
    if existing == summary.commit and not force:
        return name
    if existing is not None and not force:
        raise MlvcError(
            f"Tag '{name}' already exists and points at {existing[:8]}, not at experiment "
            f"'{experiment_id}' ({summary.commit[:8]}).",
            hint=f"Choose another tag name, or pass force=True (`--force`) to move '{name}'.",
        )
    metrics = json.dumps(summary.metrics, sort_keys=True)
    message = (
        f"mlvc experiment {experiment_id} checkpoint {summary.checkpoints} ({summary.status})\n\n"
        f"metrics: {metrics}\n{TAG_MARKER}{experiment_id}\n"
    )
    args = ["tag", "-a", "-F", "-"] + (["--force"] if force else [])
    repo.git.run(*args, name, summary.commit, stdin=message.encode(), env=repo.identity_env)
    return name


def branch(repo: Repository, experiment_id: str) -> str:
    """Create branch ``mlvc/<id>`` at the experiment's last checkpoint, without checking it out.

    Raises:
        ExperimentNotFoundError: no such experiment.
        MlvcError: the branch exists and points elsewhere.
    """
    summary = get(repo, experiment_id)
    refs = ExperimentRef(experiment_id)
    name = refs.branch
    current = repo.ref_exists(refs.branch_ref)
    if current == summary.commit:
        return name
    if current is not None:
        raise MlvcError(
            f"Branch '{name}' already exists at {current[:8]}, not at experiment "
            f"'{experiment_id}' ({summary.commit[:8]}).",
            hint=f"Delete or rename it first (`git branch -m {name} {name}-old`).",
        )
    repo.git.run("update-ref", "--no-deref", refs.branch_ref, summary.commit, ZERO)
    return name


def check_tag_name(repo: Repository, name: str) -> str:
    """Return ``name`` if it may be a tag among this repository's tags and branches.

    Raises:
        InvalidNameError: see :func:`~mlvc_jupyter.core.repo.refs.validate_new_tag`.
    """
    out = repo.git.run("for-each-ref", "--format=%(refname)", "refs/tags/", "refs/heads/")
    return validate_new_tag(name, out.decode("utf-8", "surrogateescape").splitlines())


def switch(repo: Repository, name: str) -> str:
    """Check out local branch ``name``, refusing when uncommitted work would be overwritten.

    Raises:
        InvalidNameError: the name breaks git's rules.
        MlvcError: there is no such local branch.
        DirtyWorkingTreeError: tracked files have uncommitted changes.
    """
    validate_branch_name(name)
    if repo.ref_exists(f"refs/heads/{name}") is None:
        raise MlvcError(
            f"There is no local branch '{name}'.",
            hint="List branches with `git branch`; experiment branches are named mlvc/<id>.",
        )
    status = repo.status()
    dirty = sorted(set(status.staged) | set(status.modified) | set(status.conflicted))
    if dirty:
        shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
        raise DirtyWorkingTreeError(
            f"Switching to '{name}' could overwrite uncommitted changes in: {shown}.",
            paths=dirty,
            hint="Commit them (`git commit -am ...`), stash them (`git stash`), or record them "
            "in an experiment checkpoint first (`%vc_commit`, CLI: `mlvc commit`).",
        )
    try:
        repo.git.run("switch", "--no-guess", name)
    except GitOperationError as exc:
        if "would be overwritten" not in exc.stderr:
            raise
        paths = [line.strip() for line in exc.stderr.splitlines() if line.startswith("\t")]
        raise DirtyWorkingTreeError(
            f"Switching to '{name}' would overwrite untracked files: {', '.join(paths[:5])}.",
            paths=paths,
            hint="Move them away or commit them first; nothing was changed.",
        ) from None
    return name
