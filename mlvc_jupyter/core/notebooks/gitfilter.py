"""Install mlvc as the repository's git clean filter for notebooks, like nbstripout, but safely.

Installing writes two settings, both private to the repository, never into a tracked file:

* the line ``*.ipynb filter=mlvc-strip`` in ``info/attributes`` of the git directory, found with
  ``git rev-parse --git-path info/attributes`` (so linked worktrees share it);
* ``filter.mlvc-strip.clean = mlvc strip --stdin`` and ``filter.mlvc-strip.required = false`` in
  the repository's ``.git/config``.

The command is the console script's name, not an interpreter path, so it keeps working when the
virtualenv moves. ``required = false`` means that when ``mlvc`` cannot run (not on ``PATH``, or a
notebook it cannot read, such as one with merge conflict markers) git warns and stores the file as
it is instead of refusing the commit. There is no smudge filter: checkout writes what is stored.

Uninstalling removes exactly our line and our config section. Every other byte of the attributes
file stays as it was (nbstripout #37/#40 once wiped users' whole ``.gitattributes``).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from mlvc_jupyter.core.files import atomic_write
from mlvc_jupyter.core.repo.runner import Git, discover
from mlvc_jupyter.errors import MlvcError

__all__ = [
    "ATTRIBUTES_LINE",
    "CLEAN_COMMAND",
    "FILTER_NAME",
    "FilterStatus",
    "filter_status",
    "install_filter",
    "uninstall_filter",
]

FILTER_NAME = "mlvc-strip"
ATTRIBUTES_LINE = f"*.ipynb filter={FILTER_NAME}"
CLEAN_COMMAND = "mlvc strip --stdin"

_OUR_LINE = ATTRIBUTES_LINE.encode().split()


@dataclass(frozen=True, slots=True)
class FilterStatus:
    """Whether notebooks in a repository go through mlvc's clean filter.

    Attributes:
        installed: The attributes line is present and a clean command is configured.
        attributes_path: The attributes file mlvc writes its line to.
        clean_command: The configured clean command, or ``""`` when there is none.
    """

    installed: bool
    attributes_path: str
    clean_command: str

    def to_dict(self) -> dict[str, bool | str]:
        """Return the record as JSON-ready data."""
        return asdict(self)


def filter_status(root: Path) -> FilterStatus:
    """Report whether mlvc's clean filter is installed in the repository containing ``root``.

    Raises:
        NotARepositoryError: ``root`` is not inside a git working tree.
        GitOperationError: git could not read the repository's configuration.
    """
    git, attributes = _locate(root)
    return _status(git, attributes)


def install_filter(root: Path) -> FilterStatus:
    """Make ``git add`` store notebooks stripped by ``mlvc strip``; installing twice is a no-op.

    Raises:
        NotARepositoryError: ``root`` is not inside a git working tree.
        GitOperationError: git could not write the repository's configuration.
        MlvcError: The attributes file could not be written.
    """
    git, attributes = _locate(root)
    git.run("config", "--local", f"filter.{FILTER_NAME}.clean", CLEAN_COMMAND)
    git.run("config", "--local", f"filter.{FILTER_NAME}.required", "false")
    content = _read(attributes)
    if not any(_is_ours(line) for line in content.splitlines()):
        _write(attributes, content + _separator(content) + ATTRIBUTES_LINE.encode() + _eol(content))
    return _status(git, attributes)


def uninstall_filter(root: Path) -> FilterStatus:
    """Remove mlvc's attributes line and filter config, leaving everything else untouched.

    Raises:
        NotARepositoryError: ``root`` is not inside a git working tree.
        GitOperationError: git could not write the repository's configuration.
        MlvcError: The attributes file could not be written.
    """
    git, attributes = _locate(root)
    content = _read(attributes)
    kept = [line for line in content.splitlines(keepends=True) if not _is_ours(line)]
    if b"".join(kept) != content:
        _write(attributes, b"".join(kept))
    section = f"filter.{FILTER_NAME}"
    if git.run("config", "--local", "--get-regexp", f"^{section}\\.", ok_status=(0, 1)):
        git.run("config", "--local", "--remove-section", section)
    return _status(git, attributes)


def _locate(root: Path) -> tuple[Git, Path]:
    git = Git(discover(root).toplevel)
    out = git.run("rev-parse", "--path-format=absolute", "--git-path", "info/attributes")
    return git, Path(os.fsdecode(out.rstrip(b"\r\n")))


def _status(git: Git, attributes: Path) -> FilterStatus:
    out = git.run("config", "--get", f"filter.{FILTER_NAME}.clean", ok_status=(0, 1))
    command = out.decode("utf-8", "replace").strip()
    has_line = any(_is_ours(line) for line in _read(attributes).splitlines())
    return FilterStatus(
        installed=has_line and bool(command),
        attributes_path=str(attributes),
        clean_command=command,
    )


def _is_ours(line: bytes) -> bool:
    return line.split() == _OUR_LINE


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""
    except OSError as exc:
        raise _file_error("read", path, exc) from exc


def _file_error(verb: str, path: Path, exc: OSError) -> MlvcError:
    return MlvcError(
        f"Cannot {verb} '{path}': {exc.strerror or exc}.",
        hint="Check the permissions of the repository's .git/info folder; nothing was changed.",
    )


def _eol(content: bytes) -> bytes:
    return b"\r\n" if b"\r\n" in content else b"\n"


def _separator(content: bytes) -> bytes:
    """Return the line end a file lacks before a line can be appended to it."""
    return _eol(content) if content and not content.endswith(b"\n") else b""


def _write(path: Path, content: bytes) -> None:
    """Replace ``path`` atomically, keeping its permissions; the temp file carries our pid."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, content)
    except OSError as exc:
        raise _file_error("write", path, exc) from exc
