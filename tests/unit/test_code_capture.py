"""Local code capture: imported modules by origin, and executed inputs matched to cells."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from mlvc_jupyter.core.environment.code import (
    code_cells,
    local_modules,
    match_cells,
    module_warnings,
)


def _module(name: str, file: Path | str | None) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = None if file is None else str(file)
    return module


@pytest.fixture
def project(git_repo: Any) -> Any:
    """A repository with a tracked, an untracked and an ignored module."""
    git_repo.write({".gitignore": "scratch/\n", "src/helpers.py": "X = 1\n"})
    git_repo.commit("helpers")
    git_repo.write({"new_mod.py": "Y = 2\n", "scratch/tmp_mod.py": "Z = 3\n"})
    return git_repo


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """Another git repository, as an editable install of a library would be."""
    path = tmp_path / "mylib"
    (path / "mylib").mkdir(parents=True)
    (path / "mylib" / "__init__.py").write_text("")
    (path / "mylib" / "core.py").write_text("A = 1\n")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, check=True)
    subprocess.run(["git", "add", "-A"], cwd=path, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "lib"], cwd=path, check=True)
    return path


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([], []),
        (["helpers"], [("src/helpers.py", False)]),
        (
            ["helpers", "new_mod", "tmp_mod"],
            [("new_mod.py", False), ("scratch/tmp_mod.py", True), ("src/helpers.py", False)],
        ),
    ],
    ids=["none", "one-tracked", "tracked-untracked-ignored"],
)
def test_repository_modules_with_their_ignored_state(
    project: Any, names: list[str], expected: list[tuple[str, bool]]
) -> None:
    files = {
        "helpers": project.path / "src/helpers.py",
        "new_mod": project.path / "new_mod.py",
        "tmp_mod": project.path / "scratch/tmp_mod.py",
    }
    modules = {name: _module(name, files[name]) for name in names}
    modules["json"] = sys.modules["json"]  # stdlib: skipped

    entries = local_modules(project.path, modules)

    assert [(e["path"], e["ignored"]) for e in entries] == expected
    assert all(e["kind"] == "repository" for e in entries)
    warnings = module_warnings(entries)
    ignored = [path for path, flag in expected if flag]
    assert len(warnings) == len(ignored)
    for path, warning in zip(ignored, warnings, strict=True):
        assert f"({path}) is ignored by git" in warning
        assert f"git check-ignore -v {path}" in warning


def test_one_check_ignore_process_for_many_modules(project: Any, git_calls: Any) -> None:
    modules = {f"m{i}": _module(f"m{i}", project.path / f"pkg/m{i}.py") for i in range(200)}

    entries = local_modules(project.path, modules)

    assert len(entries) == 200
    assert git_calls.count("check-ignore") == 1


@pytest.mark.parametrize("dirty", [False, True], ids=["clean", "dirty"])
def test_editable_install_from_another_repository(
    project: Any, library: Path, dirty: bool, git_calls: Any
) -> None:
    if dirty:
        (library / "mylib" / "core.py").write_text("A = 2\n")
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=library, capture_output=True, text=True, check=True
    ).stdout.strip()
    modules = {
        "mylib": _module("mylib", library / "mylib/__init__.py"),
        "mylib.core": _module("mylib.core", library / "mylib/core.py"),
    }
    entries = local_modules(project.path, modules)

    assert git_calls.count("status") == 1  # one per repository, not per module
    assert entries == [
        {
            "kind": "editable",
            "repository": str(library.resolve()),
            "modules": ["mylib", "mylib.core"],
            "commit": head,
            "dirty": dirty,
            "error": None,
        }
    ]
    warnings = module_warnings(entries)
    assert len(warnings) == int(dirty)
    if dirty:
        assert f"commit {head[:8]} but not the changes" in warnings[0]


def test_modules_outside_any_repository_are_flagged(project: Any, tmp_path: Path) -> None:
    loose = tmp_path / "loose" / "util.py"
    loose.parent.mkdir()
    loose.write_text("")

    entries = local_modules(project.path, {"util": _module("util", loose)})

    assert entries == [
        {"module": "util", "path": str(loose.resolve()), "kind": "external", "repository": None}
    ]
    assert "outside any git repository" in module_warnings(entries)[0]


def test_odd_sys_modules_entries_are_skipped(project: Any) -> None:
    class NoDict:
        __slots__ = ()

    modules: dict[str, Any] = {
        "none": None,
        "no_dict": NoDict(),
        "no_file": _module("no_file", None),
        "__main__": _module("__main__", "<stdin>"),
        "pytest": sys.modules["pytest"],  # site-packages
        "inside_git_dir": _module("x", project.path / ".git/mlvc/worktrees/e/x.py"),
    }
    assert local_modules(project.path, modules) == []


def test_a_symlinked_module_counts_where_it_resolves(project: Any, tmp_path: Path) -> None:
    link = tmp_path / "linked_helpers.py"
    link.symlink_to(project.path / "src/helpers.py")

    entries = local_modules(project.path, {"helpers": _module("helpers", link)})

    assert [e["path"] for e in entries] == ["src/helpers.py"]


INSTALLED = ("numpy", "IPython", "sklearn.linear_model", "email.mime.text", "asyncio", "json")


def test_scanning_the_real_sys_modules_skips_installed_ones_without_git(
    project: Any, git_calls: Any
) -> None:
    for name in INSTALLED:
        __import__(name)
    assert len(sys.modules) > 1000

    entries = local_modules(project.path)

    named = {e.get("module") for e in entries} | {m for e in entries for m in e.get("modules", ())}
    assert named.isdisjoint(INSTALLED)  # stdlib and site-packages: skipped by their prefix
    editable = [e for e in entries if e["kind"] == "editable"]
    # git runs once per other repository (its status) and at most once for ignores, never per
    # module: the cost of a scan does not grow with the 1,000+ installed modules.
    assert git_calls.count("status") == len(editable)
    assert git_calls.count("check-ignore") <= 1
    assert len(git_calls.commands) == len(editable) + git_calls.count("check-ignore")


# -- executed inputs against notebook cells -----------------------------------------------------


def _notebook(path: Path, sources: list[str | list[str]], *, markdown_at: int = 1) -> Path:
    cells: list[dict[str, Any]] = [
        {"cell_type": "code", "source": s, "metadata": {}, "outputs": [], "execution_count": None}
        for s in sources
    ]
    cells.insert(markdown_at, {"cell_type": "markdown", "source": "# title", "metadata": {}})
    path.write_text(
        json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells})
    )
    return path


def test_code_cells_gives_positions_and_joined_sources(tmp_path: Path) -> None:
    nb = _notebook(tmp_path / "a.ipynb", ["x = 1", ["y = 2\n", "z = 3"]])
    assert code_cells(nb) == [(0, "x = 1"), (2, "y = 2\nz = 3")]


@pytest.mark.parametrize(
    "content",
    ["not json", json.dumps({"nbformat": 3, "worksheets": []}), json.dumps([1, 2])],
    ids=["not-json", "v3-notebook", "a-list"],
)
def test_code_cells_is_none_for_unreadable_notebooks(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_text(content)
    assert code_cells(path) is None
    assert code_cells(tmp_path / "missing.ipynb") is None


def test_code_cells_rereads_a_changed_notebook(tmp_path: Path) -> None:
    nb = _notebook(tmp_path / "a.ipynb", ["x = 1"])
    assert code_cells(nb) == [(0, "x = 1")]
    _notebook(nb, ["x = 1", "y = 2", "z = 3"])
    assert code_cells(nb) == [(0, "x = 1"), (2, "y = 2"), (3, "z = 3")]


CELLS = [(0, "a = 1"), (2, "b = a + 1"), (3, "print(b)"), (4, "print(b)")]


@pytest.mark.parametrize(
    ("sources", "positions", "out_of_order"),
    [
        ([], [], False),
        (["a = 1"], [0], False),
        (["a = 1", "b = a + 1", "print(b)", "print(b)"], [0, 2, 3, 4], False),
        (["a = 1", "print(b)", "b = a + 1"], [0, 3, 2], True),
        (["a = 1", "a = 1"], [0, 0], True),
        (["a = 1", "edited since", "b = a + 1"], [0, None, 2], False),
        (["a = 1\n\n", "  b = a + 1  "], [0, 2], False),
    ],
    ids=[
        "nothing-ran",
        "one-cell",
        "top-to-bottom-with-duplicate-source",
        "earlier-cell-after-later",
        "cell-re-run",
        "unmatched-input-does-not-decide",
        "surrounding-whitespace-ignored",
    ],
)
def test_match_cells(sources: list[str], positions: list[int | None], out_of_order: bool) -> None:
    assert match_cells(sources, CELLS) == (positions, out_of_order)


SAVED = [(0, "%vc_start a"), (1, "train()"), (2, "%vc_end")]
BOTH_SAVED = [*SAVED, (3, "%vc_start b"), (4, "train()"), (5, "%vc_end")]
TWO_RUNS = ["%vc_start a", "train()", "%vc_end", "%vc_start b", "train()", "%vc_end"]


@pytest.mark.parametrize(
    ("cells", "sources", "positions", "out_of_order"),
    [
        (BOTH_SAVED, TWO_RUNS, [0, 1, 2, 3, 4, 5], False),
        (SAVED, TWO_RUNS, [0, 1, 2, None, None, None], False),
        ([(0, "A"), (1, "B"), (2, "A")], ["B", "A"], [1, 2], False),
        ([(0, "A"), (1, "B"), (2, "A")], ["A", "B", "A", "A"], [0, 1, 2, 2], True),
        (SAVED, ["%vc_start a", "train()", "train()"], [0, 1, 1], True),
        (SAVED, ["%vc_start a", "new cell", "train()", "train()"], [0, None, 1, None], False),
    ],
    ids=[
        "same-text-cells-in-order",
        "same-text-cells-not-saved-yet",
        "the-later-copy",
        "more-runs-than-copies",
        "re-run-in-a-saved-notebook",
        "re-run-or-unsaved-copy-is-unknown",
    ],
)
def test_match_cells_with_repeated_cell_text(
    cells: list[tuple[int, str]],
    sources: list[str],
    positions: list[int | None],
    out_of_order: bool,
) -> None:
    assert match_cells(sources, cells) == (positions, out_of_order)


def test_match_cells_without_a_notebook_is_unknown() -> None:
    assert match_cells(["a = 1", "b = 2"], None) == ([None, None], None)
