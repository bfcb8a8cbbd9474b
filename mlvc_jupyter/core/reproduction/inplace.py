"""Restore an experiment's checkpoint into the working tree (``reproduce --inplace``), and undo it.

Like ``dvc exp apply``, but nothing is lost. Before any file is written, a safety ref
(``refs/mlvc/safety/<time>``) records the whole working tree, uncommitted and untracked work
included (ignored files are not), plus the exact bytes and permissions of every path the restore
will touch (under ``.mlvc/undo/`` in its tree, listed in ``.mlvc/undo.json``). Then:

* every file of the checkpoint (its ``.mlvc/`` record aside) is written where it differs, through
  git's own ``checkout-index`` from a private index, so smudge filters run and git's path checks
  apply; the user's index, HEAD and branches are never written;
* files the user's index tracks that the checkpoint does not hold are removed (the working tree
  then matches the checkpoint's tracked set); untracked files are left where they are, and
  large files the checkpoint left out of git are listed, not removed.

``undo`` puts back the last restore's paths byte for byte, removes the files it created and the
folders it made, and refuses when a touched path changed since (``force`` first records those
changes in another safety ref). The journal of restores lives under the runtime folder.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from mlvc_jupyter.core.reading.listing import get
from mlvc_jupyter.core.recording.workfiles import WorkingFiles, display_path, unique_suffix
from mlvc_jupyter.core.recording.writer import ExperimentWriter
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.core.reproduction import journal
from mlvc_jupyter.core.reproduction.file_states import (
    FileState,
    check_path,
    fingerprint,
    fingerprint_of,
    read_state,
    remove_file,
    remove_new_dirs,
    write_state,
)
from mlvc_jupyter.core.reproduction.worktree import checkpoint_commit
from mlvc_jupyter.errors import DirtyWorkingTreeError, MlvcError

__all__ = ["InplaceRestore", "UndoResult", "refuse_combined", "restore_inplace", "undo_last"]

_RECORD_FOLDER = ".mlvc/"
_SUBMODULE = "160000"


@dataclass(frozen=True, slots=True)
class InplaceRestore:
    """What ``reproduce --inplace`` changed, and the safety ref that undoes it."""

    experiment_id: str
    commit: str
    seq: int
    safety_ref: str
    written: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    not_restored: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-ready data."""
        return asdict(self)

    def describe(self) -> str:
        """Return what changed and how to undo it, as the CLI and the magic print it."""
        lines = [
            f"Restored {self.experiment_id} (checkpoint {self.seq}, {self.commit[:10]}) into "
            f"the working tree: {len(self.written)} file(s) written ({len(self.created)} new), "
            f"{len(self.removed)} removed. HEAD, branches and your index did not move.",
            f"Your previous files are saved in {self.safety_ref}.",
            "Undo with `mlvc undo` (in a notebook: `%vc_undo`).",
        ]
        if self.not_restored:
            shown = ", ".join(self.not_restored)
            lines.append(f"Large files left out of git, not restored: {shown}.")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class UndoResult:
    """What ``undo`` put back: the restore it undid, the files written and removed."""

    experiment_id: str
    safety_ref: str
    restored: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    forced_safety_ref: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-ready data."""
        return asdict(self)

    def describe(self) -> str:
        """Return what undo put back, as the CLI and the magic print it."""
        lines = [
            f"Undid the in-place restore of {self.experiment_id}: {len(self.restored)} file(s) "
            f"written back, {len(self.removed)} it had created removed.",
        ]
        if self.forced_safety_ref:
            lines.append(f"Your edits since the restore are saved in {self.forced_safety_ref}.")
        return "\n".join(lines)


# -- restore -------------------------------------------------------------------------------------

# Options of reproduce that place or run a reproduction elsewhere: none applies in place.
_ELSEWHERE = ("dir", "run", "cell", "load")


def refuse_combined(options: object) -> None:
    """Refuse ``--inplace`` with an option only a separate worktree takes (the faces' parsed
    options: an attribute per option)."""
    given = ", ".join(f"--{name}" for name in _ELSEWHERE if getattr(options, name, None))
    if given:
        raise MlvcError(
            f"--inplace cannot be combined with {given}.",
            hint="Restore in place alone, or reproduce into a separate worktree (no --inplace).",
        )


def restore_inplace(
    repo: Repository,
    writer: ExperimentWriter,
    experiment_id: str,
    *,
    checkpoint: int | None = None,
) -> InplaceRestore:
    """Write the experiment's checkpoint ``checkpoint`` (default: the last) into the working
    tree, after a safety ref.

    Raises:
        ExperimentNotFoundError: no such experiment.
        MlvcError: no such checkpoint; or a path of the checkpoint is hostile, or would replace
            a folder or go through a symbolic link (nothing is written then).
    """
    commit = checkpoint_commit(repo, experiment_id, checkpoint)
    seq = checkpoint or get(repo, experiment_id).checkpoints
    wanted = _checkpoint_files(repo, commit)
    large = {str(f.get("path")) for f in writer.read_record(commit).get("large_files", [])}
    removals = [p for p in _tracked(repo) if p not in wanted and p not in large]
    before, contents = _touched(repo, wanted, removals)
    created = [p for p, state in before.items() if state is None]
    entry = {
        "root": str(repo.root), "experiment": experiment_id, "commit": commit, "seq": seq,
        "time": _now(), "head": repo.ref_exists("HEAD"),
        "before": {p: None if s is None else s.to_dict() for p, s in before.items()},
        "new_dirs": _missing_dirs(repo, created), "after": None, "undone": None,
    }  # fmt: skip
    safety = _save_point(writer, f"before restoring {experiment_id} in place", before, contents)
    entry["safety_ref"] = safety
    position = journal.append(repo, entry)  # written before any file: an interruption is undoable
    written = sorted(p for p in before if p in wanted)
    _checkout(repo, commit, written)
    removed = [p for p in sorted(before) if p not in wanted and remove_file(repo.root, p)]
    oid_length = len(repo.null_oid)
    entry["after"] = {p: fingerprint(repo.root, p, oid_length) for p in before}
    journal.replace(repo, position, entry)
    return InplaceRestore(
        experiment_id, commit, seq, safety,
        written=[display_path(p) for p in written],
        created=[display_path(p) for p in sorted(created)],
        removed=[display_path(p) for p in removed],
        not_restored=sorted(large),
    )  # fmt: skip


def _checkpoint_files(repo: Repository, commit: str) -> dict[str, tuple[str, str]]:
    """Return {path: (mode, blob id)} of a checkpoint, its record and submodules left out."""
    out = repo.git.run("ls-tree", "-r", "-z", "--full-tree", commit)
    files: dict[str, tuple[str, str]] = {}
    for entry in out.decode("utf-8", "surrogateescape").split("\0"):
        if not entry:
            continue
        meta, _, path = entry.partition("\t")
        mode, _kind, oid = meta.split()
        if mode != _SUBMODULE and not path.startswith(_RECORD_FOLDER):
            files[check_path(path)] = (mode, oid)
    return files


def _tracked(repo: Repository) -> list[str]:
    """Return the paths the user's index tracks (the index is only read)."""
    out = repo.git.run("ls-files", "-z", "--cached", env={"GIT_OPTIONAL_LOCKS": "0"})
    paths = out.decode("utf-8", "surrogateescape").split("\0")
    return sorted({p for p in paths if p and not p.startswith(_RECORD_FOLDER)})


def _touched(
    repo: Repository, wanted: dict[str, tuple[str, str]], removals: list[str]
) -> tuple[dict[str, FileState | None], dict[str, bytes]]:
    """Return the paths the restore changes, with what each holds now, and their bytes."""
    files, oid_length = WorkingFiles(repo.root), len(repo.null_oid)
    before: dict[str, FileState | None] = {}
    contents: dict[str, bytes] = {}
    for path in [*wanted, *removals]:
        if path in wanted:  # a tracked file below a link is gone as git sees it: no removal
            _refuse_link_above(files, path)
        found = read_state(files, path, oid_length)
        state = None if found is None else found[0]
        if state is None and path not in wanted:
            continue  # to remove, but already gone
        if state is not None and (state.mode, state.oid) == wanted.get(path):
            continue  # already the checkpoint's
        before[path] = state
        if found is not None:
            contents[path] = found[1]
    return before, contents


def _refuse_link_above(files: WorkingFiles, path: str) -> None:
    """Refuse a path below a symbolic link or a file: git would replace the link by a folder."""
    parent = path.rpartition("/")[0]
    if parent and files.lstat(path) is None and _blocked(files, parent):
        raise MlvcError(
            f"Cannot restore '{display_path(path)}' in place: a folder above it is a symbolic "
            "link or a file in your working tree, and mlvc neither follows nor replaces it.",
            hint="Move it aside, or reproduce into a separate folder (leave out --inplace).",
        )


def _blocked(files: WorkingFiles, folder: str) -> bool:
    """Return True if some part of ``folder`` exists but is not a real folder."""
    prefix = ""
    for part in folder.split("/"):
        prefix = f"{prefix}/{part}" if prefix else part
        if not (files.root / prefix).is_symlink() and (files.root / prefix).is_dir():
            continue
        return os.path.lexists(files.root / prefix)
    return False


def _missing_dirs(repo: Repository, paths: list[str]) -> list[str]:
    """Return the folders above ``paths`` that do not exist yet (the restore creates them)."""
    missing: set[str] = set()
    for path in paths:
        parts = path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth])
            if not os.path.lexists(repo.root / folder):
                missing.add(folder)
    return sorted(missing)


def _save_point(
    writer: ExperimentWriter,
    reason: str,
    states: dict[str, FileState | None],
    contents: dict[str, bytes],
) -> str:
    """Record the working tree plus the exact bytes of ``states``' paths in a safety ref."""
    manifest: dict[str, Any] = {"reason": reason, "files": {}}
    files: dict[str, bytes] = {}
    for number, (path, state) in enumerate(sorted(states.items())):
        entry = None if state is None else {**state.to_dict(), "copy": f".mlvc/undo/{number}"}
        manifest["files"][display_path(path)] = entry
        if state is not None:
            files[f".mlvc/undo/{number}"] = contents[path]
    files[".mlvc/undo.json"] = json.dumps(manifest, indent=1, sort_keys=True).encode()
    return writer.save_safety_ref(reason, files=files)


def _checkout(repo: Repository, commit: str, paths: list[str]) -> None:
    """Write ``paths`` from ``commit`` into the working tree through a private index."""
    if not paths:
        return
    tmp = repo.runtime_dir / "tmp"
    tmp.mkdir(exist_ok=True)
    index = tmp / f"index.{unique_suffix()}"
    env = {"GIT_INDEX_FILE": str(index)}
    try:
        repo.git.run("read-tree", commit, env=env)
        stdin = b"".join(p.encode("utf-8", "surrogateescape") + b"\0" for p in paths)
        repo.git.run("checkout-index", "-f", "-z", "--stdin", stdin=stdin, env=env)
    finally:
        for leftover in (index, index.with_name(index.name + ".lock")):
            leftover.unlink(missing_ok=True)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


# -- undo ----------------------------------------------------------------------------------------


def undo_last(repo: Repository, writer: ExperimentWriter, *, force: bool = False) -> UndoResult:
    """Undo the last in-place restore not undone yet, from its safety ref.

    Raises:
        MlvcError: nothing to undo, or the safety ref's objects are gone.
        DirtyWorkingTreeError: a path the restore touched changed since (``force`` undoes
            anyway, after recording those changes in another safety ref).
    """
    entries = journal.load(repo)
    position = journal.last_open(entries, str(repo.root))
    if position is None:
        raise MlvcError(
            "Nothing to undo: no in-place restore is waiting to be undone in this repository.",
            hint="`%vc_reproduce EXP_ID --inplace` (CLI: `mlvc reproduce EXP_ID --inplace`) "
            "records one; earlier safety points are listed by `git for-each-ref refs/mlvc/safety`.",
        )
    entry = entries[position]
    before = {check_path(p): FileState.from_dict(s) for p, s in entry["before"].items()}
    forced = _check_unchanged(repo, writer, entry, before, force=force)
    contents = _blobs(repo, entry, before)
    removed = [p for p, s in sorted(before.items()) if s is None and remove_file(repo.root, p)]
    remove_new_dirs(repo.root, entry.get("new_dirs") or [])
    restored = [p for p, s in sorted(before.items()) if s is not None]
    for path in restored:
        state = before[path]
        assert state is not None  # filtered above
        write_state(repo.root, path, state, contents[state.oid])
    entry["undone"] = _now()
    journal.replace(repo, position, entry)
    return UndoResult(
        entry["experiment"], entry["safety_ref"],
        restored=[display_path(p) for p in restored],
        removed=[display_path(p) for p in removed], forced_safety_ref=forced,
    )  # fmt: skip


def _check_unchanged(
    repo: Repository,
    writer: ExperimentWriter,
    entry: dict[str, Any],
    before: dict[str, FileState | None],
    *,
    force: bool,
) -> str | None:
    """Refuse when a touched path changed since the restore; with ``force``, save it first.

    An entry without ``after`` is a restore that was interrupted: its state is unknown, so it
    is saved first as if forced. Returns the new safety ref, if one was taken.
    """
    after = entry.get("after")
    oid_length = len(repo.null_oid)
    now = {p: fingerprint(repo.root, p, oid_length) for p in before}
    changed = [
        p
        for p, current in now.items()
        if (after is None or current != after.get(p)) and current != fingerprint_of(before[p])
    ]
    if not changed:
        return None
    if after is not None and not force:
        raise DirtyWorkingTreeError(
            f"Cannot undo the in-place restore of '{entry['experiment']}': "
            f"{len(changed)} of its files changed since; undoing would lose those edits.",
            paths=[display_path(p) for p in changed],
            hint="Keep them (copy them out), or run `mlvc undo --force` (`%vc_undo --force`), "
            "which saves them in another safety ref first.",
        )
    files, current = WorkingFiles(repo.root), {}
    states: dict[str, FileState | None] = {}
    for path in changed:
        found = read_state(files, path, oid_length)
        states[path] = None if found is None else found[0]
        if found is not None:
            current[path] = found[1]
    reason = f"before undoing the restore of {entry['experiment']}"
    return _save_point(writer, reason, states, current)


def _blobs(
    repo: Repository, entry: dict[str, Any], before: dict[str, FileState | None]
) -> dict[str, bytes]:
    """Read the saved bytes of every path to write back."""
    oids = sorted({s.oid for s in before.values() if s is not None})
    contents: dict[str, bytes] = {}
    for oid, data in zip(oids, repo.read_blobs(oids), strict=True):
        if data is None:
            raise MlvcError(
                f"The saved files of the in-place restore of '{entry['experiment']}' are gone "
                f"from the object store (safety ref {entry['safety_ref']}).",
                hint=f"See `git show {entry['safety_ref']}:.mlvc/undo.json`; nothing was written.",
            )
        contents[oid] = data
    return contents
