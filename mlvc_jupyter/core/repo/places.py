"""Where a repository may be opened or created, and paths as users give them.

Every entry point that takes a path checks it here (:func:`user_path`); a repository is created
only in a folder the user named, never in ``/``, the home folder, a bare repository or inside
``.git`` (:func:`refuse_creation_place`).
"""

from __future__ import annotations

import os
from pathlib import Path

from mlvc_jupyter.core.repo.runner import Git
from mlvc_jupyter.errors import GitOperationError, MlvcError, NotARepositoryError

__all__ = [
    "inside_git_dir",
    "not_a_repository",
    "refuse_creation_place",
    "refuse_if_git_refuses",
    "user_path",
]


def user_path(value: object, *, what: str = "path") -> Path:
    """Return a path the user gave, with ``~`` expanded, after checking that it can be one.

    Every entry point that takes a path goes through here, so a wrong type or a NUL byte
    (which the operating system cannot take) gets a clear error instead of a ``ValueError``.

    Raises:
        MlvcError: ``value`` is not a str or path-like, or holds a NUL byte.
    """
    if not isinstance(value, str | os.PathLike):
        raise MlvcError(
            f"Expected a {what}, got {type(value).__name__} {value!r}.",
            hint="Pass the path as a string or pathlib.Path.",
        )
    text = os.fspath(value)
    if (b"\0" if isinstance(text, bytes) else "\0") in text:
        raise MlvcError(
            f"The {what} {text!r} contains a NUL byte, which no file name can hold.",
            hint="Check where the path came from; remove the \\x00 character.",
        )
    return Path(os.fsdecode(text)).expanduser()


def inside_git_dir(folder: Path) -> bool:
    """Return True if ``folder`` is, or would be, inside git's own files.

    That is a folder named ``.git`` or below one, or inside any repository's git directory
    or a bare repository (asked of git from the nearest folder that exists).
    """
    absolute = folder.absolute()
    parts = (*absolute.parts, *absolute.resolve().parts)
    if any(part.casefold() == ".git" for part in parts):
        return True
    existing = next(p for p in (absolute, *absolute.parents) if p.is_dir())
    out = Git(existing).run(
        "rev-parse", "--is-inside-git-dir", "--is-bare-repository", ok_status=(0, 128)
    )
    return b"true" in out.split()


def refuse_creation_place(folder: Path) -> None:
    """Refuse to create a repository in ``/``, the home folder, a bare repository or ``.git``.

    Raises:
        NotARepositoryError: ``folder`` is one of those places.
    """
    absolute = folder.absolute()
    if absolute == Path(absolute.anchor):
        why = f"'{absolute}' is the root of the file system"
    elif absolute.resolve() == Path.home().resolve():
        why = f"'{absolute}' is your home folder"
    elif inside_git_dir(absolute):
        raise not_a_repository(absolute, inside_git=True)
    else:
        return
    raise NotARepositoryError(
        f"Refusing to create a git repository here: {why}.",
        path=str(absolute),
        hint="Name the project's own folder, e.g. `%vc_init ~/projects/cifar` "
        "(CLI: `mlvc init ~/projects/cifar`).",
    )


def not_a_repository(folder: Path, *, inside_git: bool) -> NotARepositoryError:
    """Return the error for a folder outside any working tree, saying what to open instead."""
    if inside_git:
        return NotARepositoryError(
            f"'{folder}' is inside git's own files (a .git folder or a bare repository), "
            "not a working tree.",
            path=str(folder),
            hint="Open the project's working tree: the folder that holds .git.",
        )
    return NotARepositoryError(
        f"'{folder}' is not inside a git working tree.",
        path=str(folder),
        hint=f"Create a repository there with `%vc_init {folder}` (CLI: `mlvc init {folder}`), "
        "or open a folder inside an existing repository.",
    )


def refuse_if_git_refuses(folder: Path, exc: NotARepositoryError) -> None:
    """Pass git's own reason through when it refuses a repository (another user's)."""
    cause = exc.__cause__
    if isinstance(cause, GitOperationError) and "dubious ownership" in cause.stderr:
        raise NotARepositoryError(
            f"git refuses to open the repository at '{folder}':\n{cause.stderr}",
            path=str(folder),
            hint="It belongs to another user. If you trust it, run the `git config --global "
            "--add safe.directory ...` command above; mlvc never adds that exception itself.",
        ) from cause
