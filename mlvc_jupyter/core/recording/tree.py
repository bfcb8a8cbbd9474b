"""Build a snapshot tree of the working tree through a private index.

The user's ``.git/index`` is copied (its stat cache keeps ``git add`` from re-hashing unchanged
files), the copy is pointed at with ``GIT_INDEX_FILE``, and only the paths ``git status`` reports
as changed are staged into it. Notebooks never go through ``git add``: they are stripped
in-process, and the stripped blob is put in the index, so neither the raw notebook nor the
repository's own clean filter is ever run. Files over the size limit stay out and are listed.
The user's index, HEAD and working tree are never written.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlvc_jupyter.core.environment.capture import file_sha256
from mlvc_jupyter.core.files import atomic_write
from mlvc_jupyter.core.notebooks.strip import strip_bytes
from mlvc_jupyter.core.records import LargeFile, SnapshotTree
from mlvc_jupyter.core.repo.repository import Repository, parse_status_entries
from mlvc_jupyter.errors import GitOperationError, UnreadableNotebookError

__all__ = ["ExtraFiles", "Snapshotter"]

log = logging.getLogger(__name__)

_ZERO = "0" * 40
_NOTEBOOK_SUFFIX = ".ipynb"

_COUNTER = itertools.count()

ExtraFiles = Callable[[SnapshotTree], Mapping[str, bytes]]


@dataclass(slots=True)
class _Changes:
    """What ``git status`` on the private index found, sorted by how each path is staged."""

    head: str | None = None
    branch: str | None = None
    dirty: list[str] = field(default_factory=list)
    to_add: list[str] = field(default_factory=list)
    notebooks: set[str] = field(default_factory=set)
    removed_notebooks: set[str] = field(default_factory=set)
    large: list[LargeFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_tree(
        self, tree: str, notebooks: list[dict[str, object]], timings: Mapping[str, float]
    ) -> SnapshotTree:
        """Return the record of a snapshot with these changes (``tree`` empty while building)."""
        return SnapshotTree(
            tree=tree,
            head=self.head,
            branch=self.branch,
            dirty_files=self.dirty,
            large_files=self.large,
            notebooks=notebooks,
            timings={k: round(v, 6) for k, v in timings.items()},
            warnings=self.warnings,
        )


class Snapshotter:
    """Snapshot one repository's working tree into git trees, caching what does not change.

    Two caches make repeated checkpoints cheap: stripped notebook blobs keyed by the file's
    stat (kept on disk under the runtime folder, so the CLI benefits too), and the list of
    tracked notebooks, keyed by the stat of the user's index.
    """

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._strip_cache: dict[str, list[object]] | None = None
        self._strip_cache_dirty = False
        self._tracked_notebooks: tuple[tuple[int, int], list[str]] | None = None
        self._pending_cache: dict[str, list[object]] = {}
        self._swept = False

    # -- public ---------------------------------------------------------------------------------

    def build(self, extra_files: ExtraFiles | None = None) -> SnapshotTree:
        """Snapshot the working tree into a tree, plus files ``extra_files`` returns.

        ``extra_files`` is called once the changes are known (with a :class:`SnapshotTree` whose
        ``tree`` is still empty) and returns {path: content} to add, e.g. the full record.

        Raises:
            GitOperationError: a git command failed (disk full, a broken repository, ...).
        """
        tmp_dir = self.repo.runtime_dir / "tmp"
        tmp_dir.mkdir(exist_ok=True)
        if not self._swept:
            _sweep_dead(tmp_dir)
            self._swept = True
        index = tmp_dir / f"index.{_unique_suffix()}"
        user_index = self.repo.paths.git_dir / "index"
        timings: dict[str, float] = {}
        try:
            start = time.perf_counter()
            if user_index.exists():
                shutil.copyfile(user_index, index)
            env = {"GIT_INDEX_FILE": str(index)}
            changes = self._collect_changes(env)
            if changes.to_add:
                self.repo.git.run(
                    "add", "-A", "--pathspec-from-file=-", "--pathspec-file-nul",
                    stdin=_nul_join(changes.to_add),
                    env={**env, "GIT_LITERAL_PATHSPECS": "1"},
                )  # fmt: skip
            timings["stage"] = time.perf_counter() - start
            tree, notebooks = self._place_blobs(env, changes, extra_files, tmp_dir, timings)
        finally:
            for leftover in (index, index.with_name(index.name + ".lock")):
                leftover.unlink(missing_ok=True)
        self._save_strip_cache()
        return changes.to_tree(tree, notebooks, timings)

    # -- staging --------------------------------------------------------------------------------

    def _collect_changes(self, env: Mapping[str, str]) -> _Changes:
        out = self.repo.git.run(
            "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all",
            "--no-renames", "--ignore-submodules=none",
            env={**env, "GIT_OPTIONAL_LOCKS": "0"},
        )  # fmt: skip
        parsed = parse_status_entries(out)
        changes = _Changes(head=parsed.head, branch=parsed.branch)
        limit = self.repo.settings.max_file_size
        for _kind, _xy, submodule, path in parsed.entries:
            if path.endswith("/"):  # a nested repository: git would only record a gitlink
                continue
            if _is_dirty_submodule(submodule):
                changes.warnings.append(
                    f"Submodule '{path}' has uncommitted changes: only its commit is recorded. "
                    "Commit them inside the submodule to have them in the experiment."
                )
            changes.dirty.append(path)
            self._classify(path, changes, limit)
        changes.notebooks.update(
            p for p in self._tracked_notebook_paths() if p not in changes.removed_notebooks
        )
        return changes

    def _classify(self, path: str, changes: _Changes, limit: int) -> None:
        try:
            st = os.lstat(self.repo.root / path)
        except FileNotFoundError:
            st = None
        is_notebook = path.endswith(_NOTEBOOK_SUFFIX)
        if st is not None and stat.S_ISREG(st.st_mode) and st.st_size > limit:
            digest = file_sha256(self.repo.root / path)
            changes.large.append(LargeFile(path=path, size=st.st_size, sha256=digest))
        elif is_notebook and st is not None and stat.S_ISREG(st.st_mode):
            changes.notebooks.add(path)
        elif is_notebook and st is None:
            changes.removed_notebooks.add(path)
        else:
            changes.to_add.append(path)

    def _tracked_notebook_paths(self) -> list[str]:
        """Return the notebooks in the user's index, listed again only when the index changes."""
        user_index = self.repo.paths.git_dir / "index"
        try:
            st = user_index.stat()
        except FileNotFoundError:
            return []
        key = (st.st_size, st.st_mtime_ns)
        if self._tracked_notebooks is None or self._tracked_notebooks[0] != key:
            out = self.repo.git.run("ls-files", "-z", "--", f":(glob)**/*{_NOTEBOOK_SUFFIX}")
            paths = [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]
            self._tracked_notebooks = (key, paths)
        return self._tracked_notebooks[1]

    # -- blobs ----------------------------------------------------------------------------------

    def _place_blobs(
        self,
        env: Mapping[str, str],
        changes: _Changes,
        extra_files: ExtraFiles | None,
        tmp_dir: Path,
        timings: dict[str, float],
    ) -> tuple[str, list[dict[str, object]]]:
        start = time.perf_counter()
        entries: dict[str, str] = {}
        pending: dict[str, bytes] = {}
        notebooks = [self._strip(path, entries, pending) for path in sorted(changes.notebooks)]
        timings["strip"] = time.perf_counter() - start
        if extra_files is not None:
            pending.update(extra_files(changes.to_tree("", notebooks, timings)))
        start = time.perf_counter()
        entries.update(self._hash_blobs(pending, tmp_dir))
        removals = [*changes.removed_notebooks, *(f.path for f in changes.large)]
        self._update_index(env, entries, removals)
        timings["hash"] = time.perf_counter() - start
        start = time.perf_counter()
        try:
            tree = self.repo.git.run("write-tree", env=env).decode().strip()
        except GitOperationError:
            if not self._strip_cache:
                raise
            # A cached stripped blob may have been pruned by gc: forget the cache, try once more.
            log.warning("write-tree failed; retrying without the stripped-notebook cache")
            self._strip_cache = {}
            self._strip_cache_dirty = True
            return self._place_blobs(env, changes, extra_files, tmp_dir, timings)
        timings["write_tree"] = time.perf_counter() - start
        return tree, notebooks

    def _strip(
        self, path: str, entries: dict[str, str], pending: dict[str, bytes]
    ) -> dict[str, object]:
        full = self.repo.root / path
        st = full.stat()
        key = [st.st_size, st.st_mtime_ns, st.st_ino, self._strip_settings_key()]
        cache = self._load_strip_cache()
        cached = cache.get(path)
        if cached is not None and cached[:4] == key:
            entries[path] = str(cached[4])
            return {"path": path, "stripped": cached[5] is None, "warning": cached[5]}
        raw = full.read_bytes()
        settings = self.repo.settings
        warning = None
        try:
            content = strip_bytes(
                raw,
                extra_keys=settings.strip_extra_keys,
                keep_output_tag=settings.keep_output_tag,
            )
        except UnreadableNotebookError as exc:
            content, warning = raw, f"stored as it is: {exc.message}"
        pending[path] = content
        self._pending_cache[path] = [*key, warning]
        return {"path": path, "stripped": warning is None, "warning": warning}

    def _hash_blobs(self, pending: Mapping[str, bytes], tmp_dir: Path) -> dict[str, str]:
        """Write ``pending`` blobs with one ``git hash-object`` and return path -> blob id."""
        if not pending:
            return {}
        with tempfile.TemporaryDirectory(dir=tmp_dir, prefix=f"blobs.{os.getpid()}.") as folder:
            files = []
            for i, content in enumerate(pending.values()):
                target = Path(folder, str(i))
                target.write_bytes(content)
                files.append(str(target))
            out = self.repo.git.run(
                "hash-object", "-w", "--no-filters", "--stdin-paths",
                stdin="\n".join(files).encode() + b"\n",
            )  # fmt: skip
        oids = out.decode().split()
        result = dict(zip(pending, oids, strict=True))
        cache = self._load_strip_cache()
        for path, meta in self._pending_cache.items():
            cache[path] = [*meta[:4], result[path], meta[4]]
            self._strip_cache_dirty = True
        self._pending_cache = {}
        return result

    def _update_index(
        self, env: Mapping[str, str], entries: Mapping[str, str], removals: Iterable[str]
    ) -> None:
        lines = [f"100644 {oid}\t{path}" for path, oid in entries.items()]
        lines += [f"0 {_ZERO}\t{path}" for path in removals]
        if lines:
            self.repo.git.run("update-index", "-z", "--index-info", stdin=_nul_join(lines), env=env)

    # -- the stripped-notebook cache ------------------------------------------------------------

    def _strip_settings_key(self) -> str:
        settings = self.repo.settings
        return json.dumps([list(settings.strip_extra_keys), settings.keep_output_tag])

    def _cache_file(self) -> Path:
        return self.repo.runtime_dir / "strip-cache.json"

    def _load_strip_cache(self) -> dict[str, list[object]]:
        if self._strip_cache is None:
            try:
                loaded = json.loads(self._cache_file().read_text())
                self._strip_cache = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):  # a missing or torn cache is only a slower snapshot
                self._strip_cache = {}
        return self._strip_cache

    def _save_strip_cache(self) -> None:
        if not self._strip_cache_dirty or self._strip_cache is None:
            return
        # A cache: a write lost in a crash only costs time, so it is not flushed to disk.
        atomic_write(self._cache_file(), json.dumps(self._strip_cache), fsync=False)
        self._strip_cache_dirty = False


def _is_dirty_submodule(state: str) -> bool:
    """Read porcelain v2's ``S<c><m><u>``: tracked (m) or untracked (u) changes inside."""
    return state.startswith("S") and (state[2] == "M" or state[3] == "U")


def _sweep_dead(tmp_dir: Path) -> None:
    """Remove temporary files left by mlvc processes that died (killed mid-snapshot, say).

    Only names mlvc writes here (``<kind>.<pid>.<n>``) whose process no longer exists are
    touched; files of live processes are left alone.
    """
    for entry in tmp_dir.iterdir():
        parts = entry.name.split(".")
        if len(parts) < 3 or not parts[1].isdigit() or _is_alive(int(parts[1])):
            continue
        log.info("removing %s, left by a process that died", entry)
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True


def _unique_suffix() -> str:
    """Return ``<pid>.<n>``, unique across the threads and snapshotters of this process."""
    return f"{os.getpid()}.{next(_COUNTER)}"


def _nul_join(items: Iterable[str]) -> bytes:
    return b"".join(item.encode("utf-8", "surrogateescape") + b"\0" for item in items)
