"""Which code a kernel ran: the local modules it imported, and its inputs matched to notebook cells.

A checkpoint snapshots the working tree, but an experiment also runs whatever code the kernel
imported. :func:`local_modules` looks at ``sys.modules`` and reports:

* ``repository`` entries: modules whose file lies under the repository root, with the path relative
  to it and whether git ignores it (an ignored module is missing from the snapshot);
* ``editable`` entries: one per other git repository that modules were imported from (an editable
  install such as ``pip install -e ../mylib``), with its HEAD commit and whether it has
  uncommitted changes;
* ``external`` entries: modules imported from a folder that is in no git repository at all.

Standard-library and site-packages modules are skipped by a string prefix test, so the scan of
1,500 modules costs about a millisecond; git runs once for the ignore check (``check-ignore
--stdin``) and once per other repository (``status``). :func:`module_warnings` turns the entries
into the warnings a user should see.

:func:`code_cells` reads a saved notebook's code cells and :func:`match_cells` matches executed
inputs to them, which tells whether the cells ran top to bottom (see
:mod:`mlvc_jupyter.kernel` for the definition of out of order).
"""

from __future__ import annotations

import json
import os
import site
import sys
import sysconfig
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlvc_jupyter.core.repo.runner import Git
from mlvc_jupyter.errors import GitOperationError

__all__ = ["code_cells", "local_modules", "match_cells", "module_warnings", "system_prefixes"]

_CELL_CACHE: dict[str, tuple[tuple[int, int], list[tuple[int, str]] | None]] = {}


def system_prefixes() -> tuple[str, ...]:
    """Return the folder prefixes (ending in a separator) of stdlib and installed packages."""
    layout = sysconfig.get_paths()
    paths = {layout[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in layout}
    paths.update(site.getsitepackages())
    paths.add(site.getusersitepackages())
    paths.update(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))
    paths.update(p for p in sys.path if p.endswith(".zip"))
    prefixes = set()
    for path in paths:
        if path:
            prefixes.add(path.rstrip(os.sep) + os.sep)
            prefixes.add(os.path.realpath(path).rstrip(os.sep) + os.sep)
    return tuple(sorted(prefixes))


def local_modules(root: Path, modules: Mapping[str, object] | None = None) -> list[dict[str, Any]]:
    """Return the repository, editable and external modules among ``modules`` (``sys.modules``).

    Repository entries come first (sorted by path), then one entry per other repository, then
    external modules. See the module docstring for the entry shapes.
    """
    root_real = os.path.realpath(root)
    root_prefix = root_real.rstrip(os.sep) + os.sep
    skip = tuple(p for p in system_prefixes() if not root_prefix.startswith(p))
    inside: dict[str, str] = {}
    outside: dict[str, str] = {}
    for name, module in dict(modules if modules is not None else sys.modules).items():
        file = _module_file(module)
        if file is None or file.startswith(skip) or not os.path.isabs(file):
            continue
        real = os.path.realpath(file)
        if real.startswith(root_prefix):
            rel = Path(real[len(root_prefix) :]).as_posix()
            if not rel.startswith(".git/"):  # e.g. a reproduction worktree under .git/mlvc
                inside[name] = rel
        elif not real.startswith(skip):
            outside[name] = real
    return [*_repository_entries(root, inside), *_outside_entries(outside)]


def _module_file(module: object) -> str | None:
    try:
        file = vars(module).get("__file__")
    except TypeError:  # a stand-in object without a __dict__ (some lazy loaders)
        return None
    return file if isinstance(file, str) and file else None


def _repository_entries(root: Path, inside: Mapping[str, str]) -> list[dict[str, Any]]:
    if not inside:
        return []
    ignored: set[str] | None
    try:
        ignored = _ignored(Git(root), sorted(set(inside.values())))
    except GitOperationError:
        ignored = None  # e.g. a path inside a nested repository: unknown rather than wrong
    return [
        {
            "module": name,
            "path": rel,
            "kind": "repository",
            "ignored": None if ignored is None else rel in ignored,
        }
        for name, rel in sorted(inside.items(), key=lambda item: (item[1], item[0]))
    ]


def _ignored(git: Git, paths: Iterable[str]) -> set[str]:
    """Return the paths git ignores, with one ``check-ignore`` process (tracked ones never)."""
    stdin = b"".join(p.encode("utf-8", "surrogateescape") + b"\0" for p in paths)
    out = git.run("check-ignore", "--stdin", "-z", stdin=stdin, ok_status=(0, 1))
    return {p for p in out.decode("utf-8", "surrogateescape").split("\0") if p}


def _outside_entries(outside: Mapping[str, str]) -> list[dict[str, Any]]:
    repos: dict[str, list[str]] = {}
    external: list[dict[str, Any]] = []
    toplevels: dict[str, str | None] = {}
    for name, path in sorted(outside.items()):
        repo = _repository_of(os.path.dirname(path), toplevels)
        if repo is None:
            external.append({"module": name, "path": path, "kind": "external", "repository": None})
        else:
            repos.setdefault(repo, []).append(name)
    editable = [_editable_entry(repo, names) for repo, names in sorted(repos.items())]
    return [*editable, *external]


def _repository_of(folder: str, cache: dict[str, str | None]) -> str | None:
    """Return the working-tree top of the repository holding ``folder`` (filesystem only)."""
    visited = []
    current = folder
    while current not in cache:
        visited.append(current)
        if os.path.exists(os.path.join(current, ".git")):
            cache[current] = current
            break
        parent = os.path.dirname(current)
        if parent == current:
            cache[current] = None
            break
        current = parent
    for seen in visited:
        cache[seen] = cache[current]
    return cache[current]


def _editable_entry(repo: str, names: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "kind": "editable",
        "repository": repo,
        "modules": names,
        "commit": None,
        "dirty": None,
        "error": None,
    }
    try:
        out = Git(Path(repo)).run(
            "status", "--porcelain=v2", "--branch", "-z", env={"GIT_OPTIONAL_LOCKS": "0"}
        )
    except GitOperationError as exc:
        entry["error"] = exc.message
        return entry
    lines = [line for line in out.decode("utf-8", "surrogateescape").split("\0") if line]
    oid = next((ln.split(" ", 2)[2] for ln in lines if ln.startswith("# branch.oid ")), None)
    entry["commit"] = None if oid in (None, "(initial)") else oid
    entry["dirty"] = any(not line.startswith("#") for line in lines)
    return entry


def module_warnings(entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """Return what a user should know about ``entries`` from :func:`local_modules`."""
    warnings = []
    for entry in entries:
        kind = entry.get("kind")
        if kind == "repository" and entry.get("ignored"):
            rel = entry["path"]
            warnings.append(
                f"Module '{entry['module']}' ({rel}) is ignored by git, so the snapshot does "
                f"not contain it. Un-ignore it (`git check-ignore -v {rel}` shows the rule) or "
                "move it to a tracked folder."
            )
        elif kind == "editable" and entry.get("error"):
            warnings.append(
                f"Could not read the state of '{entry['repository']}' (imported modules "
                f"{', '.join(entry['modules'][:3])}): {entry['error']}"
            )
        elif kind == "editable" and entry.get("dirty"):
            warnings.append(
                f"'{entry['repository']}' has uncommitted changes: the experiment records its "
                f"commit {str(entry['commit'])[:8]} but not the changes. Commit them there."
            )
        elif kind == "external":
            warnings.append(
                f"Module '{entry['module']}' comes from {entry['path']}, outside any git "
                "repository: its code is not recorded."
            )
    return warnings


def code_cells(path: Path) -> list[tuple[int, str]] | None:
    """Return (index in the notebook's cells, source) of each code cell; None if unreadable.

    Read with :mod:`json` (not nbformat) and cached by the file's size and mtime.
    """
    try:
        st = path.stat()
    except OSError:
        return None
    key = (st.st_size, st.st_mtime_ns)
    cached = _CELL_CACHE.get(str(path))
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        cells = json.loads(path.read_bytes()).get("cells")
        result = [
            (i, _source(cell.get("source")))
            for i, cell in enumerate(cells)
            if cell.get("cell_type") == "code"
        ]
    except (OSError, ValueError, AttributeError, TypeError):  # not a v4 notebook
        result = None
    _CELL_CACHE[str(path)] = (key, result)
    return result


def match_cells(
    sources: Sequence[str], cells: Sequence[tuple[int, str]] | None
) -> tuple[list[int | None], bool | None]:
    """Return each executed source's cell index (None: no match) and the out-of-order flag.

    Cells with the same text are matched in order, each to one input: a source takes the
    first cell with its text below the previous match that no earlier input took, else the
    first free one above it (out of order). When every cell with its text is taken, a cell
    ran again (out of order: the closest one above is named), unless an earlier input
    matched no cell. Then the saved notebook is behind the kernel (JupyterLab does not save
    before running a cell), the input may be a copy not saved yet, and it stays unmatched.
    """
    if cells is None:
        return [None] * len(sources), None
    by_source: dict[str, list[int]] = {}
    for index, source in cells:
        by_source.setdefault(source.strip(), []).append(index)
    taken: set[int] = set()
    positions: list[int | None] = []
    last, out_of_order, stale = -1, False, False
    for source in sources:
        match = _next_cell(by_source.get(source.strip(), []), taken, last, stale=stale)
        positions.append(match)
        if match is None:
            stale = True
            continue
        out_of_order = out_of_order or match <= last
        taken.add(match)
        last = match
    return positions, out_of_order


def _next_cell(indexes: list[int], taken: set[int], last: int, *, stale: bool) -> int | None:
    free = [i for i in indexes if i not in taken]
    if free:
        return next((i for i in free if i > last), free[0])
    if not indexes or stale:
        return None
    return max((i for i in indexes if i <= last), default=indexes[0])


def _source(value: Any) -> str:
    return "".join(str(v) for v in value) if isinstance(value, list) else str(value or "")
