"""Paged, sorted, filtered experiment listings from one ``git for-each-ref``, kept in memory.

Every face that lists experiments (``mlvc log``, ``%vc_log``, the history panel, the REST API)
calls :func:`query`. The summaries of all experiments are read with one ``for-each-ref`` over
``refs/mlvc/experiments/`` and ``refs/tags/`` (commit and tag messages only, no blob), parsed
once, and kept for the :class:`~mlvc_jupyter.core.repo.repository.Repository` object that read
them, together with the refs' state captured just before the read
(:mod:`~mlvc_jupyter.core.reading.freshness`). A later query whose refs are unchanged runs no
git at all: a few ``stat`` calls decide, and sorting, filtering and paging happen in memory.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import re
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, TypeGuard

from mlvc_jupyter.core.configs.values import flatten
from mlvc_jupyter.core.reading.freshness import RefsState, capture
from mlvc_jupyter.core.reading.options import (
    DEFAULT_LIMIT,
    DEFAULT_SORT,
    MAX_LIMIT,
    SORT_FIELDS,
    STATUSES,
)
from mlvc_jupyter.core.recording.summary import (
    LISTING_FORMAT,
    ListingEntry,
    parse_listing_entries,
    summary_of,
)
from mlvc_jupyter.core.recording.writer import RECORD_PATH
from mlvc_jupyter.core.records import ExperimentPage, ExperimentSummary, Progress, report
from mlvc_jupyter.core.repo.refs import EXPERIMENTS, REMOTES
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.errors import MlvcError

__all__ = [
    "all_summaries",
    "query",
    "read_params",
]


def query(
    repo: Repository,
    *,
    search: str | None = None,
    status: str | None = None,
    tag: str | None = None,
    sort: str = DEFAULT_SORT,
    offset: int = 0,
    limit: int | None = DEFAULT_LIMIT,
    remotes: bool = False,
    on_progress: Progress | None = None,
) -> ExperimentPage:
    """Return one page of the experiments that match, in the order ``sort`` asks for.

    ``remotes`` lists the remote-tracking experiments pull fetched too, as ``<remote>/<id>``.

    ``search`` matches id, name, message and tags, ignoring case; ``status`` and ``tag`` must
    match exactly. ``sort`` is a summary field or ``metrics.<name>``, descending with a leading
    ``-``; experiments without the value come last either way. ``limit=None`` returns every match.
    ``on_progress(done, total)`` hears of the experiments read: ``(0, n)`` once the refs are
    read, then as records are made, ``(n, n)`` at the end.

    Raises:
        MlvcError: an unknown sort key or status, a negative offset, a limit outside 1..1000.
    """
    key, descending = _parse_sort(sort)
    _check_page(offset, limit)
    _check_filters(search, status, tag)
    listing = _listing(repo, remotes=remotes)
    report(on_progress, 0, len(listing))
    end = None if limit is None else offset + limit
    if not (search or status or tag) and (key, descending) == ("created", True):
        total, items = len(listing), listing.newest(offset, end)  # makes only this page
    else:
        listing.make_all(on_progress)
        ordered = listing.ordered(key, descending)
        if search or status or tag:
            ordered = listing.matching(ordered, search, status, tag)
        total, items = len(ordered), list(ordered[offset:end])
    report(on_progress, len(listing), len(listing))
    return ExperimentPage(
        total=total,
        items=items,
        offset=offset,
        limit=limit,
        read_params=partial(read_params, repo),
    )


def all_summaries(repo: Repository) -> list[ExperimentSummary]:
    """Return every experiment's summary, newest first (from memory when refs are unchanged)."""
    return list(_listing(repo).summaries)


def read_params(repo: Repository, commits: Sequence[str]) -> list[dict[str, Any]]:
    """Return the configs recorded at each checkpoint commit as flat dotted keys (one process)."""
    blobs = repo.read_blobs([f"{commit}:{RECORD_PATH}" for commit in commits])
    return [flatten(_configs(blob)) for blob in blobs]


def _configs(blob: bytes | None) -> Any:
    try:
        record = json.loads(blob) if blob else {}
    except ValueError:  # a damaged record: its configs are unknown, the listing goes on
        return {}
    return (record.get("configs") or {}) if isinstance(record, dict) else {}


# -- the listing kept in memory ----------------------------------------------------------------


class _Listing:
    """Every experiment of one refs state, newest first.

    Records, orders and search text are made when first asked for: the first page of the
    default order makes only its own records (a tenth of the parse time at 10,000).
    """

    def __init__(self, state: RefsState, entries: list[ListingEntry]) -> None:
        self.state = state
        self._entries = entries
        self._made: list[ExperimentSummary | None] = [None] * len(entries)
        self._all: tuple[ExperimentSummary, ...] | None = None
        self._orders: dict[tuple[str, bool], tuple[ExperimentSummary, ...]] = {}
        self._text: dict[str, str] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def newest(self, start: int, end: int | None) -> list[ExperimentSummary]:
        """Return records ``start:end`` of the newest-first order, making only those."""
        return [self._summary(i) for i in range(len(self._entries))[start:end]]

    def _summary(self, index: int) -> ExperimentSummary:
        made = self._made[index]
        if made is None:
            made = self._made[index] = summary_of(self._entries[index])
        return made

    def make_all(self, on_progress: Progress | None = None) -> tuple[ExperimentSummary, ...]:
        """Make every record (once), reporting ``(done, total)`` every :data:`_CHUNK`."""
        if self._all is not None:
            return self._all
        total, made = len(self._entries), list[ExperimentSummary]()
        with _gc_paused():
            for start in range(0, total, _CHUNK):
                made.extend(self._summary(i) for i in range(start, min(start + _CHUNK, total)))
                if start + _CHUNK < total:
                    report(on_progress, start + _CHUNK, total)
        self._all = tuple(made)
        return self._all

    @property
    def summaries(self) -> tuple[ExperimentSummary, ...]:
        """Return every record, newest first."""
        return self.make_all()

    def ordered(self, key: str, descending: bool) -> tuple[ExperimentSummary, ...]:
        if (key, descending) == ("created", True):
            return self.summaries  # the order it was built in
        order = self._orders.get((key, descending))
        if order is None:
            order = self._orders[(key, descending)] = _sort(self.summaries, key, descending)
        return order

    def matching(
        self,
        summaries: Sequence[ExperimentSummary],
        search: str | None,
        status: str | None,
        tag: str | None,
    ) -> tuple[ExperimentSummary, ...]:
        needle = search.casefold() if search else None
        text = self._search_text() if needle else {}
        return tuple(
            s
            for s in summaries
            if (status is None or s.status == status)
            and (tag is None or tag in s.tags)
            and (needle is None or needle in text[s.id])
        )

    def _search_text(self) -> dict[str, str]:
        if self._text is None:
            self._text = {
                s.id: "\0".join((s.id, s.name, s.message, *s.tags)).casefold()
                for s in self.summaries
            }
        return self._text


_CHUNK = 1000
"""Records made between two progress reports."""

_Cache = weakref.WeakKeyDictionary[Repository, _Listing]
_LISTINGS: _Cache = weakref.WeakKeyDictionary()
_WITH_REMOTES: _Cache = weakref.WeakKeyDictionary()
"""Listings that include the remote-tracking experiments (``mlvc log --all``)."""
_LISTINGS_LOCK = threading.Lock()


def _listing(repo: Repository, *, remotes: bool = False) -> _Listing:
    """Return the repository's listing, read again only when its refs changed."""
    cache = _WITH_REMOTES if remotes else _LISTINGS
    with _LISTINGS_LOCK:
        listing = cache.get(repo)
    if listing is not None and listing.state.is_current():
        return listing
    # Captured before reading: a write meanwhile shows next time.
    state = capture(repo.paths.common_dir, remotes=remotes)
    folders = (EXPERIMENTS + "/", REMOTES + "/") if remotes else (EXPERIMENTS + "/",)
    out = repo.git.run("for-each-ref", f"--format={LISTING_FORMAT}", *folders, "refs/tags/")
    listing = _Listing(state, _parse(out, remotes=remotes))
    with _LISTINGS_LOCK:
        cache[repo] = listing
    return listing


def _parse(out: bytes, *, remotes: bool = False) -> list[ListingEntry]:
    """Parse a listing into entries ordered newest first (records are made later)."""
    with _gc_paused():
        entries = parse_listing_entries(out, EXPERIMENTS + "/")
        if remotes:
            entries += _remote_entries(out)
        entries.sort(key=_created_and_id, reverse=True)
    return entries


_REMOTE_NAME = re.compile(rb"(?:^|\n)" + re.escape(REMOTES.encode()) + rb"/([^/\0]+)/experiments/")


def _remote_entries(out: bytes) -> list[ListingEntry]:
    """Return the remote-tracking experiments of a listing, named ``<remote>/<id>``."""
    entries = []
    for remote in sorted({m.decode("utf-8", "replace") for m in _REMOTE_NAME.findall(out)}):
        prefix = f"{REMOTES}/{remote}/experiments/"
        for commit, summary, tags in parse_listing_entries(out, prefix):
            entries.append((commit, {**summary, "id": f"{remote}/{summary['id']}"}, tags))
    return entries


def _created_and_id(entry: ListingEntry) -> tuple[Any, Any]:
    return entry[1].get("created", ""), entry[1]["id"]


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a listing is parsed.

    Parsing allocates tens of thousands of dicts and records that all stay alive; each
    collection those allocations trigger walks all of them again (almost half the parse time
    at 10,000 experiments), and none can find garbage here.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


# -- sorting -----------------------------------------------------------------------------------


def _sort(
    summaries: Sequence[ExperimentSummary], key: str, descending: bool
) -> tuple[ExperimentSummary, ...]:
    """Sort by ``key`` (stable, so ties stay newest first); values that are missing go last."""
    value_of = _value_getter(key)
    present: list[tuple[tuple[int, Any], ExperimentSummary]] = []
    missing: list[tuple[None, ExperimentSummary]] = []
    for summary in summaries:
        value = _rank(value_of(summary))
        if value is None:
            missing.append((value, summary))
        else:
            present.append((value, summary))
    present.sort(key=lambda pair: pair[0], reverse=descending)
    return tuple(summary for _, summary in present + missing)


def _value_getter(key: str) -> Callable[[ExperimentSummary], Any]:
    if key.startswith("metrics."):
        name = key[len("metrics.") :]
        return lambda s: s.metrics.get(name)
    return lambda s: getattr(s, key)


_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _rank(value: Any) -> tuple[int, Any] | None:
    """Return a key that orders mixed values: numbers, then text, then anything else.

    None and NaN are missing (None is returned). Non-finite numbers, which summaries spell
    as text to keep their JSON standard (``jsonable_number``), count as numbers.
    """
    value = _NON_FINITE.get(value, value) if isinstance(value, str) else value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, json.dumps(value, sort_keys=True, default=str))


# -- checking the inputs -----------------------------------------------------------------------


def _parse_sort(sort: object) -> tuple[str, bool]:
    """Return (key, descending) of a sort spec such as ``-metrics.loss`` or ``name``."""
    text = sort if isinstance(sort, str) else ""
    descending = text.startswith("-")
    key = text[1:] if descending else text
    valid = key in SORT_FIELDS or (key.startswith("metrics.") and len(key) > len("metrics."))
    if not valid:
        raise MlvcError(
            f"Cannot sort by {sort!r}: it is neither a summary field nor metrics.<name>.",
            hint=f"Use one of {', '.join(SORT_FIELDS)} or metrics.<name> (e.g. "
            "'-metrics.accuracy'); a leading '-' sorts descending.",
        )
    return key, descending


def _check_page(offset: object, limit: object) -> None:
    if not _is_int(offset) or offset < 0:
        raise MlvcError(
            f"Invalid offset {offset!r}: it must be a whole number, 0 or more.",
            hint="Pass offset=0 for the first page, then add the limit for each next page.",
        )
    if limit is not None and (not _is_int(limit) or not 1 <= limit <= MAX_LIMIT):
        raise MlvcError(
            f"Invalid limit {limit!r}: a page holds 1 to {MAX_LIMIT} experiments.",
            hint=f"Pass a limit from 1 to {MAX_LIMIT} and page with offset (Python: "
            "limit=None returns every match).",
        )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_filters(search: object, status: object, tag: object) -> None:
    if status is not None and status not in STATUSES:
        raise MlvcError(
            f"Unknown status {status!r}.",
            hint=f"Filter on one of: {', '.join(STATUSES)}.",
        )
    for name, value in (("search", search), ("tag", tag)):
        if value is not None and not isinstance(value, str):
            raise MlvcError(
                f"Invalid {name} {value!r}: expected text.",
                hint=f"Pass {name} as a string, or None for no filter.",
            )
