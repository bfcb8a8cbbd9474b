"""The JSON the REST API accepts and answers, defined once.

Request bodies are TypedDicts checked by :func:`read_body` (unknown keys and wrong types are
refused, so a typo never passes silently); the answers are the core records' ``to_dict()``
plus the few shapes below. ``labextension/src/tokens.ts`` mirrors every TypedDict here, and
``tests/server/test_drift.py`` fails when the two disagree.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypedDict, get_type_hints

from mlvc_jupyter.errors import MlvcError

__all__ = [
    "API_VERSION",
    "BODIES",
    "BadRequestError",
    "BranchBody",
    "CommitBody",
    "CompareReply",
    "ErrorReply",
    "JobReply",
    "JobState",
    "ReproduceBody",
    "TagBody",
    "VersionReply",
    "read_body",
]

API_VERSION = 1
"""Bumped when a route or a payload changes incompatibly; the sidebar checks it."""


class BadRequestError(MlvcError):
    """A request the server refuses before any core call: answered with ``status``."""

    def __init__(self, message: str, *, hint: str | None = None, status: int = 400) -> None:
        super().__init__(message, hint=hint)
        self.status = status


# -- request bodies ----------------------------------------------------------------------------


class TagBody(TypedDict, total=False):
    """``POST experiments/{id}/tag``: the tag name (required) and ``force`` to move it."""

    tag: str
    force: bool


class BranchBody(TypedDict, total=False):
    """``POST experiments/{id}/branch``: no options (the branch is ``mlvc/<id>``)."""


class ReproduceBody(TypedDict, total=False):
    """``POST experiments/{id}/reproduce``: no options (the worktree goes where core puts it)."""


class CommitBody(TypedDict, total=False):
    """``POST experiments/{id}/commit``: the checkpoint's message."""

    message: str


BODIES: dict[str, type[Any]] = {
    "tag": TagBody,
    "branch": BranchBody,
    "reproduce": ReproduceBody,
    "commit": CommitBody,
}
REQUIRED: dict[str, frozenset[str]] = {"tag": frozenset({"tag"})}
"""Keys each body must carry (the TypedDicts are total=False so that ``{}`` type-checks)."""


# -- answers -----------------------------------------------------------------------------------


class VersionReply(TypedDict):
    """``GET version``: the package version, the API version the routes follow, and the
    server root's absolute path (the sidebar tells each kernel its notebook's full path)."""

    version: str
    api: int
    root: str


class CompareReply(TypedDict):
    """``GET diff``: the first experiment and one diff from it to each other one."""

    a: str
    diffs: list[dict[str, Any]]


JobState = Literal["running", "done", "failed"]


class JobReply(TypedDict):
    """A background job (``POST .../reproduce``, ``GET jobs/{id}``)."""

    id: str
    kind: str
    experiment: str
    state: JobState
    started: float
    elapsed: float
    result: dict[str, Any] | None
    error: dict[str, Any] | None


class ErrorReply(TypedDict):
    """Every 4xx and 5xx answer: ``{"error": {"type", "message", "hint"}}``."""

    error: dict[str, str | None]


def read_body(route: str, raw: bytes) -> dict[str, Any]:
    """Return the JSON body of a ``route`` request, checked against its TypedDict.

    An empty body is ``{}``. Raises:
        BadRequestError: not a JSON object, an unknown key, a missing key or a wrong type.
    """
    schema = BODIES[route]
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BadRequestError(
            f"The body of '{route}' is not valid JSON.",
            hint='Send a JSON object, e.g. {"tag": "best"} for tag.',
        ) from None
    if not isinstance(body, dict):
        raise BadRequestError(
            f"The body of '{route}' must be a JSON object, not {type(body).__name__}.",
            hint="Send a JSON object (`{}` when there is nothing to say).",
        )
    _check_keys(route, body, get_type_hints(schema))
    return body


def _check_keys(route: str, body: dict[str, Any], fields: dict[str, Any]) -> None:
    allowed = ", ".join(sorted(fields)) or "none"
    for key, value in body.items():
        expected = fields.get(key)
        if expected is None:
            raise BadRequestError(
                f"Unknown key '{key}' in the body of '{route}'.",
                hint=f"Allowed keys: {allowed}.",
            )
        if type(value) is not expected:  # bool is not int, str is str: exact types only
            raise BadRequestError(
                f"'{key}' in the body of '{route}' must be a {expected.__name__}, "
                f"got {type(value).__name__}.",
                hint=f"Send '{key}' as a JSON {_json_name(expected)}.",
            )
    missing = sorted(REQUIRED.get(route, frozenset()) - body.keys())
    if missing:
        raise BadRequestError(
            f"The body of '{route}' lacks '{missing[0]}'.",
            hint=f'Send e.g. {{"{missing[0]}": "..."}}.',
        )


def _json_name(kind: type) -> str:
    return {str: "string", bool: "boolean (true/false)"}.get(kind, kind.__name__)
