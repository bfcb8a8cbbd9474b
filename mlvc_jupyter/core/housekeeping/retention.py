"""Remove experiments made by mistake, and bring them back.

``rm`` never drops a checkpoint on the spot: it moves the experiment's ref to the trash,
``refs/mlvc/trash/experiments/<id>/<time>``, in one ``update-ref`` transaction (the experiment
ref is deleted only if it still points where it did). Listings no longer show it, and
``rm --undo`` puts the newest trash ref of that id back. ``gc`` expires trash refs after
:data:`TRASH_DAYS` days (git's own grace period for unreachable objects); only then can git
prune the checkpoints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mlvc_jupyter.core.records import Removal
from mlvc_jupyter.core.repo.refs import (
    TRASH,
    ExperimentRef,
    trash_experiment_ref,
    trash_stamp,
    validate_experiment_id,
)
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.errors import ExperimentExistsError, ExperimentNotFoundError, MlvcError

__all__ = [
    "TRASH_DAYS",
    "TrashRef",
    "move_to_trash",
    "remove",
    "restore",
    "transaction",
    "trash_refs",
]

TRASH_DAYS = 14
"""Days a removed experiment or deleted tag stays in the trash before gc expires it."""


@dataclass(frozen=True, slots=True)
class TrashRef:
    """A ref in the trash: what it keeps (``name``: an experiment id or a tag), and since when."""

    ref: str
    oid: str
    name: str
    removed: dt.datetime


def remove(repo: Repository, experiment_ids: Sequence[str]) -> list[Removal]:
    """Move experiments to the trash, all or none; return where each is kept.

    Raises:
        InvalidNameError: an id breaks the naming rules.
        ExperimentNotFoundError: an experiment does not exist (nothing is removed).
    """
    tips = {}
    for experiment_id in dict.fromkeys(experiment_ids):
        validate_experiment_id(experiment_id)
        tip = repo.ref_exists(ExperimentRef(experiment_id).ref)
        if tip is None:
            raise ExperimentNotFoundError(
                experiment_id, hint="Nothing was removed. List experiments with `mlvc log`."
            )
        tips[experiment_id] = tip
    return move_to_trash(repo, tips, trash_stamp())


def move_to_trash(repo: Repository, tips: dict[str, str], stamp: str) -> list[Removal]:
    """Move experiment refs (id -> expected tip) to trash refs stamped ``stamp``, atomically.

    Raises:
        MlvcError: an experiment moved meanwhile (a checkpoint landed); nothing was moved.
    """
    removals = [Removal(e, tip, trash_experiment_ref(e, stamp)) for e, tip in tips.items()]
    commands = [f"create {r.trash_ref} {r.commit}" for r in removals]
    commands += [f"delete {ExperimentRef(r.experiment_id).ref} {r.commit}" for r in removals]
    transaction(repo, commands, "removing experiments")
    return removals


def restore(repo: Repository, experiment_ids: Sequence[str]) -> list[Removal]:
    """Put removed experiments back from their newest trash ref; return what came back.

    Raises:
        ExperimentNotFoundError: an id has nothing in the trash (nothing is restored).
        ExperimentExistsError: an experiment of that id exists again (nothing is restored).
    """
    found = {entry.name: entry for entry in trash_refs(repo, "experiments")}
    wanted = []
    for experiment_id in dict.fromkeys(experiment_ids):
        validate_experiment_id(experiment_id)
        entry = found.get(experiment_id)
        if entry is None:
            raise ExperimentNotFoundError(
                experiment_id,
                hint="It is not in the trash either: gc expires the trash after "
                f"{TRASH_DAYS} days. Nothing was restored.",
            )
        if repo.ref_exists(ExperimentRef(experiment_id).ref) is not None:
            raise ExperimentExistsError(
                f"Cannot restore '{experiment_id}': an experiment of that id exists again.",
                experiment_id=experiment_id,
                hint=f"Remove or rename the new one first (`mlvc rm {experiment_id}`); the "
                f"removed one stays at {entry.ref}. Nothing was restored.",
            )
        wanted.append(Removal(experiment_id, entry.oid, entry.ref))
    commands = [f"create {ExperimentRef(r.experiment_id).ref} {r.commit}" for r in wanted]
    commands += [f"delete {r.trash_ref} {r.commit}" for r in wanted]
    transaction(repo, commands, "restoring experiments")
    return wanted


def trash_refs(repo: Repository, kind: str | None = None) -> list[TrashRef]:
    """Return the trash (``kind``: ``experiments`` or ``tags``, default both), oldest first."""
    where = f"{TRASH}/{kind}/" if kind else f"{TRASH}/"
    out = repo.git.run("for-each-ref", "--format=%(refname) %(objectname)", where)
    entries = [_parse_trash(line) for line in out.decode("utf-8", "replace").splitlines()]
    return sorted((e for e in entries if e is not None), key=lambda e: e.removed)


def _parse_trash(line: str) -> TrashRef | None:
    """Parse ``<ref> <oid>`` of ``.../experiments/<id>/<stamp>`` or ``.../tags/<stamp>/<name>``."""
    ref, _, oid = line.rpartition(" ")
    parts = ref.removeprefix(f"{TRASH}/").split("/")
    if len(parts) < 3:
        return None
    stamp, name = (
        (parts[2], parts[1]) if parts[0] == "experiments" else (parts[1], "/".join(parts[2:]))
    )
    try:
        when = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None
    return TrashRef(ref, oid, name, when)


def transaction(repo: Repository, commands: Iterable[str], doing: str) -> None:
    """Apply ``update-ref --stdin`` commands all together, or none of them.

    Raises:
        MlvcError: a ref moved meanwhile or is locked; nothing changed.
    """
    script = "start\n" + "".join(f"{c}\n" for c in commands) + "prepare\ncommit\n"
    proc = repo.git.run_full("update-ref", "--stdin", stdin=script.encode(), ok_status=(0, 1, 128))
    if proc.returncode:
        said = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise MlvcError(
            f"{doing.capitalize()} failed and changed nothing: {' / '.join(said[:2])}.",
            hint="A checkpoint probably landed meanwhile (or a ref is locked); retry.",
        )
