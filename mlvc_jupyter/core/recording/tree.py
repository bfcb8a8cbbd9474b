"""Build a checkpoint's tree of the working tree through a private index.

The user's ``.git/index`` is copied with its mtime (its stat cache keeps ``git add`` from
re-hashing unchanged files, and the mtime keeps git's check of racily clean entries working), the
copy is pointed at with ``GIT_INDEX_FILE``, and only the paths ``git status`` reports as changed
are staged into it, through ``git add`` so the user's clean filters run (git LFS relies on them).
Notebooks never go through ``git add``: they are read whole, stripped in-process, and the
stripped blob is put in the index. Symlinks are stored as links and nothing is read through one.
What would be stored over the size limit stays out and is listed. The user's index, HEAD and
working tree are never written.

:meth:`TreeBuilder.stage` stages the working tree and hands back a :class:`StagedTree`; the
caller computes its record files from what was staged and passes them to
:meth:`StagedTree.write_tree`, which returns the finished :class:`CheckpointTree`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mlvc_jupyter.core.recording import filters
from mlvc_jupyter.core.recording.stripping import NotebookStripper, StrippedNotebook
from mlvc_jupyter.core.recording.workfiles import (
    IsSymlinkError,
    WorkingFiles,
    display_path,
    sweep_dead,
    unique_suffix,
)
from mlvc_jupyter.core.records import CheckpointTree, LargeFile
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.core.repo.status import parse_status_entries
from mlvc_jupyter.errors import GitOperationError

__all__ = ["StagedTree", "TreeBuilder"]

log = logging.getLogger(__name__)

_NOTEBOOK_SUFFIX = ".ipynb"
_TIMEOUT = 30.0
_STAGE_ATTEMPTS = 3
# git's words for a file that changed between `status` and `add`: stage again.
_RACES = (
    "did not match any files",
    "No such file or directory",
    "beyond a symbolic link",
    "unable to index file",
    "short read",
)


@dataclass(slots=True)
class _Changes:
    """What ``git status`` on the private index found, sorted by how each path is staged."""

    files: WorkingFiles
    head: str | None = None
    branch: str | None = None
    dirty: list[str] = field(default_factory=list)
    to_add: list[str] = field(default_factory=list)
    notebooks: set[str] = field(default_factory=set)
    removals: set[str] = field(default_factory=set)
    large: list[LargeFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_tree(
        self, tree: str, notebooks: list[dict[str, object]], timings: Mapping[str, float]
    ) -> CheckpointTree:
        """Return the record of these changes (``tree`` empty until the tree is written)."""
        return CheckpointTree(
            tree=tree,
            head=self.head,
            branch=None if self.branch is None else display_path(self.branch),
            dirty_files=[display_path(p) for p in self.dirty],
            large_files=self.large,
            notebooks=notebooks,
            timings={k: round(v, 6) for k, v in timings.items()},
            warnings=self.warnings,
        )


class TreeBuilder:
    """Build checkpoint trees of one repository's working tree, caching what does not change.

    Two caches make repeated checkpoints cheap: stripped notebook blobs keyed by the file's
    stat (kept on disk under the runtime folder, so the CLI benefits too), and the list of
    tracked notebooks, keyed by the stat of the user's index. ``timeout`` bounds the git work
    of one checkpoint (clean filters included).
    """

    def __init__(self, repo: Repository, *, timeout: float = _TIMEOUT) -> None:
        self.repo = repo
        self.timeout = timeout
        self.notebooks = NotebookStripper(repo)
        self._tracked_notebooks: tuple[tuple[int, int, int], list[str]] | None = None
        self._swept = False
        self._base: tuple[tuple[int, int, int], bytes, int] | None = None
        """The user's index as last refreshed: (its stat key, the refreshed bytes, their mtime)."""

    # -- public ---------------------------------------------------------------------------------

    def build(self, files: Mapping[str, bytes] | None = None) -> CheckpointTree:
        """Stage the working tree and write its tree, plus ``files`` ({path: content}).

        Raises:
            GitOperationError: git failed (disk full, a failing clean filter, a timeout, ...).
        """
        with self.stage() as staged:
            return staged.write_tree(files or {})

    @contextmanager
    def stage(self) -> Iterator[StagedTree]:
        """Stage the working tree into a private index, removed when the block ends.

        Raises:
            GitOperationError: git failed (disk full, a failing clean filter, a timeout, ...).
            MlvcError: a notebook kept changing while it was read.
        """
        tmp_dir = self.repo.runtime_dir / "tmp"
        tmp_dir.mkdir(exist_ok=True)
        if not self._swept:
            sweep_dead(tmp_dir)
            self._swept = True
        index = tmp_dir / f"index.{unique_suffix()}"
        try:
            yield self._stage(index, time.monotonic() + self.timeout)
        finally:
            for leftover in (index, index.with_name(index.name + ".lock")):
                leftover.unlink(missing_ok=True)
        self.notebooks.save()

    # -- staging --------------------------------------------------------------------------------

    def _stage(self, index: Path, deadline: float) -> StagedTree:
        env = {"GIT_INDEX_FILE": str(index)}
        start = time.perf_counter()
        changes = self._stage_changes(index, env, deadline)
        timings = {"stage": time.perf_counter() - start}
        staged = StagedTree(self, env, changes, deadline)
        staged.strip_notebooks(use_cache=True)
        timings["strip"] = time.perf_counter() - start - timings["stage"]
        staged.timings.update(timings)
        return staged

    def _stage_changes(self, index: Path, env: Mapping[str, str], deadline: float) -> _Changes:
        """Copy the user's index, ask ``status`` what changed, ``add`` it; again on a race."""
        for attempt in range(1, _STAGE_ATTEMPTS + 1):
            self._copy_user_index(index, deadline)
            changes = _Changes(files=WorkingFiles(self.repo.root))
            try:
                self._collect_changes(env, changes, deadline)
                if changes.to_add:
                    self._add(env, changes.to_add, deadline)
            except GitOperationError as exc:
                if attempt == _STAGE_ATTEMPTS or not _is_race(exc, deadline):
                    raise filters.explain(self.repo, exc, changes.to_add, deadline) from exc
                log.info("the working tree changed while staging (%s); again", exc.message)
            else:
                return changes
        raise AssertionError("unreachable")  # pragma: no cover

    def _copy_user_index(self, index: Path, deadline: float) -> None:
        """Write the user's index to ``index`` as git last refreshed it, keeping its mtime.

        git re-reads an entry whose mtime is not older than the index file's own (a "racily
        clean" one), so a copy must keep the mtime of the index it copies. Right after a
        commit or a checkout most entries are racy until git rewrites the user's index, and
        every checkpoint would re-hash them; so the user's index is refreshed once, into a
        private copy git writes itself (``update-index --refresh``), and that copy, with its
        own mtime, is the base of each checkpoint until the user's index changes.
        """
        user_index = self.repo.paths.git_dir / "index"
        try:
            with open(user_index, "rb") as source:
                st = os.fstat(source.fileno())
                key = (st.st_ino, st.st_size, st.st_mtime_ns)
                if self._base is None or self._base[0] != key:
                    _write_index(index, source.read(), st.st_mtime_ns)
                    self._base = (key, *self._refresh(index, deadline))
                    return
        except FileNotFoundError:
            self._base = None
            index.unlink(missing_ok=True)
            return
        _write_index(index, self._base[1], self._base[2])

    def _refresh(self, index: Path, deadline: float) -> tuple[bytes, int]:
        """Refresh ``index``'s stat data (filters off, as for status); return it and its mtime."""
        env = {"GIT_INDEX_FILE": str(index), **self._filters_off()}
        remaining = max(deadline - time.monotonic(), 0.001)
        self.repo.git.run(
            "update-index", "-q", "--refresh", "--ignore-submodules",
            env=env, ok_status=(0, 1), timeout=remaining,
        )  # fmt: skip
        with open(index, "rb") as refreshed:
            return refreshed.read(), os.fstat(refreshed.fileno()).st_mtime_ns

    def _collect_changes(self, env: Mapping[str, str], changes: _Changes, deadline: float) -> None:
        # Status runs with every clean filter off: a changed file is then merely reported, and
        # `git add` (files) or the in-process stripper (notebooks) stores it. A notebook filter,
        # broken or slow (one Python process per notebook), never runs for a checkpoint.
        out = self._git(
            "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all",
            "--no-renames", "--ignore-submodules=none",
            env={**env, "GIT_OPTIONAL_LOCKS": "0", **self._filters_off()}, deadline=deadline,
        )  # fmt: skip
        parsed = parse_status_entries(out)
        changes.head, changes.branch = parsed.head, parsed.branch
        limit = self.repo.settings.max_file_size
        for _kind, _xy, submodule, path in parsed.entries:
            if path.endswith("/"):  # a nested repository: git would only record a gitlink
                continue
            if _is_dirty_submodule(submodule):
                changes.warnings.append(
                    f"Submodule '{display_path(path)}' has uncommitted changes: only its commit "
                    "is recorded. Commit them inside the submodule to have them in the experiment."
                )
            changes.dirty.append(path)
            self._classify(path, changes, limit)
        for path in self._tracked_notebook_paths():
            st = changes.files.lstat(path)
            if st is not None and stat.S_ISREG(st.st_mode):  # a link stays as git staged it
                changes.notebooks.add(path)

    def _classify(self, path: str, changes: _Changes, limit: int) -> None:
        st = changes.files.lstat(path)
        if st is None:  # gone, or below a symlinked folder: git records it deleted
            changes.removals.add(path)
        elif path.endswith(_NOTEBOOK_SUFFIX) and stat.S_ISREG(st.st_mode):
            changes.notebooks.add(path)  # measured once stripped
        elif stat.S_ISREG(st.st_mode) and st.st_size > limit:
            try:
                digest = changes.files.sha256(path)
            except IsSymlinkError:  # replaced by a link meanwhile: git stores the link
                changes.to_add.append(path)
                return
            if digest is None:
                changes.removals.add(path)
            else:
                changes.large.append(LargeFile(display_path(path), st.st_size, digest))
                changes.removals.add(path)
        else:
            changes.to_add.append(path)

    def _filters_off(self) -> dict[str, str]:
        return filters.filters_off(self.repo.filter_drivers())

    def _add(self, env: Mapping[str, str], paths: list[str], deadline: float) -> None:
        self._git(
            "add", "-A", "--pathspec-from-file=-", "--pathspec-file-nul",
            env={**env, "GIT_LITERAL_PATHSPECS": "1"}, deadline=deadline, paths=paths,
        )  # fmt: skip

    def _git(
        self, *args: str, env: Mapping[str, str], deadline: float, paths: list[str] | None = None
    ) -> bytes:
        """Run a staging git command within the deadline; a clean filter that failed fails it.

        ``paths`` go to git's stdin as NUL-separated pathspecs.
        """
        stdin = None if paths is None else _nul_join(paths)
        remaining = max(deadline - time.monotonic(), 0.001)
        proc = self.repo.git.run_full(*args, stdin=stdin, env=env, timeout=remaining)
        filters.refuse_failed_filter(self.repo, args, proc, paths or [])
        return proc.stdout

    def _tracked_notebook_paths(self) -> list[str]:
        """Return the notebooks in the user's index, listed again only when the index changes."""
        user_index = self.repo.paths.git_dir / "index"
        try:
            st = user_index.stat()
        except FileNotFoundError:
            return []
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        if self._tracked_notebooks is None or self._tracked_notebooks[0] != key:
            out = self.repo.git.run("ls-files", "-z", "--", f":(glob)**/*{_NOTEBOOK_SUFFIX}")
            paths = [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]
            self._tracked_notebooks = (key, paths)
        return self._tracked_notebooks[1]

    # -- blobs and the index --------------------------------------------------------------------

    def hash_blobs(self, pending: Mapping[str, bytes]) -> dict[str, str]:
        """Write ``pending`` blobs with one ``git hash-object`` and return path -> blob id."""
        if not pending:
            return {}
        tmp_dir = self.repo.runtime_dir / "tmp"
        with tempfile.TemporaryDirectory(dir=tmp_dir, prefix=f"blobs.{os.getpid()}.") as folder:
            names = []
            for i, content in enumerate(pending.values()):
                target = Path(folder, str(i))
                target.write_bytes(content)
                names.append(str(target))
            out = self.repo.git.run(
                "hash-object", "-w", "--no-filters", "--stdin-paths",
                stdin="\n".join(names).encode() + b"\n",
            )  # fmt: skip
        return dict(zip(pending, out.decode().split(), strict=True))

    def update_index(
        self, env: Mapping[str, str], entries: Mapping[str, str], removals: Iterable[str]
    ) -> None:
        """Put blobs at paths (regular files) and drop paths, in one ``update-index``."""
        lines = [f"100644 {oid}\t{path}" for path, oid in entries.items()]
        lines += [f"0 {self.repo.null_oid}\t{path}" for path in removals]
        if lines:
            self.repo.git.run("update-index", "-z", "--index-info", stdin=_nul_join(lines), env=env)


class StagedTree:
    """A private index with the working tree staged, written out once with the record files.

    ``preview`` says what was staged (its ``tree`` is still empty): the writer builds its
    record from it and passes the record files to :meth:`write_tree`.
    """

    def __init__(
        self, builder: TreeBuilder, env: Mapping[str, str], changes: _Changes, deadline: float
    ) -> None:
        self._builder = builder
        self._env = env
        self._changes = changes
        self._deadline = deadline
        self._stripped: list[StrippedNotebook] = []
        self.timings: dict[str, float] = {}

    @property
    def preview(self) -> CheckpointTree:
        """Return what was staged, as a record whose ``tree`` is still empty."""
        return self._changes.to_tree("", self._notebook_records(), self.timings)

    def scan_targets(self) -> tuple[WorkingFiles, list[str], dict[str, bytes]]:
        """Return what the secret guard scans: the working files ``git add`` staged (read
        through the returned :class:`WorkingFiles`) and the freshly stripped notebooks."""
        notebooks = {s.path: s.content for s in self._stripped if s.content is not None}
        return self._changes.files, list(self._changes.to_add), notebooks

    def strip_notebooks(self, *, use_cache: bool) -> None:
        """Read and strip every notebook of the checkpoint; measure what would be stored."""
        changes, limit = self._changes, self._builder.repo.settings.max_file_size
        if not use_cache:
            self._builder.notebooks.forget()
            notebooks = {display_path(p) for p in changes.notebooks}
            changes.large = [f for f in changes.large if f.path not in notebooks]
        self._stripped = []
        for path in sorted(changes.notebooks):
            stripped = self._builder.notebooks.strip(path, changes.files, self._deadline)
            if stripped.gone:
                changes.removals.add(path)
            elif stripped.content is not None and len(stripped.content) > limit:
                digest = hashlib.sha256(stripped.content).hexdigest()
                changes.large.append(LargeFile(display_path(path), len(stripped.content), digest))
                changes.removals.add(path)
            elif not stripped.skipped:
                self._stripped.append(stripped)

    def write_tree(self, files: Mapping[str, bytes]) -> CheckpointTree:
        """Add ``files`` ({path: content}) and the stripped notebooks, and write the tree.

        Raises:
            GitOperationError: git failed (disk full, a broken repository, ...).
        """
        start = time.perf_counter()
        builder = self._builder
        pending = {s.path: s.content for s in self._stripped if s.content is not None}
        oids = builder.hash_blobs({**pending, **files})
        for stripped in self._stripped:
            if stripped.content is not None:
                builder.notebooks.remember(stripped, oids[stripped.path])
        entries = {s.path: s.oid for s in self._stripped if s.oid is not None}
        builder.update_index(self._env, {**entries, **oids}, self._changes.removals)
        self.timings["hash"] = time.perf_counter() - start
        start = time.perf_counter()
        try:
            tree = builder.repo.git.run("write-tree", env=self._env).decode().strip()
        except GitOperationError:
            if not entries:
                raise
            # A cached stripped blob may have been pruned by gc: strip again, without the cache.
            log.warning("write-tree failed; retrying without the stripped-notebook cache")
            self.strip_notebooks(use_cache=False)
            return self.write_tree(files)
        self.timings["write_tree"] = time.perf_counter() - start
        return self._changes.to_tree(tree, self._notebook_records(), self.timings)

    def _notebook_records(self) -> list[dict[str, object]]:
        return [s.to_dict() for s in self._stripped]


def _is_race(exc: GitOperationError, deadline: float) -> bool:
    """Return True when git failed because the working tree moved under it (not a timeout)."""
    if time.monotonic() >= deadline or exc.status is None:
        return False
    return exc.status < 0 or any(words in exc.stderr for words in _RACES)


def _write_index(path: Path, data: bytes, mtime_ns: int) -> None:
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def _is_dirty_submodule(state: str) -> bool:
    """Read porcelain v2's ``S<c><m><u>``: tracked (m) or untracked (u) changes inside."""
    return state.startswith("S") and (state[2] == "M" or state[3] == "U")


def _nul_join(items: Iterable[str]) -> bytes:
    return b"".join(item.encode("utf-8", "surrogateescape") + b"\0" for item in items)
