"""Result views and the renderers behind them (shared with the CLI): aligned text tables, and
HTML that escapes every user- or git-made string."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from IPython.lib.pretty import pretty

from mlvc_jupyter.core.records import (
    Checkpoint,
    ConfigRestore,
    ExperimentDiff,
    ExperimentPage,
    ExperimentRecord,
    ExperimentSummary,
    GitStatus,
    LargeFile,
    RepoStatus,
)
from mlvc_jupyter.display import (
    CheckpointView,
    DiffView,
    ExperimentListView,
    Notice,
    RecordView,
    RestoreView,
    StatusView,
)
from mlvc_jupyter.render import format_metrics, format_param, format_value, html_table, text_table

EVIL = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


def _summary(name: str = EVIL, **overrides: Any) -> ExperimentSummary:
    values: dict[str, Any] = {
        "id": "exp-1",
        "name": name,
        "status": "success",
        "created": "2025-01-01T00:00:00.000+00:00",
        "updated": "2025-01-01T00:01:00.000+00:00",
        "checkpoints": 3,
        "metrics": {"acc": 0.91234567, EVIL: 1},
        "tags": [f"v1{EVIL}"],
        "branch": "main",
        "head": "a" * 40,
        "commit": "b" * 40,
        "message": f"epoch 3 {EVIL}",
        "extra": {"notebook": f"nb/{EVIL}.ipynb", "seed": 0},
    }
    return ExperimentSummary(**{**values, **overrides})


def _checkpoint() -> Checkpoint:
    return Checkpoint(
        experiment_id="exp-1", commit="c" * 40, seq=2, name=EVIL, status="running",
        message=EVIL, created="", timestamp="", metrics={"loss": 0.5}, tags=[EVIL],
        head=None, branch=None, extra={"notebook": EVIL, "seed": 7},
    )  # fmt: skip


def _status() -> RepoStatus:
    return RepoStatus(
        root=f"/tmp/{EVIL}", state=GitStatus.MODIFIED, branch=EVIL, head="d" * 40,
        detached=False, staged=[EVIL], modified=["train.py"], untracked=[f"{EVIL}.py"],
    )  # fmt: skip


def _record() -> ExperimentRecord:
    return ExperimentRecord(
        summary=_summary(), configs={"opt": {"name": EVIL}, "lr": 0.1}, environment={},
        dirty_files=[EVIL], large_files=[LargeFile(path=EVIL, size=10**9, sha256="e" * 64)],
        notebooks=[], timings={},
        details={"notebook": EVIL, "execution": [{"count": 1}], "out_of_order": True,
                 "unmatched_inputs": 2,
                 "warnings": [EVIL], "error": {"type": "ValueError", "message": EVIL}},
    )  # fmt: skip


def _diff(**overrides: Any) -> ExperimentDiff:
    values: dict[str, Any] = {
        "a": "exp-1",
        "b": "exp-2",
        "params_added": {EVIL: 1},
        "params_removed": {},
        "params_changed": {"lr": (0.1, EVIL)},
        "metrics": {"acc": {"a": 0.5, "b": 0.75, "delta": 0.25}},
        "files": [("M", EVIL)],
    }
    return ExperimentDiff(**{**values, **overrides})


VIEWS: dict[str, Callable[[], Any]] = {
    "status": lambda: StatusView(_status(), active="exp-1", last=_summary()),
    "checkpoint": lambda: CheckpointView(_checkpoint()),
    "experiment-list": lambda: ExperimentListView(
        ExperimentPage(total=5, items=[_summary(), _summary(id="exp-2")], offset=0, limit=2)
    ),
    "record": lambda: RecordView(_record()),
    "diff": lambda: DiffView(_diff()),
    "notice": lambda: Notice(f"Tagged exp-1 as {EVIL}.", EVIL),
    "restore": lambda: RestoreView(
        ConfigRestore(source=EVIL, experiment=None, files=[EVIL], safety_ref="refs/mlvc/safety/x")
    ),
    "restore-nothing": lambda: RestoreView(
        ConfigRestore(source=EVIL, experiment=None, files=[], safety_ref=None)
    ),
}


@pytest.mark.parametrize("make", VIEWS.values(), ids=VIEWS.keys())
def test_html_escapes_every_user_string(make: Callable[[], Any]) -> None:
    html = make()._repr_html_()
    assert ESCAPED in html
    assert "<img" not in html
    assert "onerror=alert(1)>" not in html


@pytest.mark.parametrize("make", VIEWS.values(), ids=VIEWS.keys())
def test_text_shows_the_values_and_pretty_matches_repr(make: Callable[[], Any]) -> None:
    view = make()
    text = repr(view)
    assert EVIL in text  # plain text is not HTML: shown as written
    assert pretty(view) == text


@pytest.mark.parametrize("make", VIEWS.values(), ids=VIEWS.keys())
def test_to_dict_is_json_shaped_and_carries_the_values(make: Callable[[], Any]) -> None:
    data = make().to_dict()
    assert json.loads(json.dumps(data)) == data  # JSON types only: nothing lost on the way
    assert EVIL in json.dumps(data)  # raw: escaping is the renderer's job


def _text_rows(text: str) -> list[tuple[str, ...]]:
    return [tuple(re.split(r" {2,}", line.strip())) for line in text.splitlines() if line.strip()]


def _html_rows(page: str) -> list[tuple[str, ...]]:
    rows = re.findall(r"<tr>(.*?)</tr>", page)
    return [tuple(re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)) for row in rows]


CONTENT: dict[str, list[tuple[str, ...]]] = {
    "status": [("branch", f"{EVIL} @ dddddddd"), ("state", "modified"),
               ("active experiment", "exp-1"), ("last checkpoint", f"#3 bbbbbbbb epoch 3 {EVIL}"),
               ("staged", f"1: {EVIL}"), ("modified", "1: train.py")],
    "checkpoint": [("commit", "cccccccc"), ("metrics", "loss=0.5"), ("tags", EVIL), ("seed", "7"),
                   ("notebook", EVIL)],
    "experiment-list": [("ID", "NAME", "STATUS", "CKPT", "UPDATED", "METRICS", "TAGS")],
    "record": [("experiment", f"exp-1 ({EVIL})"), ("checkpoints", "3"), ("out of order", "yes"),
               ("acc", "0.9123"), ("opt.name", EVIL), ("lr", "0.1"),
               (EVIL, "1000000000 B", "eeeeeeeeeeee")],
    "diff": [("PARAM", "exp-1", "exp-2"), ("lr", "0.1", EVIL), ("acc", "0.5", "0.75", "+0.25"),
             ("M", EVIL)],
}  # fmt: skip


@pytest.mark.parametrize(
    ("make", "rows"), [(VIEWS[key], rows) for key, rows in CONTENT.items()], ids=CONTENT.keys()
)
def test_text_and_html_show_the_record_s_values(
    make: Callable[[], Any], rows: list[tuple[str, ...]]
) -> None:
    view = make()
    text_rows, html_rows = _text_rows(repr(view)), _html_rows(view._repr_html_())
    for row in rows:
        assert row in text_rows
        assert tuple(html.escape(cell) for cell in row) in html_rows


def test_the_experiment_list_shows_one_row_per_experiment() -> None:
    view = VIEWS["experiment-list"]()
    text_rows, html_rows = _text_rows(repr(view)), _html_rows(view._repr_html_())
    assert [row[:4] for row in text_rows[1:3]] == [("exp-1", EVIL, "success", "3"),
                                                   ("exp-2", EVIL, "success", "3")]  # fmt: skip
    assert [row[:2] for row in html_rows[1:]] == [("exp-1", ESCAPED), ("exp-2", ESCAPED)]
    assert repr(view).endswith("showing 1–2 of 5 (--offset 2 for more)")


def test_views_pass_attributes_through_to_the_record() -> None:
    view = CheckpointView(_checkpoint())
    assert view.seq == 2
    assert view.commit == "c" * 40
    assert view.to_dict() == _checkpoint().to_dict()
    with pytest.raises(AttributeError, match="_private"):
        view._private  # noqa: B018 -- the lookup is the test


def test_status_view_adds_the_active_experiment() -> None:
    view = StatusView(_status(), active="exp-1", last=_summary())
    assert view.branch == EVIL
    assert view.to_dict()["active"] == "exp-1"
    assert view.to_dict()["experiment"]["id"] == "exp-1"
    assert re.search(r"last checkpoint +#3 bbbbbbbb epoch 3", repr(view))
    assert "(none: run %vc_start EXP_ID)" in repr(StatusView(_status()))


def test_status_view_names_experiments_left_running() -> None:
    view = StatusView(_status(), running=[_summary(id="lr-0.1")])
    text = " ".join(repr(view).split())
    assert f"still running lr-0.1 (#3, from nb/{EVIL}.ipynb): `%vc_start lr-0.1 --resume`" in text
    assert f"nb/{ESCAPED}.ipynb" in view._repr_html_()
    assert [s["id"] for s in view.to_dict()["running"]] == ["lr-0.1"]


@pytest.mark.parametrize("count", [0, 1, 25], ids=["empty", "one", "many"])
def test_experiment_list_counts(count: int) -> None:
    summaries = [_summary(id=f"exp-{i}", name=f"run {i}") for i in range(count)]
    view = ExperimentListView(ExperimentPage(total=count, items=summaries[:20], offset=0, limit=20))
    text = repr(view)
    assert len(view) == min(count, 20)
    assert [s.id for s in view] == [f"exp-{i}" for i in range(min(count, 20))]
    if count == 0:
        assert text.startswith("No experiments yet.")
    elif count > 20:
        assert text.endswith(f"showing 1–20 of {count} (--offset 20 for more)")
    else:
        assert text.splitlines()[-1] == f"showing 1–{count} of {count}"
        assert len(text.splitlines()) == count + 3  # header, rows, a blank line, the count
    assert view.to_dict()["total"] == count


def test_diff_view_says_when_nothing_differs() -> None:
    empty = _diff(params_added={}, params_changed={}, metrics={}, files=[])
    assert repr(DiffView(empty)).startswith("exp-1 and exp-2 do not differ.\n\nparams\n  (same)")
    assert "do not differ" not in repr(DiffView(_diff()))


def test_record_view_shows_notebook_facts() -> None:
    text = repr(RecordView(_record()))
    for expected in ("out of order  yes", "unsaved runs  2", "cells run     1", "1000000000 B"):
        assert expected in text
    assert f"ValueError: {EVIL}" in text


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([], "ID  NAME"),
        ([("a", "b")], "ID  NAME\na   b"),
        (
            [("exp-1", "first"), ("e", None), ("longer-id", 0.123456)],
            "ID         NAME\nexp-1      first\ne\nlonger-id  0.1235",
        ),
    ],
    ids=["no-rows", "one-row", "many-rows"],
)
def test_text_table_aligns_columns(rows: list[tuple[Any, ...]], expected: str) -> None:
    assert text_table(["ID", "NAME"], rows) == expected


def test_text_table_without_headers_or_rows() -> None:
    assert text_table((), [("status", "success"), ("checkpoints", 3)]) == (
        "status       success\ncheckpoints  3"
    )
    assert text_table((), []) == ""


def test_text_table_strips_control_characters_and_cuts_long_cells() -> None:
    rows = [("red\x1b[31m\nnext", "ok"), ("x" * 200, "y" * 1000)]
    lines = text_table(["m", "last"], rows, max_width=10).splitlines()
    assert "\x1b" not in "".join(lines)
    assert lines[1] == "red [31m …  ok"
    assert lines[2] == "x" * 9 + "…  " + "y" * 399 + "…"  # the last column is cut later


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (True, "yes"),
        (3, "3"),
        (0.000123456, "0.0001235"),
        ({"a": 1, "b": 0.5}, "a=1, b=0.5"),
        (["x", 2], "x, 2"),
    ],
    ids=["none", "bool", "int", "float", "dict", "list"],
)
def test_format_value(value: Any, expected: str) -> None:
    assert format_value(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("adam", "adam"), (0.123456789, "0.123456789"), (True, "true"), (None, "null"),
     ([1, 2], "[1, 2]")],
    ids=["string", "float", "bool", "none", "list"],
)  # fmt: skip
def test_format_param_is_exact(value: Any, expected: str) -> None:
    assert format_param(value) == expected


@pytest.mark.parametrize(
    ("metrics", "width", "expected"),
    [({}, 40, ""), ({"loss": 0.25}, 40, "loss=0.25"),
     ({"loss": 0.25, "acc": 0.9, "f1": 0.123456}, 20, "acc=0.9 f1=0.1235 l…"),
     ({"loss": 0.25, "acc": 0.9}, None, "acc=0.9 loss=0.25")],
    ids=["none", "one", "many-cut", "uncut"],
)  # fmt: skip
def test_format_metrics_sorts_and_cuts(
    metrics: dict[str, Any], width: int | None, expected: str
) -> None:
    assert format_metrics(metrics, width=width) == expected


def test_html_table_escapes_headers_and_caption() -> None:
    html = html_table([EVIL], [(EVIL,)], caption=EVIL)
    assert html.count(ESCAPED) == 3
    assert "<img" not in html
