"""The exception tree of mlvc-jupyter.

Every error a user can meet is an :class:`MlvcError`. Its message says what happened, quoting the
user's value, and ``hint`` says how to fix it. Each error keeps its inputs as attributes so that
the REST server can serialise them and tests can assert on them.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ConfigError",
    "DirtyWorkingTreeError",
    "ExperimentExistsError",
    "ExperimentNotFoundError",
    "GitOperationError",
    "InvalidNameError",
    "MlvcError",
    "NotARepositoryError",
    "SecretFoundError",
    "UnreadableNotebookError",
]


class MlvcError(Exception):
    """Base class of every error mlvc-jupyter raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message

    def to_dict(self) -> dict[str, str | None]:
        """Return the JSON shape the REST server answers with."""
        return {"type": type(self).__name__, "message": self.message, "hint": self.hint}


class NotARepositoryError(MlvcError):
    """The path is not inside a git repository (and could not be made one)."""

    def __init__(self, message: str, *, path: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path


class DirtyWorkingTreeError(MlvcError):
    """An operation would overwrite uncommitted work."""

    def __init__(self, message: str, *, paths: Sequence[str], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.paths = list(paths)


class InvalidNameError(MlvcError, ValueError):
    """An experiment id, tag or branch name breaks a naming rule."""

    def __init__(self, message: str, *, name: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.name = name


class ExperimentNotFoundError(MlvcError, LookupError):
    """No experiment with that id exists."""

    def __init__(self, experiment_id: str, *, hint: str | None = None) -> None:
        super().__init__(
            f"Experiment '{experiment_id}' does not exist.",
            hint=hint or "Run `mlvc log` (or `%vc_log`) to list the experiments.",
        )
        self.experiment_id = experiment_id


class ExperimentExistsError(MlvcError):
    """An experiment (or a name that differs only by case) already exists."""

    def __init__(self, message: str, *, experiment_id: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.experiment_id = experiment_id


class SecretFoundError(MlvcError):
    """A snapshot would record something that looks like a secret."""

    def __init__(self, message: str, *, findings: Sequence[str], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.findings = list(findings)


class UnreadableNotebookError(MlvcError):
    """The bytes are not a notebook mlvc can strip.

    Attributes:
        reason: ``"empty"``, ``"conflict"`` (git merge markers), ``"json"`` (not valid JSON),
            ``"not-a-notebook"`` or ``"version"`` (an nbformat other than 2, 3 or 4).
    """

    def __init__(self, message: str, *, reason: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


class GitOperationError(MlvcError):
    """A git command failed. ``command`` has credentials scrubbed from it."""

    def __init__(
        self,
        message: str,
        *,
        command: Sequence[str],
        status: int | None,
        stderr: str,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.command = list(command)
        self.status = status
        self.stderr = stderr


class ConfigError(MlvcError):
    """A settings file, config snapshot or config value cannot be used."""

    def __init__(self, message: str, *, path: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path
