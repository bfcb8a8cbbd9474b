"""The local metric store: one JSON line per ``log_metrics`` call, appended to a file.

Line shapes (one JSON object per line, ASCII only; ``NaN``/``Infinity`` written as Python's json
module writes and reads them)::

    {"run":"3f2a9c1e04b7","step":12,"time":1732600000.123,"metrics":{"loss":0.25}}
    {"run":"3f2a9c1e04b7","time":1732600000.123,"params":{"lr":0.1}}

``step`` is ``null`` when the caller gives none. ``log_metrics`` only formats the line and queues it
(about 1-2 µs); lines reach the file in whole-line chunks every ``BATCH_LINES`` lines, at
:meth:`LocalTracker.flush` (each checkpoint and the end of an experiment), when the tracker is
garbage collected, and at interpreter exit. A SIGKILL loses at most the queued lines; a line cut
short by a crash is skipped when the file is read.

Threads: any number of threads may log to one tracker; lines are never lost or torn, and they
reach the file in the order they were queued. The intended use is one writer (the training loop)
with flushes from anywhere (a checkpoint worker, atexit).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import Any, TypeAlias

from mlvc_jupyter.core.tracking._values import (
    bad_key,
    bad_metrics,
    format_float,
    format_step,
    jsonable_param,
    to_number,
)
from mlvc_jupyter.errors import MlvcError

__all__ = ["BATCH_LINES", "LocalTracker", "MetricsListener", "parse_records", "read_records"]

log = logging.getLogger("mlvc_jupyter.tracking")

BATCH_LINES = 512
_KEY_CACHE_LIMIT = 10_000
_now = time.time
_LIVE: weakref.WeakSet[_Sink] = weakref.WeakSet()

MetricsListener: TypeAlias = Callable[[Mapping[str, Any], int | None], None]
"""Called by ``log_metrics`` with (metrics, step) after the line is queued, in the logging
thread: it must return in a microsecond or so (queue the values; work elsewhere)."""


class _Sink:
    """The open file and the queued lines of one tracker.

    Kept apart from :class:`LocalTracker` so that the finalizer (which flushes at garbage
    collection and at exit) holds no reference to the tracker itself.
    """

    __slots__ = ("__weakref__", "fd", "lines", "lock")

    def __init__(self, path: Path) -> None:
        self.lock = threading.Lock()
        self.lines: deque[str] = deque()
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        self.fd: int | None = os.open(path, flags, 0o644)  # read: for the last byte only
        try:
            if _ends_torn(self.fd):  # a crash cut the last line: start ours on a fresh one
                self.lines.append("\n")
        except OSError:
            os.close(self.fd)
            raise

    def write_queued(self, *, fsync: bool) -> None:
        """Write the queued lines in one append, then optionally fsync.

        Raises:
            OSError: Writing failed (the unwritten rest stays queued).
        """
        with self.lock:
            if self.fd is None:
                return
            count = len(self.lines)
            if count:
                data = "".join([self.lines.popleft() for _ in range(count)]).encode("ascii")
                self._write_all(self.fd, data)
            if fsync:
                os.fsync(self.fd)

    def _write_all(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(fd, view)
            except OSError:
                self.lines.appendleft(view.tobytes().decode("ascii"))
                raise
            view = view[written:]

    def close(self) -> None:
        """Write what is queued and close the file (idempotent).

        Raises:
            OSError: The last write failed; the file is closed anyway.
        """
        try:
            self.write_queued(fsync=False)
        finally:
            with self.lock:
                if self.fd is not None:
                    os.close(self.fd)
                    self.fd = None


def _ends_torn(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def _after_fork_in_child() -> None:
    """Forget the parent's queued lines in a forked child, so they are not written twice."""
    for sink in list(_LIVE):
        sink.lines.clear()
        sink.lock = threading.Lock()  # another thread may have held it at the fork


if hasattr(os, "register_at_fork"):  # POSIX only
    os.register_at_fork(after_in_child=_after_fork_in_child)


class LocalTracker:
    """Append metrics and parameters of one experiment run to a JSON-lines file.

    Args:
        path: The file (created, with its parent folders, if missing; appended to if present).
        experiment_id: The experiment the metrics belong to.
        run_id: Names this run in every line; a random 12-hex-digit id when omitted.

    Raises:
        MlvcError: The file cannot be opened.
    """

    __slots__ = (
        "__weakref__", "_append", "_closed", "_earlier", "_experiment_id", "_finalizer",
        "_keys", "_last", "_lines", "_listeners",
        "_path", "_prefix", "_run_id", "_sink", "_start_size",
    )  # fmt: skip

    backend = "local"

    def __init__(self, path: Path, *, experiment_id: str, run_id: str | None = None) -> None:
        self._path = Path(path)
        self._experiment_id = experiment_id
        self._run_id = run_id if run_id is not None else os.urandom(6).hex()
        self._sink = _open_sink(self._path)
        self._start_size = os.fstat(self._sink.fd).st_size if self._sink.fd is not None else 0
        self._lines = self._sink.lines
        self._append = self._sink.lines.append
        self._prefix = '{"run":' + encode_basestring_ascii(self._run_id) + ","
        self._keys: dict[str, str] = {}
        self._last: dict[str, Any] = {}
        self._earlier: dict[str, float] | None = None
        self._closed = False
        self._listeners: tuple[MetricsListener, ...] = ()
        self._finalizer = weakref.finalize(self, _Sink.close, self._sink)
        _LIVE.add(self._sink)

    @property
    def experiment_id(self) -> str:
        """The experiment these metrics belong to."""
        return self._experiment_id

    @property
    def run_id(self) -> str:
        """The id written into every line of this run."""
        return self._run_id

    @property
    def path(self) -> Path:
        """The JSON-lines file."""
        return self._path

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Queue one line with ``metrics`` (names to real numbers) at ``step``.

        Ints, floats and anything ``float()`` accepts except text (numpy scalars, 0-d tensors)
        are numbers; NaN and infinities are kept.

        Raises:
            MlvcError: A name is not a non-empty string, a value is not a real number, ``step``
                is not an int, or the tracker is closed.
        """
        if self._closed:
            raise self._closed_error()
        keys, parts, converted = self._keys, [], None
        try:
            items = metrics.items()
        except AttributeError:
            raise bad_metrics(metrics) from None
        for key, value in items:
            encoded = keys.get(key) or self._encode_key(key)
            kind = type(value)
            if kind is float and value - value == 0.0:  # finite: NaN - NaN and inf - inf are NaN
                parts.append(encoded + float.__repr__(value))
            elif kind is int:
                parts.append(encoded + int.__repr__(value))
            else:
                number = to_number(key, value)
                parts.append(encoded + format_float(number))
                converted = converted or {}
                converted[key] = number
        step_text = (
            "null" if step is None else (str(step) if type(step) is int else format_step(step))
        )
        self._append(
            f'{self._prefix}"step":{step_text},"time":{_now()!r},'
            f'"metrics":{{{",".join(parts)}}}}}\n'
        )
        self._last.update(metrics)
        if converted:
            self._last.update(converted)
        for listener in self._listeners:
            listener(metrics, step)
        if len(self._lines) >= BATCH_LINES:
            self._write(fsync=False)

    def add_listener(self, listener: MetricsListener) -> None:
        """Call ``listener(metrics, step)`` at each later ``log_metrics`` (a live panel's hook).

        Core stays free of any display: a face registers what it needs. A listener's error
        reaches the ``log_metrics`` caller, so a listener must not raise.
        """
        self._listeners = (*self._listeners, listener)

    def remove_listener(self, listener: MetricsListener) -> None:
        """Stop calling ``listener`` (no error if it was not registered)."""
        self._listeners = tuple(item for item in self._listeners if item is not listener)

    def log_params(self, params: Mapping[str, object]) -> None:
        """Queue one line with ``params`` (names to JSON-ready values).

        Values json cannot write are converted: numpy scalars and arrays through ``.item()`` /
        ``.tolist()``, sets to sorted lists, anything else to ``str()``.

        Raises:
            MlvcError: A name is not a string, ``params`` is not a mapping, or the tracker is
                closed.
        """
        if self._closed:
            raise self._closed_error()
        if not isinstance(params, Mapping):
            raise bad_metrics(params, what="params")
        for key in params:
            if not isinstance(key, str):
                raise bad_key(key, what="Parameter")
        try:
            body = json.dumps(dict(params), default=jsonable_param, separators=(",", ":"))
        except ValueError as exc:  # a circular reference
            raise MlvcError(
                f"The params cannot be written as JSON: {exc}.", hint="Log plain values."
            ) from exc
        self._append(f'{self._prefix}"time":{_now()!r},"params":{body}}}\n')

    def flush(self, *, fsync: bool = True) -> None:
        """Write the queued lines to the file; with ``fsync``, also to the disk.

        Raises:
            MlvcError: The write failed (the disk is full, say); the lines stay queued.
        """
        if not self._closed:
            self._write(fsync=fsync)

    def history(self) -> list[dict[str, Any]]:
        """Return every record in the file (earlier runs included), oldest first.

        Raises:
            MlvcError: The queued lines cannot be written or the file cannot be read.
        """
        self.flush(fsync=False)
        return read_records(self._path)

    def final_metrics(self) -> dict[str, float]:
        """Return the last value logged for each metric, in the file as a whole.

        A reopened tracker includes the values of earlier runs in the same file, overridden by
        its own.

        Raises:
            MlvcError: The file's earlier part cannot be read.
        """
        if self._earlier is None:
            self._earlier = _last_values(read_records(self._path, limit=self._start_size))
        own = dict(self._last)  # a copy: the training thread may be adding keys
        return {**self._earlier, **{key: float(value) for key, value in own.items()}}

    def close(self) -> None:
        """Write what is queued and close the file; later logging raises (idempotent).

        Raises:
            MlvcError: The last write failed; the tracker stays open, so ``close()`` can be
                retried.
        """
        self.flush(fsync=False)
        self._closed = True
        try:
            self._finalizer()  # writes lines other threads queued meanwhile, closes the file
        except OSError as exc:
            raise _write_error(self._path, exc) from exc

    def __enter__(self) -> LocalTracker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"LocalTracker({str(self._path)!r}, experiment_id={self._experiment_id!r}, "
            f"run_id={self._run_id!r})"
        )

    def _write(self, *, fsync: bool) -> None:
        try:
            self._sink.write_queued(fsync=fsync)
        except OSError as exc:
            raise _write_error(self._path, exc) from exc

    def _encode_key(self, key: object) -> str:
        if not isinstance(key, str) or not key:
            raise bad_key(key, what="Metric")
        encoded = encode_basestring_ascii(key) + ":"
        if len(self._keys) < _KEY_CACHE_LIMIT:
            self._keys[key] = encoded
        return encoded

    def _closed_error(self) -> MlvcError:
        return MlvcError(
            f"The metric tracker of experiment '{self._experiment_id}' is closed.",
            hint="Log before the experiment ends, or start a new experiment to log more.",
        )


def read_records(path: Path, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Read the records of a metric file (the first ``limit`` bytes only, if given).

    A line cut short by a crash is skipped (and logged at WARNING); a missing file has no records.

    Raises:
        MlvcError: The file exists but cannot be read.
    """
    try:
        with path.open("rb") as stream:
            data = stream.read() if limit is None else stream.read(limit)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise MlvcError(
            f"Cannot read the metric file {path}: {exc.strerror}.",
            hint="Check the file's permissions.",
        ) from exc
    return parse_records(data, source=str(path))


def parse_records(data: bytes, *, source: str) -> list[dict[str, Any]]:
    """Parse a metric file's bytes (a checkpoint's copy, say) into its records, oldest first.

    A damaged line is skipped and logged at WARNING, naming ``source``.
    """
    records = []
    for number, line in enumerate(data.splitlines(), start=1):
        try:
            record = json.loads(line) if line.strip() else None
        except ValueError:  # json.JSONDecodeError and invalid UTF-8 both subclass it
            log.warning("Skipping a damaged line %d of %s.", number, source)
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _open_sink(path: Path) -> _Sink:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return _Sink(path)
    except OSError as exc:
        raise MlvcError(
            f"Cannot open the metric file {path}: {exc.strerror}.",
            hint="Check that the folder is writable.",
        ) from exc


def _last_values(records: list[dict[str, Any]]) -> dict[str, float]:
    last: dict[str, float] = {}
    for record in records:
        metrics = record.get("metrics")
        if isinstance(metrics, dict):
            last.update({k: float(v) for k, v in metrics.items() if isinstance(v, int | float)})
    return last


def _write_error(path: Path, exc: OSError) -> MlvcError:
    return MlvcError(
        f"Cannot write the metric file {path}: {exc.strerror}.",
        hint="Free some disk space (or fix the permissions) and call flush() again; "
        "the metrics are still queued.",
    )
