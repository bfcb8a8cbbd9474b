"""Where experiments live among git's refs, and the rules their names follow.

Every ref mlvc writes is named here: an experiment's ref and its ``mlvc/<id>`` branch through
:class:`ExperimentRef`, safety refs under :data:`SAFETY`. Names from users are checked once,
where they enter (the manager's public methods), with the validators below.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from mlvc_jupyter.errors import InvalidNameError

__all__ = [
    "BRANCH_PREFIX",
    "EXPERIMENTS",
    "REFS",
    "REMOTES",
    "SAFETY",
    "TRASH",
    "ExperimentRef",
    "is_experiment_id",
    "is_experiment_name",
    "remote_experiments",
    "safety_ref",
    "trash_experiment_ref",
    "trash_stamp",
    "trash_tag_ref",
    "validate_branch_name",
    "validate_experiment_id",
    "validate_experiment_name",
    "validate_remote_name",
    "validate_new_tag",
    "validate_tag_name",
]

REFS = "refs/mlvc"
EXPERIMENTS = f"{REFS}/experiments"
SAFETY = f"{REFS}/safety"
REMOTES = f"{REFS}/remotes"
"""Remote-tracking experiments: ``refs/mlvc/remotes/<remote>/experiments/<id>``, written by pull."""
TRASH = f"{REFS}/trash"
BRANCH_PREFIX = "mlvc/"
HEADS = "refs/heads/"
TAGS = "refs/tags/"

# Whole-string matches (fullmatch): a '$' anchor would let a trailing newline through.
_ID_RULE = "[A-Za-z0-9][A-Za-z0-9._-]{0,99}"
_ID_PATTERN = re.compile(_ID_RULE)
# A remote's name as git remote add takes it, minus anything a shell or git would read specially.
_REMOTE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# Tags and branches may also use '/' to group names, the way people name releases (v1/rc1).
_REFNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")


@dataclass(frozen=True, slots=True)
class ExperimentRef:
    """The refs of one experiment: ``refs/mlvc/experiments/<id>`` and branch ``mlvc/<id>``.

    Build it from user input with :meth:`parse`, which validates the id; the constructor
    trusts its argument (an id already parsed at the entry point, or read back from git).
    """

    id: str
    remote: str | None = None
    """The remote of a remote-tracking experiment (``origin`` of ``origin/e1``), else None."""

    @classmethod
    def parse(cls, experiment_id: object) -> ExperimentRef:
        """Return the refs of ``experiment_id`` after checking it.

        Raises:
            InvalidNameError: the id breaks a naming rule.
        """
        return cls(validate_experiment_id(experiment_id))

    @classmethod
    def parse_name(cls, name: object) -> ExperimentRef:
        """Return the refs of ``<id>`` or of a remote-tracking ``<remote>/<id>`` after checking.

        This is where every command that reads an experiment resolves what the user typed:
        ``origin/e1`` names ``refs/mlvc/remotes/origin/experiments/e1``, which pull keeps.

        Raises:
            InvalidNameError: the id or the remote's name breaks a naming rule.
        """
        if isinstance(name, str) and name.count("/") == 1:
            remote, experiment_id = name.split("/")
            if _is_remote_name(remote):
                return cls(validate_experiment_id(experiment_id), remote)
        return cls.parse(name)  # not a remote's: the message is about the id as typed

    @property
    def name(self) -> str:
        """Return what the user types: ``<id>``, or ``<remote>/<id>`` for a remote-tracking one."""
        return self.id if self.remote is None else f"{self.remote}/{self.id}"

    @property
    def ref(self) -> str:
        """Return the full ref holding the experiment's checkpoints."""
        if self.remote is not None:
            return f"{remote_experiments(self.remote)}/{self.id}"
        return f"{EXPERIMENTS}/{self.id}"

    @property
    def branch(self) -> str:
        """Return the name of the experiment's branch, ``mlvc/<id>``."""
        return BRANCH_PREFIX + self.id

    @property
    def branch_ref(self) -> str:
        """Return the full ref of the experiment's branch."""
        return HEADS + self.branch


def remote_experiments(remote: str) -> str:
    """Return the folder of ``remote``'s remote-tracking experiments (no trailing '/')."""
    return f"{REMOTES}/{remote}/experiments"


def safety_ref(stamp: str) -> str:
    """Return the ref of a safety snapshot taken at ``stamp`` (a UTC time, sortable)."""
    return f"{SAFETY}/{stamp}"


def trash_stamp(when: dt.datetime | None = None) -> str:
    """Return a UTC time as a sortable ref component (``20260101T120000.000000Z``)."""
    moment = when or dt.datetime.now(dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


def trash_experiment_ref(experiment_id: str, stamp: str) -> str:
    """Return the ref keeping an experiment's checkpoints after ``rm`` at ``stamp``."""
    return f"{TRASH}/experiments/{experiment_id}/{stamp}"


def trash_tag_ref(name: str, stamp: str) -> str:
    """Return the ref keeping deleted tag ``name``'s object (deleted at ``stamp``)."""
    return f"{TRASH}/tags/{stamp}/{name}"


def _check_common(name: str, kind: str) -> None:
    """Apply git's check-ref-format rules that our allowlists leave open."""
    if ".." in name:
        _fail(name, kind, "it may not contain '..'")
    if name.endswith(".lock"):
        _fail(name, kind, "it may not end in '.lock'")
    if name.endswith("."):
        _fail(name, kind, "it may not end in '.'")
    if name.upper() == "HEAD":
        _fail(name, kind, "'HEAD' (in any case) is reserved by git")
    for part in name.split("/"):
        if not part or part.startswith(".") or part.endswith(".lock"):
            _fail(name, kind, "each '/'-separated part must be non-empty and not start with '.'")


def _fail(name: str, kind: str, rule: str) -> None:
    shown = name if len(name) <= 40 else name[:37] + "..."
    raise InvalidNameError(
        f"Invalid {kind} {shown!r}: {rule}.",
        name=name,
        hint=f"Use letters, digits, '.', '_' and '-' (matching ^{_ID_RULE}$), e.g. 'exp_001'.",
    )


def validate_experiment_id(experiment_id: object) -> str:
    """Return ``experiment_id`` if it is a valid experiment id.

    Ids match ``^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$``, pass ``git check-ref-format``, do not end in
    ``.lock`` or ``.`` and are not ``HEAD`` in any case.

    Raises:
        InvalidNameError: the id breaks one of those rules; the message quotes it and names
            the rule.
    """
    if not isinstance(experiment_id, str):
        raise InvalidNameError(
            f"Invalid experiment id {experiment_id!r}: it must be a string.",
            name=repr(experiment_id),
            hint="Pass the id as text, e.g. 'exp_001'.",
        )
    if not experiment_id:
        _fail(experiment_id, "experiment id", "it is empty")
    if len(experiment_id) > 100:
        _fail(experiment_id, "experiment id", "it is longer than 100 characters")
    if unicodedata.normalize("NFC", experiment_id) != experiment_id or not _ID_PATTERN.fullmatch(
        experiment_id
    ):
        _fail(
            experiment_id,
            "experiment id",
            "it must start with a letter or digit and contain only letters, digits, '.', '_', '-'",
        )
    _check_common(experiment_id, "experiment id")
    return experiment_id


def validate_experiment_name(name: object) -> str:
    """Return ``name`` if it names an experiment: ``<id>`` or remote-tracking ``<remote>/<id>``.

    Raises:
        InvalidNameError: see :meth:`ExperimentRef.parse_name`.
    """
    ExperimentRef.parse_name(name)
    assert isinstance(name, str)  # parse_name accepts only text
    return name


def validate_remote_name(remote: object) -> str:
    """Return ``remote`` if it may name a git remote here.

    Letters, digits, '.', '_' and '-', starting with a letter or digit: so a name can never be
    read by git as an option (``--upload-pack=...``), a URL (``ext::...``) or a path.

    Raises:
        InvalidNameError: the name breaks that rule.
    """
    if not isinstance(remote, str) or not _REMOTE_PATTERN.fullmatch(remote):
        shown = repr(remote) if len(repr(remote)) <= 60 else repr(remote)[:57] + "..."
        raise InvalidNameError(
            f"Invalid remote name {shown}: a remote's name has letters, digits, '.', '_' and "
            "'-' only, starting with a letter or digit.",
            name=str(remote),
            hint="Name a remote from `git remote -v` (e.g. 'origin'); to use a new URL, add "
            "it first with `git remote add NAME URL`.",
        )
    _check_common(remote, "remote name")
    return remote


def _is_remote_name(value: str) -> bool:
    try:
        validate_remote_name(value)
    except InvalidNameError:
        return False
    return True


def is_experiment_name(value: object) -> bool:
    """Return True if ``value`` names an experiment: ``<id>`` or ``<remote>/<id>``."""
    try:
        ExperimentRef.parse_name(value)
    except InvalidNameError:
        return False
    return True


def is_experiment_id(value: object) -> bool:
    """Return True if ``value`` is a valid experiment id (no exception, no message)."""
    try:
        validate_experiment_id(value)
    except InvalidNameError:
        return False
    return True


def _validate_refname(name: object, kind: str) -> str:
    if not isinstance(name, str) or not _REFNAME_PATTERN.fullmatch(name):
        _fail(
            str(name),
            kind,
            "it must start with a letter or digit and contain only letters, digits, "
            "'.', '_', '-' and '/'",
        )
    assert isinstance(name, str)  # narrowed by the pattern check above
    _check_common(name, kind)
    return name


def validate_tag_name(tag: object) -> str:
    """Return ``tag`` if it is a usable tag name.

    Raises:
        InvalidNameError: the name breaks a naming rule.
    """
    return _validate_refname(tag, "tag name")


def validate_branch_name(branch: object) -> str:
    """Return ``branch`` if it is a usable branch name.

    Raises:
        InvalidNameError: the name breaks a naming rule.
    """
    return _validate_refname(branch, "branch name")


def validate_new_tag(tag: object, existing_refs: Iterable[str]) -> str:
    """Return ``tag`` if it may be created (or moved) among the repository's refs.

    ``existing_refs`` are the full names of the tags and branches. On top of the naming rules,
    a tag may not differ only by case from another tag (the two collide on macOS and Windows)
    and may not be a branch's name (``git log main`` would become ambiguous).

    Raises:
        InvalidNameError: the name breaks one of those rules.
    """
    name = validate_tag_name(tag)
    refs = set(existing_refs)
    if HEADS + name in refs:
        _fail(name, "tag name", f"it is the name of a branch, so `git log {name}` is ambiguous")
    folded = name.casefold()
    for ref in refs:
        other = ref.removeprefix(TAGS)
        if ref.startswith(TAGS) and other != name and other.casefold() == folded:
            _fail(name, "tag name", f"it differs only by case from the existing tag '{other}'")
    return name
