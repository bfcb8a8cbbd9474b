"""How a push, a pull and ``share`` read: the same blocks in ``mlvc`` (text) and a notebook (HTML).

A report leads with one line of counts, then a table of every experiment and tag that changed or
needs the user (up-to-date ones are counted, not listed), then what to do about diverged or
rejected experiments. No IPython import: the command line uses these too.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from mlvc_jupyter.display import _View
from mlvc_jupyter.render import Block, Row, Table

if TYPE_CHECKING:
    from mlvc_jupyter.core.records import ShareConfig, TransferReport

__all__ = ["ShareView", "TransferView", "share_blocks", "transfer_blocks"]

_QUIET = ("up to date",)


def transfer_blocks(report: TransferReport) -> list[Block]:
    """Return the headline, the table of items that changed or need the user, and the advice."""
    direction = "to" if report.verb == "push" else "from"
    experiments = Counter(i.outcome for i in report.items if i.kind == "experiment")
    tags = Counter(i.outcome for i in report.items if i.kind == "tag")
    headline = f"{report.verb.capitalize()} {direction} {report.remote} ({report.url}): " + (
        _counts(experiments, "experiment") + (f"; tags: {_counts(tags, 'tag')}" if tags else "")
    )
    rows: list[Row] = [
        (i.kind, i.name, i.outcome, (i.new or "")[:8], i.note)
        for i in report.items
        if i.outcome not in _QUIET
    ]
    blocks: list[Block] = [headline, Table(None, ("KIND", "NAME", "OUTCOME", "AT", "NOTE"), rows)]
    return blocks + _advice(report)


def _counts(counter: Counter[str], noun: str) -> str:
    if not counter:
        return f"no {noun}s"
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(counter.items()))


def _advice(report: TransferReport) -> list[Block]:
    remote = report.remote
    diverged = [i.name for i in report.of("diverged")]
    rejected = [i.name for i in report.of("rejected")]
    advice: list[Block] = []
    if diverged:
        first = diverged[0]
        advice.append(
            f"Diverged ({', '.join(diverged)}): both clones recorded checkpoints. Yours are "
            f"kept; the remote's read as {remote}/<id>: `mlvc diff {first} {remote}/{first}`, "
            f"`mlvc show {remote}/{first}`, `mlvc log --all`."
        )
    if rejected:
        advice.append(
            f"Rejected ({', '.join(rejected)}): the remote has checkpoints this clone lacks. "
            f"Run `mlvc pull {remote}` (or `%vc_pull {remote}`) first; nothing was overwritten."
        )
    if report.of("conflict", "tag"):
        advice.append("Tag conflicts: a tag of that name points elsewhere here; yours is kept.")
    return advice


def share_blocks(config: ShareConfig) -> list[Block]:
    """Return what ``share`` did and the remote's fetch and push lines now."""
    state = "now carry" if config.enabled else "no longer carry"
    changed = "" if config.changed else " (it already was so: nothing changed)"
    rows: list[Row] = [("fetch", line) for line in config.fetch]
    rows += [("push", line) for line in config.push]
    return [
        f"Plain `git fetch {config.remote}` and `git push {config.remote}` {state} experiments"
        f"{changed}.",
        Table(f"remote.{config.remote}", ("KEY", "REFSPEC"), rows, empty="(no refspecs)"),
    ]


class TransferView(_View):
    """A push or pull report (a core ``TransferReport``)."""

    __slots__ = ()

    def blocks(self) -> list[Block]:
        """Return the report's blocks."""
        return transfer_blocks(self.record)


class ShareView(_View):
    """What ``share --enable``/``--disable`` did (a core ``ShareConfig``)."""

    __slots__ = ()

    def blocks(self) -> list[Block]:
        """Return the outcome and the remote's refspecs."""
        return share_blocks(self.record)
