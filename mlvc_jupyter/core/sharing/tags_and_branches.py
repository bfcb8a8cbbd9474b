"""Give experiments names git users know: annotated tags and real branches."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from mlvc_jupyter.core.reading.listing import get
from mlvc_jupyter.core.recording.summary import TAG_MARKER
from mlvc_jupyter.core.records import Checkpoint
from mlvc_jupyter.core.repo.refs import ExperimentRef, validate_branch_name, validate_new_tag
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.errors import (
    DirtyWorkingTreeError,
    GitOperationError,
    InvalidNameError,
    MlvcError,
)

__all__ = ["branch", "check_tag_name", "prepare_tag", "switch", "tag", "tag_checkpoint"]


def prepare_tag(repo: Repository, name: str) -> None:
    """Check, before a checkpoint is recorded, that tag ``name`` can then be created.

    Ending with a tag records the final checkpoint and then tags it. Everything that can make
    the tag fail is checked here, first: the name (by git's own rules too), that no tag of that
    name exists, and, when the configuration asks for signed tags, that signing works (a
    throw-away signed commit, which nothing references, is the probe).

    Raises:
        InvalidNameError: git refuses the name.
        MlvcError: the tag exists, or signing is asked for and fails.
    """
    _validate_with_git(repo, name)
    existing = repo.ref_exists(f"refs/tags/{name}")
    if existing is not None:
        raise MlvcError(
            f"Tag '{name}' already exists; nothing was recorded.",
            hint="Choose another tag name, or end without a tag and then move it with "
            f"`%vc_tag <id> {name} --force` (CLI: `mlvc tag <id> {name} --force`).",
        )
    if _signing_asked(repo):
        tree = repo.git.run("mktree", stdin=b"").decode().strip()  # the empty tree
        with _signing_errors(name, "nothing was recorded"):
            repo.git.run(
                "commit-tree", "-S", tree, "-m", "mlvc: signing probe", env=repo.identity_env
            )


def tag(repo: Repository, experiment_id: str, name: str, *, force: bool = False) -> str:
    """Create annotated tag ``name`` at the experiment's last checkpoint; return the name.

    The tag's message carries the checkpoint's metrics. Tagging the same checkpoint again with
    the same name does nothing. The tag is signed only when git's configuration asks for it
    (``tag.gpgSign``, ``tag.forceSignAnnotated``).

    Raises:
        InvalidNameError: the tag name breaks git's rules, differs only by case from
            another tag, or is a branch's name.
        ExperimentNotFoundError: no such experiment.
        MlvcError: the tag exists and points elsewhere (and ``force`` is False), or signing
            was asked for and failed.
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
    message = _tag_message(experiment_id, summary.checkpoints, summary.status, summary.metrics)
    _create_tag(repo, name, summary.commit, message, force=force)
    return name


def tag_checkpoint(repo: Repository, checkpoint: Checkpoint, name: str) -> str:
    """Create annotated tag ``name`` at ``checkpoint`` (checked by :func:`prepare_tag`).

    Raises:
        MlvcError: git could not create the tag.
    """
    message = _tag_message(
        checkpoint.experiment_id, checkpoint.seq, checkpoint.status, checkpoint.metrics
    )
    _create_tag(repo, name, checkpoint.commit, message, force=False)
    return name


def _tag_message(experiment_id: str, seq: int, status: str, metrics: Mapping[str, Any]) -> bytes:
    return (
        f"mlvc experiment {experiment_id} checkpoint {seq} ({status})\n\n"
        f"metrics: {json.dumps(dict(metrics), sort_keys=True)}\n{TAG_MARKER}{experiment_id}\n"
    ).encode()


def _create_tag(repo: Repository, name: str, commit: str, message: bytes, *, force: bool) -> None:
    args = ["tag", "-a", "-F", "-"] + (["--force"] if force else [])
    with _signing_errors(name, "the tag was not created"):
        repo.git.run(*args, "--", name, commit, stdin=message, env=repo.identity_env)


def _validate_with_git(repo: Repository, name: str) -> None:
    """Apply our naming rules, then git's own (``check-ref-format`` is the final word)."""
    check_tag_name(repo, name)
    refused = repo.git.run_full("check-ref-format", f"refs/tags/{name}", ok_status=(0, 1))
    if refused.returncode:
        raise InvalidNameError(
            f"Invalid tag name {name!r}: git refuses it (`git check-ref-format`).",
            name=name,
            hint="Use letters, digits, '.', '_', '-' and '/', e.g. 'v1' or 'best/lr-0.1'.",
        )


def _signing_asked(repo: Repository) -> bool:
    """Return True when git's configuration makes ``git tag -a`` sign."""
    out = repo.git.run(
        "config", "--type=bool", "--get-regexp", r"^tag\.(gpgsign|forcesignannotated)$",
        ok_status=(0, 1),
    )  # fmt: skip
    return any(line.endswith(" true") for line in out.decode("utf-8", "replace").splitlines())


@contextlib.contextmanager
def _signing_errors(name: str, outcome: str) -> Iterator[None]:
    """Turn git's "gpg failed to sign" into an error that names gpg and the fix."""
    try:
        yield
    except GitOperationError as exc:
        if "to sign" not in exc.stderr:
            raise
        said = [line.removeprefix("error: ") for line in exc.stderr.splitlines() if line.strip()]
        raise MlvcError(
            f"Tag '{name}' must be signed (git's tag.gpgSign or tag.forceSignAnnotated is "
            f"set), but signing failed: {' / '.join(said[:3])}; {outcome}.",
            hint="Make signing work (check `git config gpg.program` and `git config "
            "user.signingKey`, and that `gpg --list-secret-keys` shows that key), or turn "
            "signing off for this repository with `git config tag.gpgSign false`.",
        ) from exc


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
    repo.git.run("update-ref", "--no-deref", refs.branch_ref, summary.commit, repo.null_oid)
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
