"""Where experiments live among git's refs, and the rules their names follow."""

from __future__ import annotations

import re
import unicodedata

from mlvc_jupyter.errors import InvalidNameError

__all__ = [
    "EXPERIMENTS",
    "REFS",
    "SAFETY",
    "experiment_ref",
    "is_experiment_id",
    "validate_branch_name",
    "validate_experiment_id",
    "validate_tag_name",
]

REFS = "refs/mlvc"
EXPERIMENTS = f"{REFS}/experiments"
SAFETY = f"{REFS}/safety"

_ID_RULE = "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
_ID_PATTERN = re.compile(_ID_RULE)
# Tags and branches may also use '/' to group names, the way people name releases (v1/rc1).
_REFNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")


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
        hint=f"Use letters, digits, '.', '_' and '-' (matching {_ID_RULE}), e.g. 'exp_001'.",
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
    if unicodedata.normalize("NFC", experiment_id) != experiment_id or not _ID_PATTERN.match(
        experiment_id
    ):
        _fail(
            experiment_id,
            "experiment id",
            "it must start with a letter or digit and contain only letters, digits, '.', '_', '-'",
        )
    _check_common(experiment_id, "experiment id")
    return experiment_id


def is_experiment_id(value: object) -> bool:
    """Return True if ``value`` is a valid experiment id (no exception, no message)."""
    try:
        validate_experiment_id(value)
    except InvalidNameError:
        return False
    return True


def _validate_refname(name: object, kind: str) -> str:
    if not isinstance(name, str) or not _REFNAME_PATTERN.match(name):
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


def experiment_ref(experiment_id: str) -> str:
    """Return the full ref of an experiment, validating its id.

    Raises:
        InvalidNameError: the id is not valid.
    """
    return f"{EXPERIMENTS}/{validate_experiment_id(experiment_id)}"
