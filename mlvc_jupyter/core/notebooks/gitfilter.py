"""Install mlvc as the repository's git clean filter for notebooks, like nbstripout, but safely.

Installing writes two settings, both private to the repository, never into a tracked file:

* the line ``*.ipynb filter=mlvc-strip`` in ``info/attributes`` of the git directory, found with
  ``git rev-parse --git-path info/attributes`` (so linked worktrees share it);
* ``filter.mlvc-strip.clean = '/abs/python' -m mlvc_jupyter strip --filter=%f`` and
  ``filter.mlvc-strip.required = true`` in the repository's ``.git/config``.

The command names the installing interpreter by its absolute path, as nbstripout does, so it runs
from any shell: a ``git add`` from a terminal without the virtualenv on ``PATH`` strips as well as
one from inside it. git runs the command through ``sh``, so the path is shell-quoted (spaces and
quotes included); git replaces ``%f`` with the notebook's quoted path, which warnings name.

``required = true`` (nbstripout's choice too) makes git refuse to stage a notebook when the filter
cannot run at all (the interpreter was removed, the package uninstalled) instead of storing its
outputs with a warning that scrolls by. A notebook mlvc cannot read (merge conflict markers, broken
JSON) is not such a failure: ``strip --filter`` passes it through unchanged with a warning, so git
stores it as it is, as mlvc's own checkpoints do. :func:`filter_status` runs the configured command
once on an empty notebook and reports why it cannot run. There is no smudge filter: checkout
writes what is stored.

``install_merge_driver`` (``mlvc filter install --merge``) adds nbdime's git merge and diff
drivers the way ``nbdime config-git --enable`` does (the same ``merge.jupyternotebook`` and
``diff.jupyternotebook`` settings and ``*.ipynb merge=jupyternotebook diff=jupyternotebook``
attribute lines), with two differences that match the filter: the lines go to ``info/attributes``
rather than the tracked ``.gitattributes``, and the drivers run ``python -m nbdime...`` by the
interpreter's absolute path rather than the ``git-nbmergedriver`` script from ``PATH``. Merging
branches that changed different cells of a notebook then succeeds cell by cell.

Uninstalling removes exactly our line and our config section. Every other byte of the attributes
file stays as it was (nbstripout #37/#40 once wiped users' whole ``.gitattributes``).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from mlvc_jupyter.core.files import atomic_write
from mlvc_jupyter.core.repo.runner import Git, discover
from mlvc_jupyter.errors import MlvcError

__all__ = [
    "ATTRIBUTES_LINE",
    "FILTER_NAME",
    "MERGE_LINES",
    "FilterStatus",
    "clean_command",
    "filter_status",
    "install_filter",
    "install_merge_driver",
    "uninstall_filter",
    "uninstall_merge_driver",
]

FILTER_NAME = "mlvc-strip"
ATTRIBUTES_LINE = f"*.ipynb filter={FILTER_NAME}"

_OUR_LINE = ATTRIBUTES_LINE.encode().split()
MERGE_LINES = ("*.ipynb merge=jupyternotebook", "*.ipynb diff=jupyternotebook")
_DRIVERS = "jupyternotebook"
_EMPTY_NOTEBOOK = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
_PROBE_TIMEOUT = 60.0  # seconds; a cold interpreter on a loaded machine takes one or two


@dataclass(frozen=True, slots=True)
class FilterStatus:
    """Whether notebooks in a repository go through mlvc's clean filter.

    Attributes:
        installed: The attributes line is present and a clean command is configured.
        attributes_path: The attributes file mlvc writes its line to.
        clean_command: The configured clean command, or ``""`` when there is none.
        problem: Why the configured command cannot strip a notebook, or ``""`` when it can (or
            none is configured). ``mlvc filter install`` fixes it.
    """

    installed: bool
    attributes_path: str
    clean_command: str
    problem: str = ""

    def to_dict(self) -> dict[str, bool | str]:
        """Return the record as JSON-ready data."""
        return asdict(self)


def clean_command(python: str | None = None) -> str:
    """Return the clean command that runs ``mlvc strip`` with ``python`` (default: this one).

    The interpreter is named by its absolute path, not resolved, so a virtualenv's ``python``
    keeps its site-packages; it is quoted for the POSIX shell git runs filters with.
    """
    interpreter = os.path.abspath(python or sys.executable)
    return f"{shlex.quote(interpreter)} -m mlvc_jupyter strip --filter=%f"


def filter_status(root: Path) -> FilterStatus:
    """Report whether mlvc's clean filter is installed in the repository containing ``root``.

    When a clean command is configured, it is run once on an empty notebook, so ``problem`` says
    whether ``git add`` can run it from any shell.

    Raises:
        NotARepositoryError: ``root`` is not inside a git working tree.
        GitOperationError: git could not read the repository's configuration.
    """
    git, attributes = _locate(root)
    return _status(git, attributes)


def install_filter(root: Path, *, python: str | None = None) -> FilterStatus:
    """Make ``git add`` store notebooks stripped by ``mlvc strip``; installing twice is a no-op.

    Args:
        root: A folder inside the repository's working tree.
        python: The interpreter the filter runs (default: the one running this code).

    Raises:
        NotARepositoryError: ``root`` is not inside a git working tree.
        GitOperationError: git could not write the repository's configuration.
        MlvcError: The attributes file could not be written.
    """
    git, attributes = _locate(root)
    git.run("config", "--local", f"filter.{FILTER_NAME}.clean", clean_command(python))
    git.run("config", "--local", f"filter.{FILTER_NAME}.required", "true")
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
        problem=_problem(command, git.cwd) if command else "",
    )


def _problem(command: str, cwd: Path) -> str:
    """Return why ``command`` cannot strip a notebook from any shell, or ``""`` when it can."""
    try:
        argv = [word.replace("%f", "probe.ipynb") for word in shlex.split(command)]
    except ValueError as exc:
        return f"The clean command `{command}` cannot be parsed ({exc})."
    program = argv[0] if argv else ""
    if not os.path.isabs(program):
        return (
            f"The clean command `{command}` runs `{program}` from PATH, so a `git add` from a "
            "shell without this environment cannot run it and stores outputs."
        )
    if not os.path.isfile(program):
        return f"The filter's interpreter '{program}' does not exist."
    if not os.access(program, os.X_OK):
        return f"The filter's interpreter '{program}' is not executable."
    return _run_problem(argv, cwd)


def _run_problem(argv: list[str], cwd: Path) -> str:
    try:
        proc = subprocess.run(
            argv, input=_EMPTY_NOTEBOOK, capture_output=True, cwd=cwd, timeout=_PROBE_TIMEOUT,
            check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"The filter's interpreter '{argv[0]}' cannot be run: {exc}."
    if proc.returncode == 0 and proc.stdout.strip():
        return ""
    lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    detail = lines[-1] if lines else f"exit status {proc.returncode}"
    return f"The filter's interpreter '{argv[0]}' cannot strip a notebook: {detail}."


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


def install_merge_driver(root: Path, *, python: str | None = None) -> list[str]:
    """Make git merge and diff notebooks with nbdime; return the settings written.

    Raises:
        NotARepositoryError: ``root`` is not inside a git working tree.
        MlvcError: nbdime cannot be imported by ``python`` (the hint says how to install it),
            or the attributes file could not be written.
    """
    interpreter = os.path.abspath(python or sys.executable)
    _require_nbdime(interpreter)
    git, attributes = _locate(root)
    quoted = shlex.quote(interpreter)
    settings = {
        f"merge.{_DRIVERS}.name": "jupyter notebook merge driver",
        f"merge.{_DRIVERS}.driver": f"{quoted} -m nbdime.vcs.git.mergedriver merge %O %A %B %L %P",
        f"diff.{_DRIVERS}.command": f"{quoted} -m nbdime.vcs.git.diffdriver diff",
    }
    for key, value in settings.items():
        git.run("config", "--local", key, value)
    content = _read(attributes)
    present = {line.strip() for line in content.decode("utf-8", "replace").splitlines()}
    missing = [line for line in MERGE_LINES if line not in present]
    if missing:
        added = _eol(content).join(line.encode() for line in missing)
        _write(attributes, content + _separator(content) + added + _eol(content))
    return [f"{key} = {value}" for key, value in settings.items()]


def uninstall_merge_driver(root: Path) -> None:
    """Remove the nbdime drivers' attribute lines and settings, leaving the rest untouched.

    Raises:
        NotARepositoryError: ``root`` is not inside a git working tree.
        MlvcError: The attributes file could not be written.
    """
    git, attributes = _locate(root)
    content = _read(attributes)
    ours = {line.encode() for line in MERGE_LINES}
    kept = [line for line in content.splitlines(keepends=True) if line.strip() not in ours]
    if b"".join(kept) != content:
        _write(attributes, b"".join(kept))
    for section in (f"merge.{_DRIVERS}", f"diff.{_DRIVERS}"):
        if git.run("config", "--local", "--get-regexp", f"^{section}\\.", ok_status=(0, 1)):
            git.run("config", "--local", "--remove-section", section)


def _require_nbdime(interpreter: str) -> None:
    """Raise MlvcError unless ``interpreter`` can import nbdime's git drivers."""
    probe = [interpreter, "-c", "import nbdime.vcs.git.mergedriver"]
    try:
        proc = subprocess.run(probe, capture_output=True, timeout=_PROBE_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MlvcError(
            f"Cannot run '{interpreter}' to look for nbdime: {exc}.",
            hint="Run `mlvc filter install --merge` with the Python that has mlvc-jupyter.",
        ) from exc
    if proc.returncode:
        raise MlvcError(
            f"nbdime is not installed for '{interpreter}', so git cannot merge notebooks "
            "cell by cell; nothing was changed.",
            hint=f"Install it (`{shlex.quote(interpreter)} -m pip install nbdime`, or `pip "
            "install nbdime`), then run `mlvc filter install --merge` again.",
        )
