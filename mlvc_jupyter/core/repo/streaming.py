"""Run a process whose stderr is read line by line as it comes, under a watchdog.

For git's long work (fetch, push, gc): each line is progress and a sign of life. The process and
what it started (ssh, a credential helper) are killed, as a group, past a total timeout or a
silence of the stall timeout. :meth:`mlvc_jupyter.core.repo.runner.Git.stream` is the one caller.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["stream_process"]


def stream_process(
    argv: list[str],
    cwd: Path,
    env: Mapping[str, str],
    on_stderr: Callable[[str], None],
    limits: tuple[float, float],
    *,
    terminal: bool,
) -> tuple[subprocess.CompletedProcess[bytes], str | None]:
    """Run ``argv`` reading stderr line by line; return it and why it was stopped (or None).

    ``limits`` are the total and the stall timeouts, in seconds.
    """
    err_read, err_write = _terminal_or_pipe() if terminal else os.pipe()
    try:
        with subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=err_write, start_new_session=True,
        ) as proc:  # fmt: skip
            os.close(err_write)
            err_write = -1
            out_pipe = proc.stdout
            assert out_pipe is not None  # a pipe
            started = last = time.monotonic()
            stdout: list[bytes] = []
            stderr = bytearray()

            def read_stdout() -> None:
                stdout.append(out_pipe.read())

            def read_stderr() -> None:
                nonlocal last
                pending = b""
                while chunk := _read_chunk(err_read):
                    last = time.monotonic()
                    stderr.extend(chunk)
                    *lines, pending = re.split(rb"[\r\n]", pending + chunk)
                    for line in lines:
                        if line.strip():
                            on_stderr(line.decode("utf-8", "replace"))
                if pending.strip():
                    on_stderr(pending.decode("utf-8", "replace"))

            readers = [threading.Thread(target=f, daemon=True) for f in (read_stdout, read_stderr)]
            for reader in readers:
                reader.start()
            stopped = _watch(proc, started, lambda: last, *limits)
            for reader in readers:
                reader.join()
            proc.wait()
    finally:
        os.close(err_read)
        if err_write != -1:
            os.close(err_write)
    done = subprocess.CompletedProcess(argv, proc.returncode, b"".join(stdout), bytes(stderr))
    return done, stopped


def _terminal_or_pipe() -> tuple[int, int]:
    """Return (read end, write end) of a pseudo-terminal, or of a pipe where there is none."""
    try:
        import pty

        return pty.openpty()
    except (ImportError, OSError):
        return os.pipe()


def _read_chunk(fd: int) -> bytes:
    """Read what ``fd`` has; b"" at its end (a pseudo-terminal says EIO once its writer left)."""
    try:
        return os.read(fd, 8192)
    except OSError:
        return b""


def _watch(
    proc: subprocess.Popen[bytes],
    started: float,
    last: Callable[[], float],
    timeout: float,
    stall_timeout: float,
) -> str | None:
    """Wait for ``proc``; kill its group past ``timeout`` or a silence of ``stall_timeout``."""
    while True:
        try:
            proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            now = time.monotonic()
            reason = None
            if now - started > timeout:
                reason = f"did not finish within {timeout:g} s"
            elif now - last() > stall_timeout:
                reason = f"made no progress for {stall_timeout:g} s"
            if reason is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                return reason
        else:
            return None
