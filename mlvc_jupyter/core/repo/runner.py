"""The one place mlvc runs git.

Every git process mlvc starts goes through :class:`Git`: argument lists only (never a shell), a
hardened environment, configuration that would run commands pinned off, and failures mapped to
:class:`~mlvc_jupyter.errors.GitOperationError` with credentials scrubbed. At DEBUG level each call
is logged with its duration.

The hot paths (snapshot, listing) drive git plumbing processes directly: GitPython's object model
is quadratic on packed refs and its index writer loses commits under concurrency (see
``anchors/reliability.md``). GitPython is used for what it does well here: scrubbing passwords from
command lines in error messages (and, with the remotes, fetch and push with progress).

Configuration is read with ``git config`` itself, not GitPython's config reader: measured here,
that reader resolves only the system, global and repository files, so it misses what git honours
(``GIT_CONFIG_GLOBAL``, ``GIT_CONFIG_NOSYSTEM``, ``GIT_CONFIG_COUNT``, ``-c``, worktree config),
and ``import git`` alone costs about 230 ms. The reads that matter (identity, signing, filter
drivers) happen once per process or when a config file changes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlvc_jupyter.core.repo.streaming import stream_process
from mlvc_jupyter.errors import GitOperationError, MlvcError, NotARepositoryError

__all__ = ["Git", "RepoPaths", "discover", "git_executable", "recent_timings", "reset_timings"]

log = logging.getLogger("mlvc_jupyter.git")

# Configuration in a repository is code: these settings can make git run programs (fsmonitor,
# hooks, pagers) or start background work (auto gc, maintenance) while we snapshot. Our own calls
# pin them off; the user's own git commands are unaffected.
_HARDENING = (
    "-c", "core.fsmonitor=false",
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.pager=cat",
    "-c", "gc.auto=0",
    "-c", "maintenance.auto=false",
    "-c", "advice.detachedHead=false",
    "-c", "color.ui=false",
)  # fmt: skip

# Variables that would silently point git at another repository or index.
_INHERITED_TO_DROP = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_PREFIX",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
)

_TIMINGS: deque[tuple[str, float]] = deque(maxlen=200)
_EXECUTABLE: str | None = None


def git_executable() -> str:
    """Return the absolute path of git, resolved once per process.

    Raises:
        MlvcError: git is not installed.
    """
    global _EXECUTABLE  # resolved once per process, like GitPython's refresh()
    if _EXECUTABLE is None:
        found = shutil.which("git")
        if found is None:
            raise MlvcError(
                "git was not found on PATH.",
                hint="Install git (2.28 or newer), e.g. `apt-get install git`, then retry.",
            )
        _EXECUTABLE = os.path.realpath(found)
    return _EXECUTABLE


def recent_timings() -> list[tuple[str, float]]:
    """Return (git subcommand, seconds) of this process's most recent git calls (up to 200).

    A diagnostic for in-process callers (a kernel, a benchmark) that costs nothing when unused;
    ``mlvc status --timings`` reads the per-checkpoint log instead.
    """
    return list(_TIMINGS)


def reset_timings() -> None:
    """Forget the git call timings recorded so far in this process."""
    _TIMINGS.clear()


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _INHERITED_TO_DROP}
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("GIT_SSH_COMMAND", "ssh -oBatchMode=yes")
    env["LC_ALL"] = "C"
    return env


def _scrub(argv: Sequence[str]) -> list[str]:
    from git.util import remove_password_if_present  # deferred: only on the error path

    return list(remove_password_if_present(list(argv)))


@dataclass(frozen=True, slots=True)
class RepoPaths:
    """Where a repository's parts live."""

    toplevel: Path
    git_dir: Path
    common_dir: Path

    @property
    def runtime_dir(self) -> Path:
        """Return ``<git-common-dir>/mlvc``, where mlvc keeps its runtime files."""
        return self.common_dir / "mlvc"


class Git:
    """Run git commands in one repository with a hardened, fixed environment."""

    def __init__(self, cwd: Path, *, env: Mapping[str, str] | None = None) -> None:
        self.cwd = cwd
        self.env = _base_env()
        if env:
            self.env.update(env)

    def run(
        self,
        *args: str,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        ok_status: Iterable[int] = (0,),
        timeout: float | None = None,
    ) -> bytes:
        """Run ``git <args>`` and return its stdout.

        Raises:
            GitOperationError: git exited with a status outside ``ok_status``, or ran longer
                than ``timeout`` seconds (it is then killed with the programs it started).
        """
        proc = self.run_full(*args, stdin=stdin, env=env, ok_status=ok_status, timeout=timeout)
        return proc.stdout

    def run_full(
        self,
        *args: str,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        ok_status: Iterable[int] = (0,),
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``git <args>`` and return the completed process (stdout and stderr as bytes).

        With a ``timeout``, git runs in its own process group, so the programs it starts (a
        clean filter, say) are killed with it when the time is up.

        Raises:
            GitOperationError: git exited with a status outside ``ok_status``, or ran longer
                than ``timeout`` seconds.
        """
        argv = [git_executable(), *_HARDENING, *args]
        full_env = self.env if env is None else {**self.env, **env}
        start = time.perf_counter()
        try:
            proc = _run(argv, cwd=self.cwd, env=full_env, stdin=stdin, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise GitOperationError(
                f"`{' '.join(_scrub(['git', *args])[:3])}` did not finish within {timeout:g} s "
                "and was stopped.",
                command=_scrub(["git", *args]),
                status=None,
                stderr=(exc.stderr or b"").decode("utf-8", "replace"),
            ) from exc
        except OSError as exc:
            raise GitOperationError(
                f"Could not start git: {exc.strerror}.",
                command=_scrub(["git", *args]),
                status=None,
                stderr=str(exc),
                hint="Check that git is installed and that the folder exists.",
            ) from exc
        elapsed = time.perf_counter() - start
        _TIMINGS.append((args[0] if args else "", elapsed))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("git %s (%.1f ms)", " ".join(_scrub(args)), elapsed * 1000)
        if proc.returncode not in tuple(ok_status):
            raise _command_error(args, proc)
        return proc

    def stream(
        self,
        *args: str,
        on_stderr: Callable[[str], None],
        env: Mapping[str, str] | None = None,
        ok_status: Iterable[int] = (0,),
        timeout: float,
        stall_timeout: float,
        terminal: bool = False,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``git <args>`` handing each line of its stderr to ``on_stderr`` as it comes.

        For long work that shows progress (fetch, push, gc): git's progress lines end in ``\r``
        or ``\n``, and each counts as a sign of life. git is killed, with what it started (ssh,
        a credential helper), once it has run ``timeout`` seconds or said nothing for
        ``stall_timeout``. ``terminal``: stderr is a pseudo-terminal where there is one (POSIX),
        for commands that show progress only on a terminal (``git gc``); else a pipe.

        Raises:
            GitOperationError: git exited with a status outside ``ok_status``, or was stopped.
        """
        argv = [git_executable(), *_HARDENING, *args]
        full_env = self.env if env is None else {**self.env, **env}
        start = time.perf_counter()
        try:
            proc, stalled = stream_process(
                argv, self.cwd, full_env, on_stderr, (timeout, stall_timeout), terminal=terminal
            )
        except OSError as exc:
            raise GitOperationError(
                f"Could not start git: {exc.strerror}.", command=_scrub(["git", *args]),
                status=None, stderr=str(exc), hint="Check that git is installed.",
            ) from exc  # fmt: skip
        elapsed = time.perf_counter() - start
        _TIMINGS.append((args[0] if args else "", elapsed))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("git %s (%.1f ms)", " ".join(_scrub(args)), elapsed * 1000)
        if stalled is not None:
            raise GitOperationError(
                f"`{' '.join(_scrub(['git', *args])[:3])}` {stalled} and was stopped.",
                command=_scrub(["git", *args]),
                status=None,
                stderr=proc.stderr.decode("utf-8", "replace"),
                hint="The remote did not answer in time: check the network and the URL "
                "(`git ls-remote NAME` in a terminal), then retry.",
            )
        if proc.returncode not in tuple(ok_status):
            raise _command_error(args, proc)
        return proc


def _run(
    argv: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdin: bytes | None,
    timeout: float | None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv``; past ``timeout``, kill its whole process group and raise TimeoutExpired.

    A watchdog thread enforces the timeout: ``communicate(timeout=...)`` would make the wait
    for git's exit a polling loop with growing sleeps, which costs milliseconds on every call.
    """
    if timeout is None:
        return subprocess.run(argv, cwd=cwd, env=env, input=stdin, capture_output=True, check=False)
    pipe = subprocess.PIPE
    with subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=pipe, stdout=pipe, stderr=pipe, start_new_session=True
    ) as proc:
        fired = threading.Event()
        watchdog = threading.Timer(max(timeout, 0.001), _kill_group, (proc, fired))
        watchdog.start()
        try:
            out, err = proc.communicate(stdin)
        finally:
            watchdog.cancel()
    if fired.is_set():
        raise subprocess.TimeoutExpired(argv, timeout, output=out, stderr=err)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _kill_group(proc: subprocess.Popen[bytes], fired: threading.Event) -> None:
    """Kill a process that ran out of time, with every program it started (its group)."""
    if proc.poll() is None:
        fired.set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def _command_error(args: Sequence[str], proc: subprocess.CompletedProcess[bytes]) -> MlvcError:
    stderr = proc.stderr.decode("utf-8", "replace").strip()
    command = _scrub(["git", *args])
    if proc.returncode < 0:
        first = f"killed by signal {_signal_name(-proc.returncode)}"
    else:
        first = stderr.splitlines()[-1] if stderr else f"exit status {proc.returncode}"
    return GitOperationError(
        f"`{' '.join(command[:3])}` failed: {_scrub([first])[0]}",
        command=command,
        status=proc.returncode,
        stderr=stderr,
        hint=_hint_for(stderr, proc.returncode),
    )


def _hint_for(stderr: str, status: int) -> str | None:
    if status < 0:
        return (
            "git was stopped from outside (out of memory, or a process killed it); nothing "
            "half-written is kept. Retry; if it happens again, check memory and running jobs."
        )
    if "No space left on device" in stderr:
        return "The disk is full: free some space and retry; nothing was recorded."
    if "File too large" in stderr:
        return "A file size limit was hit while writing to the repository; nothing was recorded."
    if "index.lock" in stderr:
        return (
            "Another git process holds the repository's index lock. If no git command is "
            "running, remove .git/index.lock and retry."
        )
    if "dubious ownership" in stderr:
        return (
            "git refuses a repository owned by another user. If you trust it, run the "
            "`git config --global --add safe.directory <path>` command git printed above."
        )
    return None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def discover(path: Path) -> RepoPaths:
    """Find the repository containing ``path``.

    Raises:
        NotARepositoryError: ``path`` is not inside a git working tree.
    """
    git = Git(path)
    try:
        out = git.run(
            "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-dir",
            "--git-common-dir",
        )  # fmt: skip
    except GitOperationError as exc:
        raise NotARepositoryError(
            f"'{path}' is not inside a git working tree.",
            path=str(path),
            hint="Create one with `mlvc init` (or `%vc_init`), or open a folder of a repository.",
        ) from exc
    lines = out.decode("utf-8", "surrogateescape").splitlines()
    if len(lines) != 3:  # a bare repository or the inside of .git has no toplevel
        raise NotARepositoryError(
            f"'{path}' is not inside a git working tree (it may be a bare repository or .git).",
            path=str(path),
            hint="Open a folder of a repository's working tree instead.",
        )
    toplevel, git_dir, common_dir = (Path(line) for line in lines)
    return RepoPaths(toplevel=toplevel, git_dir=git_dir, common_dir=common_dir)
