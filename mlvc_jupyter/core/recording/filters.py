"""Name the clean filter behind a checkpoint that failed or ran out of time.

A checkpoint stores what ``git add`` would store, so the repository's clean filters run for
files other than notebooks (git LFS relies on that). git reports a failing filter by its command
(``external filter 'x' failed``) and, when the filter is required, by the file; a filter that
hangs is only seen as a timeout. These helpers ask git which files carry which filter and turn
either into an error that names the filter, the file and the fix.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterable, Sequence

from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.errors import GitOperationError

__all__ = ["explain", "filters_off", "refuse_failed_filter"]

_REQUIRED = re.compile(r"fatal: (.+): clean filter '([^']*)' failed")
_EXTERNAL = re.compile(r"external filter '([^']*)' failed")
_LOOKUP_TIMEOUT = 10.0
_UNSET = ("unspecified", "unset", "set")


def refuse_failed_filter(
    repo: Repository,
    args: Sequence[str],
    proc: subprocess.CompletedProcess[bytes],
    paths: Sequence[str],
) -> None:
    """Raise when git said a clean filter failed, even though git itself went on.

    ``paths`` are the files git was given (none: every tracked file may have been filtered).

    Raises:
        GitOperationError: naming the filter, the file(s) it applies to, and the fix.
    """
    stderr = proc.stderr.decode("utf-8", "replace")
    if "filter '" in stderr:
        error = _filter_error(repo, ["git", *args], proc.returncode, stderr, paths)
        if error is not None:
            raise error


def explain(
    repo: Repository, exc: GitOperationError, paths: Sequence[str], deadline: float
) -> GitOperationError:
    """Return ``exc``, or a clearer error when a clean filter failed or the time ran out."""
    if exc.status is None and time.monotonic() >= deadline:
        culprits = _filtered(repo, paths)
        what = _describe(culprits) if culprits else "git"
        return GitOperationError(
            f"{what} did not finish within the checkpoint's time limit: nothing was recorded.",
            command=exc.command,
            status=None,
            stderr=exc.stderr,
            hint="Make the filter faster or remove it (`git config --unset filter.<name>.clean`"
            ", or its line in .gitattributes); a checkpoint runs the clean filters `git add` "
            "runs, for up to 30 s in all.",
        )
    return _filter_error(repo, exc.command, exc.status, exc.stderr, paths) or exc


def _filter_error(
    repo: Repository, command: Sequence[str], status: int | None, stderr: str, paths: Sequence[str]
) -> GitOperationError | None:
    required = _REQUIRED.search(stderr)
    if required is not None:
        path, driver = required.groups()
        culprits = [(path, driver, _commands(repo).get(driver, "?"))]
    else:
        external = _EXTERNAL.search(stderr)
        if external is None:
            return None
        culprits = [c for c in _filtered(repo, paths) if c[2] == external.group(1)]
        culprits = culprits or [("?", "?", external.group(1))]
    return GitOperationError(
        f"{_describe(culprits)} failed: nothing was recorded.",
        command=list(command),
        status=status,
        stderr=stderr,
        hint="Fix the filter, or remove it (`git config --unset filter.<name>.clean`, or its "
        "line in .gitattributes); a checkpoint stores what `git add` would, so the clean "
        "filters `git add` runs must work.",
    )


def _describe(culprits: Sequence[tuple[str, str, str]]) -> str:
    path, driver, command = culprits[0]
    more = f" (and {len(culprits) - 1} more file(s))" if len(culprits) > 1 else ""
    return f"The clean filter '{driver}' (`{command}`) on '{path}'{more}"


def _filtered(repo: Repository, paths: Sequence[str]) -> list[tuple[str, str, str]]:
    """Return (path, filter driver, clean command) of the paths a clean filter applies to."""
    commands = _commands(repo)
    if not commands:
        return []
    if not paths:
        listed = repo.git.run("ls-files", "-z", timeout=_LOOKUP_TIMEOUT)
        paths = [p for p in listed.decode("utf-8", "surrogateescape").split("\0") if p]
    stdin = b"".join(p.encode("utf-8", "surrogateescape") + b"\0" for p in paths)
    out = repo.git.run(
        "check-attr", "-z", "--stdin", "filter", stdin=stdin, timeout=_LOOKUP_TIMEOUT
    )
    fields = out.decode("utf-8", "surrogateescape").split("\0")
    result = []
    for path, _attr, value in zip(fields[0::3], fields[1::3], fields[2::3], strict=False):
        if value not in _UNSET and value in commands:
            result.append((path, value, commands[value]))
    return result


def _commands(repo: Repository) -> dict[str, str]:
    """Return {filter driver: clean command} from the repository's configuration."""
    proc = repo.git.run_full(
        "config", "-z", "--get-regexp", r"^filter\..*\.clean$",
        ok_status=(0, 1), timeout=_LOOKUP_TIMEOUT,
    )  # fmt: skip
    result = {}
    for item in proc.stdout.decode("utf-8", "replace").split("\0"):
        key, _, value = item.partition("\n")
        if key.startswith("filter.") and key.endswith(".clean"):
            result[key[len("filter.") : -len(".clean")]] = value
    return result


def filters_off(drivers: Iterable[str]) -> dict[str, str]:
    """Return the environment that turns the named filter drivers off for one git call."""
    settings = [
        (f"filter.{name}.{key}", value)
        for name in drivers
        for key, value in (("clean", ""), ("process", ""), ("required", "false"))
    ]
    env = {"GIT_CONFIG_COUNT": str(len(settings))}
    for i, (key, value) in enumerate(settings):
        env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
    return env if settings else {}
