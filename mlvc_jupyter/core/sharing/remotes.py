"""Share experiments through git remotes: push them, pull them, never overwrite anything.

Push sends ``refs/mlvc/experiments/<id>`` (all, or the ones named) and the tags mlvc made for
them, with explicit refspecs and without force: a remote that has checkpoints this clone lacks
rejects the update, and the report says to pull. ``force`` replaces the remote's experiment only
under a lease: only if it still holds what this clone last saw there.

Pull fetches, with object checking on, into remote-tracking refs
``refs/mlvc/remotes/<remote>/experiments/<id>`` (and the remote's tags into
``refs/mlvc/remotes/<remote>/tags/``), then moves a local experiment only when it is new here or
fast-forwards, by compare-and-swap. A diverged experiment keeps the local ``<id>``; the remote's
history stays readable as ``<remote>/<id>``. A tag is created here only where no tag of that
name exists.

git runs through :class:`~mlvc_jupyter.core.repo.runner.Git` (hardened, with a stall watchdog)
against the checked URL (:mod:`~mlvc_jupyter.core.sharing.urls`); GitPython's
``RemoteProgress`` reads git's progress lines into ``on_progress(done, total)``. GitPython's
``Remote.fetch/push`` would run git with neither the hardening nor the watchdog.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from mlvc_jupyter.core.recording.ref_update import Outcome, compare_and_swap
from mlvc_jupyter.core.recording.summary import TAG_MARKER
from mlvc_jupyter.core.records import Progress, TransferItem, TransferReport
from mlvc_jupyter.core.repo.refs import (
    EXPERIMENTS,
    REMOTES,
    ExperimentRef,
    is_experiment_id,
    remote_experiments,
)
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.core.sharing.urls import (
    STALL_TIMEOUT,
    Remote,
    masked_errors,
    resolve_remote,
    ssh_environment,
    transport_options,
)
from mlvc_jupyter.errors import ExperimentNotFoundError, MlvcError

__all__ = ["TRANSFER_TIMEOUT", "pull", "push"]

TRANSFER_TIMEOUT = 3600.0
"""Seconds a whole push or pull may take (a stall is caught much sooner)."""

_PUSH_OUTCOMES = {"*": "new", " ": "updated", "+": "updated", "=": "up to date", "!": "rejected"}


def push(
    repo: Repository,
    remote_name: str | None = None,
    ids: Sequence[str] = (),
    *,
    force: bool = False,
    on_progress: Progress | None = None,
    stall_timeout: float = STALL_TIMEOUT,
) -> TransferReport:
    """Push experiments (all, or ``ids``) and their mlvc tags to a remote; report each.

    Raises:
        InvalidNameError: an id or the remote's name breaks the naming rules.
        ExperimentNotFoundError: a named experiment does not exist.
        MlvcError: the remote or its URL is refused (nothing runs), or there is nothing to push.
        GitOperationError: the transfer failed (credentials masked; a shallow clone gets the
            ``git fetch --unshallow`` hint).
    """
    remote = resolve_remote(repo, remote_name)
    local = _refs(repo, EXPERIMENTS)
    chosen = _chosen(local, ids)
    tags = _mlvc_tags(repo, "refs/tags", set(chosen))
    specs = [f"{ExperimentRef(i).ref}:{ExperimentRef(i).ref}" for i in chosen]
    if not ids and chosen:
        specs = [f"{EXPERIMENTS}/*:{EXPERIMENTS}/*"]  # every one: one refspec, not 10,000
    specs += [f"refs/tags/{name}:refs/tags/{name}" for name in sorted(tags)]
    leases = _leases(repo, remote, chosen) if force else []
    args = ["push", "--porcelain", "--progress", "--no-follow-tags", "--no-signed",
            "--recurse-submodules=no", *leases, "--", remote.push_url, *specs]  # fmt: skip
    proc = _transfer(repo, remote, "Pushing to", args, on_progress, stall_timeout)
    sent = {f"{EXPERIMENTS}/{i}": local[i] for i in chosen}
    sent.update({f"refs/tags/{name}": oid for name, oid in tags.items()})
    items = _push_items(proc.stdout.decode("utf-8", "replace"), remote.name, sent)
    _track(repo, remote.name, [i for i in items if i.kind == "experiment" and i.new])
    return TransferReport("push", remote.name, remote.shown, items)


def _chosen(local: dict[str, str], ids: Sequence[str]) -> list[str]:
    for experiment_id in ids:
        ExperimentRef.parse(experiment_id)
        if experiment_id not in local:
            raise ExperimentNotFoundError(experiment_id)
    chosen = list(dict.fromkeys(ids)) if ids else sorted(local)
    if not chosen:
        raise MlvcError(
            "There are no experiments to push.",
            hint="Record one first (`%vc_start ID`, CLI: `mlvc start ID`).",
        )
    return chosen


def _leases(repo: Repository, remote: Remote, chosen: list[str]) -> list[str]:
    """Return ``--force-with-lease=<ref>:<what this clone last saw there>`` per experiment."""
    seen = _refs(repo, remote_experiments(remote.name))
    return [f"--force-with-lease={ExperimentRef(i).ref}:{seen.get(i, '')}" for i in chosen]


def _push_items(porcelain: str, remote: str, sent: dict[str, str]) -> list[TransferItem]:
    """Parse ``git push --porcelain``: ``<flag>\\t<from>:<to>\\t<summary>`` per ref.

    ``sent`` maps each ref pushed to the object it held.
    """
    items = []
    for line in porcelain.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or parts[0] not in _PUSH_OUTCOMES:
            continue
        source, _, target = parts[1].partition(":")
        outcome, summary = _PUSH_OUTCOMES[parts[0]], parts[2]
        kind, name = _kind_and_name(target)
        note = ""
        if outcome == "rejected":
            note = _rejection_note(kind, name, summary, remote)
        old, dots, _ = summary.partition("..")
        new = None if outcome == "rejected" else sent.get(source)
        items.append(TransferItem(kind, name, outcome, old if dots else None, new, note))
    return items


def _kind_and_name(ref: str) -> tuple[str, str]:
    if ref.startswith(EXPERIMENTS + "/"):
        return "experiment", ref[len(EXPERIMENTS) + 1 :]
    return "tag", ref.removeprefix("refs/tags/")


def _rejection_note(kind: str, name: str, summary: str, remote: str) -> str:
    if "shallow" in summary:
        return (
            f"this clone is shallow and the remote lacks the history below it ({summary}): "
            "run `git fetch --unshallow`, then push again"
        )
    if kind == "tag":
        return f"the remote's tag '{name}' points elsewhere; yours was not sent ({summary})"
    if "fetch first" in summary or "non-fast-forward" in summary or "stale info" in summary:
        return (
            f"the remote has checkpoints of '{name}' this clone lacks: run `mlvc pull {remote}` "
            f"(then compare with `mlvc diff {name} {remote}/{name}`)"
        )
    return f"the remote refused it: {summary}"


def _track(repo: Repository, remote: str, sent: list[TransferItem]) -> None:
    """Record what each pushed experiment now is on the remote (its remote-tracking ref)."""
    if not sent:
        return
    lines = "".join(f"update {remote_experiments(remote)}/{i.name} {i.new}\n" for i in sent)
    repo.git.run("update-ref", "--stdin", stdin=lines.encode())


def pull(
    repo: Repository,
    remote_name: str | None = None,
    *,
    on_progress: Progress | None = None,
    stall_timeout: float = STALL_TIMEOUT,
) -> TransferReport:
    """Fetch a remote's experiments and mlvc tags; adopt the new and fast-forward ones.

    Raises:
        InvalidNameError: the remote's name breaks the naming rules.
        MlvcError: the remote or its URL is refused (nothing runs).
        GitOperationError: the transfer failed or an object failed git's checks.
    """
    remote = resolve_remote(repo, remote_name)
    tracking, staged_tags = remote_experiments(remote.name), f"{REMOTES}/{remote.name}/tags"
    args = ["-c", "fetch.fsckObjects=true", "-c", "transfer.fsckObjects=true", "fetch",
            "--progress", "--no-tags", "--prune", "--no-write-fetch-head",
            "--recurse-submodules=no", "--", remote.fetch_url,
            f"+{EXPERIMENTS}/*:{tracking}/*", f"+refs/tags/*:{staged_tags}/*"]  # fmt: skip
    local = _refs(repo, EXPERIMENTS)
    _transfer(repo, remote, "Pulling from", args, on_progress, stall_timeout)
    theirs = _refs(repo, tracking)
    planned = [_plan(repo, remote.name, i, local.get(i), theirs[i]) for i in sorted(theirs)]
    items = _move(repo, planned, f"{EXPERIMENTS}/")
    items += _adopt_tags(repo, staged_tags, set(theirs))
    return TransferReport("pull", remote.name, remote.shown, items)


def _plan(
    repo: Repository, remote: str, experiment_id: str, mine: str | None, theirs: str
) -> TransferItem:
    """Say what pull does to one experiment: ``new``/``updated`` ones are then moved."""
    if not is_experiment_id(experiment_id):
        return TransferItem("experiment", experiment_id, "skipped", new=theirs,
                            note="not a valid experiment id here")  # fmt: skip
    if mine == theirs:
        return TransferItem("experiment", experiment_id, "up to date", mine, theirs)
    if mine is not None and not _is_ancestor(repo, mine, theirs):
        if _is_ancestor(repo, theirs, mine):
            return TransferItem("experiment", experiment_id, "ahead", mine, theirs,
                                note=f"only this clone has the newest checkpoints: "
                                f"`mlvc push {remote} {experiment_id}` shares them")  # fmt: skip
        return TransferItem("experiment", experiment_id, "diverged", mine, theirs,
                            note=f"both sides recorded checkpoints: yours stays "
                            f"'{experiment_id}', theirs is '{remote}/{experiment_id}'")  # fmt: skip
    return TransferItem("experiment", experiment_id, "new" if mine is None else "updated",
                        mine, theirs)  # fmt: skip


def _move(repo: Repository, planned: list[TransferItem], prefix: str) -> list[TransferItem]:
    """Move the refs of the ``new``/``updated`` items by compare-and-swap.

    All at once in one ``update-ref --stdin`` transaction (one process, not one per ref); if
    any ref changed meanwhile the transaction moves none, and each is tried on its own, so
    only the ones written to during the pull are skipped (and say so).
    """
    moving = [i for i in planned if i.outcome in ("new", "updated") and i.new]
    lines = "".join(f"update {prefix}{i.name} {i.new} {i.old or repo.null_oid}\n" for i in moving)
    if not moving or _transaction(repo, lines):
        return planned
    result = []
    for item in planned:
        if item in moving:
            moved = compare_and_swap(
                repo, prefix + item.name, item.new or "", item.old or repo.null_oid
            )
            if moved is not Outcome.MOVED:
                item = replace(
                    item,
                    outcome="skipped" if item.kind == "experiment" else "conflict",
                    note="it changed here while pulling: pull again",
                )
        result.append(item)
    return result


def _transaction(repo: Repository, lines: str) -> bool:
    proc = repo.git.run_full(
        "update-ref", "--stdin", stdin=f"start\n{lines}commit\n".encode(), ok_status=(0, 1, 128)
    )
    return proc.returncode == 0


def _is_ancestor(repo: Repository, older: str, newer: str) -> bool:
    proc = repo.git.run_full("merge-base", "--is-ancestor", older, newer, ok_status=(0, 1))
    return proc.returncode == 0


def _adopt_tags(repo: Repository, staged: str, experiments: set[str]) -> list[TransferItem]:
    """Create here each mlvc tag of the pulled experiments that no local tag's name holds."""
    mine = _refs(repo, "refs/tags")
    items = []
    for name, oid in sorted(_mlvc_tags(repo, staged, experiments).items()):
        if name not in mine:
            items.append(TransferItem("tag", name, "new", None, oid))
        elif mine[name] != oid:
            note = f"yours is kept; theirs is {staged}/{name}"
            items.append(TransferItem("tag", name, "conflict", mine[name], oid, note))
    return _move(repo, items, "refs/tags/")


def _refs(repo: Repository, prefix: str) -> dict[str, str]:
    """Return {name below ``prefix``: object id} of the refs under ``prefix`` (one process)."""
    out = repo.git.run("for-each-ref", "--format=%(refname)%00%(objectname)", prefix + "/")
    refs = {}
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        name, _, oid = line.partition("\0")
        refs[name[len(prefix) + 1 :]] = oid
    return refs


def _mlvc_tags(repo: Repository, prefix: str, experiments: set[str]) -> dict[str, str]:
    """Return {tag name: tag object} of the tags under ``prefix`` mlvc made for ``experiments``.

    mlvc's annotated tags carry a ``mlvc-experiment: <id>`` line in their message.
    """
    out = repo.git.run(
        "for-each-ref", "--format=%(refname)%00%(objectname)%00%(contents)%00", prefix + "/"
    )
    fields = out.decode("utf-8", "replace").split("\0")
    tags = {}
    for refname, oid, contents in zip(fields[0:-1:3], fields[1::3], fields[2::3], strict=False):
        at = contents.rfind(TAG_MARKER)
        owner = contents[at + len(TAG_MARKER) :].split("\n", 1)[0].strip() if at >= 0 else None
        if owner in experiments:
            tags[refname.lstrip("\n")[len(prefix) + 1 :]] = oid
    return tags


def _transfer(
    repo: Repository,
    remote: Remote,
    verb: str,
    args: list[str],
    on_progress: Progress | None,
    stall_timeout: float,
) -> Any:
    """Run a fetch or push with safe transports, no prompt, progress and a stall watchdog."""
    with masked_errors(remote, verb):
        return repo.git.stream(
            *transport_options(remote), *args, on_stderr=_progress_reader(on_progress),
            env=ssh_environment(), ok_status=(0, 1) if args[0] == "push" else (0,),
            timeout=TRANSFER_TIMEOUT, stall_timeout=stall_timeout,
        )  # fmt: skip


def _progress_reader(on_progress: Progress | None) -> Callable[[str], None]:
    """Return a reader of git's progress lines (GitPython's parser) feeding ``on_progress``."""
    if on_progress is None:
        return lambda line: None
    from git import RemoteProgress  # deferred: GitPython costs ~200 ms to import

    relay = on_progress

    class _Relay(RemoteProgress):
        def update(self, op_code: int, cur: Any, total: Any = None, message: str = "") -> None:
            if total:
                relay(int(cur), int(total))

    handler: Callable[[str], None] = _Relay().new_message_handler()
    return handler
