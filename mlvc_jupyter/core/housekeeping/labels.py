"""Which tags and branches point at experiments, and which of them mlvc itself made.

gc keeps an experiment that a tag or branch names (unless told otherwise) and, with
``--branches``/``--tags``, deletes the labels mlvc made. A label is mlvc's own only when that
can be told for certain from git alone, never from a name pattern:

* a tag whose annotated message carries mlvc's marker line (``mlvc-experiment: <id>``);
* branch ``mlvc/<id>`` whose tip is a checkpoint of experiment ``<id>`` (its commit message
  carries that experiment's summary), so no commit of the user's sits on top of it;
* a branch whose tip is a promotion commit (``mlvc-promoted: <id>``, from ``branch --clean``).

One ``for-each-ref`` over tags and branches reads them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlvc_jupyter.core.recording.summary import TAG_MARKER, parse_summary
from mlvc_jupyter.core.repo.refs import BRANCH_PREFIX, HEADS, TAGS
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.core.sharing.tags_and_branches import PROMOTED_MARKER

__all__ = ["Label", "labels_by_experiment"]

_FORMAT = "%(refname)%00%(objectname)%00%(*objectname)%00%(contents)%00"


@dataclass(frozen=True, slots=True)
class Label:
    """A tag or branch naming an experiment: ``kind`` is ``tag`` or ``branch``."""

    kind: str
    name: str
    oid: str
    own: bool


def labels_by_experiment(repo: Repository, tips: dict[str, str]) -> dict[str, list[Label]]:
    """Return the labels of each experiment id (experiments gone included, for mlvc's own).

    ``tips`` maps each existing experiment's last checkpoint to its id: a label pointing
    there names that experiment even when the user made it.
    """
    out = repo.git.run("for-each-ref", f"--format={_FORMAT}", TAGS, HEADS)
    checked_out = repo.checked_out_branches()
    fields = out.decode("utf-8", "replace").split("\0")
    found: dict[str, list[Label]] = {}
    for refname, oid, peeled, contents in zip(
        fields[0:-1:4], fields[1::4], fields[2::4], fields[3::4], strict=False
    ):
        ref = refname.lstrip("\n")
        owner, own = _owner(ref, contents)
        if ref in checked_out:
            own = False
        target = peeled or oid
        owner = owner or tips.get(target)
        if owner is not None:
            kind = "tag" if ref.startswith(TAGS) else "branch"
            name = ref.removeprefix(TAGS if kind == "tag" else HEADS)
            found.setdefault(owner, []).append(Label(kind, name, oid, own))
    return found


def _owner(ref: str, contents: str) -> tuple[str | None, bool]:
    """Return (experiment id, True) when mlvc made this label for that experiment."""
    if ref.startswith(TAGS):
        return _marked(contents, TAG_MARKER), _marked(contents, TAG_MARKER) is not None
    promoted = _marked(contents, PROMOTED_MARKER)
    if promoted is not None:
        return promoted, True
    name = ref.removeprefix(HEADS)
    if name.startswith(BRANCH_PREFIX):
        summary = parse_summary(contents)
        if summary is not None and summary.get("id") == name.removeprefix(BRANCH_PREFIX):
            return summary["id"], True
    return None, False


def _marked(contents: str, marker: str) -> str | None:
    at = contents.rfind(marker)
    if at < 0:
        return None
    return contents[at + len(marker) :].split("\n", 1)[0].strip() or None
