"""Give experiments names git users know: annotated tags and real branches.

Tags mlvc creates are annotated and carry a marker line naming their experiment, so they can be
listed per experiment and told apart from the user's own. A *clean* branch is a promotion: one
new commit holding the experiment's files without mlvc's ``.mlvc/`` records, whose parent is
the user's HEAD at the experiment's last checkpoint (the commit its files were recorded on top
of; the HEAD it started from unless the user committed meanwhile), so it merges into main like
any feature branch. Deleting a tag keeps its object under ``refs/mlvc/trash/tags/`` until gc.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from mlvc_jupyter.core.reading.listing import get
from mlvc_jupyter.core.recording.summary import TAG_MARKER
from mlvc_jupyter.core.records import Checkpoint, ExperimentSummary, ExperimentTag
from mlvc_jupyter.core.repo.refs import (
    HEADS,
    TAGS,
    ExperimentRef,
    trash_stamp,
    trash_tag_ref,
    validate_branch_name,
    validate_new_tag,
    validate_tag_name,
)
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.core.sharing.versions import next_version
from mlvc_jupyter.errors import (
    DirtyWorkingTreeError,
    GitOperationError,
    InvalidNameError,
    MlvcError,
)

__all__ = [
    "PROMOTED_MARKER",
    "auto_tag",
    "branch",
    "bump_tag",
    "check_tag_name",
    "delete_tag",
    "experiment_tags",
    "prepare_tag",
    "switch",
    "tag",
    "tag_checkpoint",
]

PROMOTED_MARKER = "mlvc-promoted: "
"""The last line of a clean branch's commit: it names the experiment it promotes."""

_TAG_FORMAT = (
    "%(refname:lstrip=2)%00%(objectname)%00%(*objectname)%00%(creatordate:iso-strict)%00"
    "%(contents)%00"
)


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


def branch(
    repo: Repository, experiment_id: str, name: str | None = None, *, clean: bool = False
) -> str:
    """Create branch ``name`` (default ``mlvc/<id>``) for an experiment; return its name.

    Without ``clean`` it points at the last checkpoint. With ``clean`` it points at a new
    commit holding the checkpoint's files minus ``.mlvc/``, whose parent is the user's HEAD at
    that checkpoint, so it merges into main. The branch is never checked out; creating it
    again where it already is does nothing.

    Raises:
        InvalidNameError: git refuses ``name``.
        ExperimentNotFoundError: no such experiment.
        MlvcError: the branch exists and points elsewhere.
    """
    summary = get(repo, experiment_id)
    name = name or ExperimentRef(experiment_id).branch
    _validate_branch_with_git(repo, name)
    current = repo.ref_exists(HEADS + name)
    target = _clean_commit(repo, summary, current) if clean else summary.commit
    if current == target:
        return name
    if current is not None:
        raise MlvcError(
            f"Branch '{name}' already exists at {current[:8]}, not at experiment "
            f"'{experiment_id}' ({summary.commit[:8]}).",
            hint=f"Name another branch (`mlvc branch {experiment_id} NAME`), or delete or "
            f"rename it first (`git branch -m {name} {name}-old`).",
        )
    repo.git.run("update-ref", "--no-deref", HEADS + name, target, repo.null_oid)
    return name


def _validate_branch_with_git(repo: Repository, name: str) -> None:
    validate_branch_name(name)
    refused = repo.git.run_full("check-ref-format", "--branch", name, ok_status=(0, 128))
    if refused.returncode:
        raise InvalidNameError(
            f"Invalid branch name {name!r}: git refuses it (`git check-ref-format`).",
            name=name,
            hint="Use letters, digits, '.', '_', '-' and '/', e.g. 'promote/lr-0.1'.",
        )


def _clean_commit(repo: Repository, summary: ExperimentSummary, current: str | None) -> str:
    """Return the promotion commit of ``summary``'s checkpoint: its tree minus ``.mlvc/``.

    When branch tip ``current`` already holds that tree on the same parent, it is the answer
    (promoting twice makes one commit).
    """
    listing = repo.git.run("ls-tree", "-z", "--end-of-options", summary.commit)
    entries = [e for e in listing.split(b"\0") if e and not e.endswith(b"\t.mlvc")]
    tree = repo.git.run("mktree", "-z", stdin=b"\0".join(entries) + b"\0").decode().strip()
    parents = [summary.head] if summary.head else []
    if current is not None:
        shown = repo.git.run("show", "-s", "--format=%T %P", current).decode().split()
        if shown[:1] == [tree] and shown[1:] == parents:
            return current
    message = _promotion_message(summary)
    args = [arg for parent in parents for arg in ("-p", parent)]
    out = repo.git.run("commit-tree", tree, *args, stdin=message, env=repo.identity_env)
    return out.decode().strip()


def _promotion_message(summary: ExperimentSummary) -> bytes:
    title = summary.name or summary.id
    metrics = json.dumps(summary.metrics, sort_keys=True)
    return (
        f"{title}: {summary.message}\n\nPromoted from mlvc experiment {summary.id}, checkpoint "
        f"#{summary.checkpoints} ({summary.commit}), without its .mlvc/ records.\n"
        f"Status: {summary.status}. Metrics: {metrics}\n{PROMOTED_MARKER}{summary.id}\n"
    ).encode()


def experiment_tags(repo: Repository, experiment_id: str | None = None) -> list[ExperimentTag]:
    """Return the tags mlvc made (all, or one experiment's), by name.

    A tag counts when its annotated message carries mlvc's marker line; the user's own tags
    are left out (``git tag`` lists them).
    """
    out = repo.git.run("for-each-ref", f"--format={_TAG_FORMAT}", TAGS)
    tags = []
    for line in out.decode("utf-8", "replace").split("\0\n"):
        fields = line.split("\0")
        if len(fields) < 5 or TAG_MARKER not in fields[4]:
            continue
        marked = fields[4][fields[4].rfind(TAG_MARKER) + len(TAG_MARKER) :]
        owner = marked.split("\n", 1)[0].strip()
        if experiment_id in (None, owner):
            commit = fields[2] or fields[1]
            tags.append(ExperimentTag(fields[0], owner, commit, fields[3]))
    return sorted(tags, key=lambda t: t.name)


def delete_tag(repo: Repository, name: str) -> str:
    """Delete tag ``name``, keeping its object on a trash ref until gc; return that ref.

    Raises:
        InvalidNameError: the name breaks the naming rules.
        MlvcError: there is no such tag.
    """
    validate_tag_name(name)
    oid = repo.ref_exists(TAGS + name)
    if oid is None:
        raise MlvcError(
            f"There is no tag '{name}'.",
            hint="List the experiments' tags with `mlvc tag --list` (`%vc_tag --list`).",
        )
    kept = trash_tag_ref(name, trash_stamp())
    repo.git.run("update-ref", kept, oid, repo.null_oid)
    repo.git.run("update-ref", "-d", TAGS + name, oid)
    return kept


def bump_tag(repo: Repository, experiment_id: str, part: str, *, prefix: str = "") -> str:
    """Tag the experiment's last checkpoint with the next ``<prefix>vX.Y.Z``; return it.

    Raises:
        MlvcError: ``part`` is unknown; the experiment does not exist; the tag fails.
        InvalidNameError: the prefix makes an invalid tag name.
    """
    name = _next_tag(repo, part, prefix)
    return tag(repo, experiment_id, name)


def auto_tag(repo: Repository, checkpoint: Checkpoint) -> Checkpoint:
    """Tag a final checkpoint with status success with the next version when the settings
    ask (``auto-tag``); return the checkpoint with its tags.

    Raises:
        MlvcError: the tag could not be created; the checkpoint is recorded all the same
            (the message says so and how to tag it by hand).
    """
    part = repo.settings.auto_tag
    if not part or checkpoint.status != "success":
        return checkpoint
    exp = checkpoint.experiment_id
    try:
        name = _next_tag(repo, part, repo.settings.auto_tag_prefix)
        prepare_tag(repo, name)
        tag_checkpoint(repo, checkpoint, name)
    except MlvcError as exc:
        raise MlvcError(
            f"Experiment '{exp}' ended and its final checkpoint #{checkpoint.seq} is recorded, "
            f"but the automatic {part} tag (setting auto-tag) was not created: {exc.message}",
            hint=f"Do not end it again. Fix the cause, then tag it with `%vc_tag {exp} --bump "
            f"{part}` (CLI: `mlvc tag {exp} --bump {part}`).",
        ) from exc
    return replace(checkpoint, tags=sorted([*checkpoint.tags, name]))


def _next_tag(repo: Repository, part: str, prefix: str) -> str:
    out = repo.git.run("for-each-ref", "--format=%(refname:lstrip=2)", TAGS)
    return next_version(out.decode("utf-8", "replace").splitlines(), part, prefix)


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
