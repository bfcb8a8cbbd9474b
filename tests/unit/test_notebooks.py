"""Output stripping: what goes, what stays, and the bytes Jupyter would write."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat import v2, v3
from nbformat.v4 import (
    new_code_cell,
    new_markdown_cell,
    new_notebook,
    new_output,
    new_raw_cell,
)

import mlvc_jupyter
from mlvc_jupyter.core.notebooks.strip import UnreadableNotebookError, strip_bytes, strip_notebook
from mlvc_jupyter.errors import ConfigError

PNG = (  # a 1x1 image, base64 as Jupyter stores it
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def _outputs(count: int) -> list[Any]:
    return [
        new_output("stream", name="stdout", text="epoch 1 loss 0.5\nepoch 2 loss 0.25\n"),
        new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
        new_output("execute_result", data={"text/plain": "0.25"}, execution_count=count),
    ]


def _notebook(*, executed: bool, tags: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    """A small v4.5 notebook with fixed ids; ``executed`` adds outputs, counts and volatile keys."""
    cells = [
        new_markdown_cell("# Training ünïcode ✓", id="intro"),
        new_code_cell("import math\nloss = math.exp(-2)\nloss", id="train"),
        new_code_cell("print('plot')", id="plot", metadata={"tags": list(tags)} if tags else {}),
    ]
    nb = new_notebook(
        cells=cells,
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "py"}},
    )
    if executed:
        for count, cell in enumerate(nb.cells[1:], start=1):
            cell.execution_count = count
            cell.outputs = _outputs(count)
            cell.metadata.update(
                execution={"iopub.status.busy": "2026-01-01T00:00:00Z"},
                collapsed=False,
                scrolled=True,
                ExecuteTime={"start_time": "2026-01-01T00:00:00Z"},
            )
        nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


def _saved(nb: nbformat.NotebookNode) -> bytes:
    """The bytes Jupyter writes for ``nb`` (nbformat.write adds the final newline)."""
    return (nbformat.writes(nb) + "\n").encode()


def _code_cells(nb: dict[str, Any]) -> list[dict[str, Any]]:
    return [cell for cell in nb["cells"] if cell["cell_type"] == "code"]


def test_golden_round_trip_equals_what_jupyter_writes_for_the_stripped_notebook() -> None:
    assert strip_bytes(_saved(_notebook(executed=True))) == _saved(_notebook(executed=False))


def _every_kind_of_content() -> dict[str, Any]:
    """A notebook as files hold it: lines as lists, kept outputs of every mimetype, attachments."""
    kept = new_code_cell("show()\n", id="kept", metadata={"tags": ["keep_output"]})
    kept.outputs = [
        new_output("stream", name="stderr", text="warn 1\nwarn 2\n"),
        new_output(
            "display_data",
            data={
                "image/png": PNG,
                "image/svg+xml": "<svg>\n<g/>\n</svg>",
                "application/javascript": "a();\nb();",
                "application/json": {"k": ["v\n", "w"]},
                "application/vnd.custom+json": {"x": 1},
                "text/html": "<b>x</b>\n<i>y</i>",
                "text/plain": "x\ny",
            },
            metadata={"image/png": {"width": 10}},
        ),
        new_output("error", ename="ValueError", evalue="bad", traceback=["line 1\n", "line 2"]),
    ]
    attached = new_markdown_cell("![a](attachment:a.png)\nmore", id="attached")
    attached.attachments = {"a.png": {"image/png": PNG, "text/plain": "a\nb"}}
    nb = new_notebook(cells=[attached, kept, new_raw_cell("raw\ntext", id="raw")])
    data = json.loads(_saved(nb))
    data["metadata"].update(signature="sha256:x", orig_nbformat=3)  # transient: never written
    data["cells"][1]["metadata"]["trusted"] = True
    bundle = data["cells"][1]["outputs"][1]["data"]
    bundle["image/png"] = [PNG[:40] + "\n", PNG[40:]]  # old writers split base64 into lines
    return dict(data)


def test_bytes_equal_what_nbformat_writes_after_loading_the_stripped_notebook() -> None:
    raw = json.dumps(_every_kind_of_content(), indent=2).encode()

    reloaded = nbformat.reads(json.dumps(strip_notebook(json.loads(raw))), nbformat.NO_CONVERT)

    assert strip_bytes(raw) == (nbformat.writes(reloaded) + "\n").encode()


def test_importing_the_module_does_not_import_nbformat() -> None:
    # import nbformat costs ~0.9 s where Jupyter installed rfc3987-syntax (jsonschema#1428)
    code = "import sys, mlvc_jupyter.core.notebooks.strip; print('nbformat' in sys.modules)"
    root = Path(mlvc_jupyter.__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, check=True, text=True
    )

    assert out.stdout.strip() == "False"


def test_outputs_and_execution_counts_are_cleared() -> None:
    stripped = strip_notebook(json.loads(_saved(_notebook(executed=True))))

    for cell in _code_cells(stripped):
        assert cell["outputs"] == []
        assert cell["execution_count"] is None


def test_volatile_metadata_goes_and_other_metadata_stays() -> None:
    stripped = strip_notebook(json.loads(_saved(_notebook(executed=True, tags=("slow",)))))

    assert "widgets" not in stripped["metadata"]
    assert stripped["metadata"]["kernelspec"]["name"] == "python3"
    assert [cell["metadata"] for cell in _code_cells(stripped)] == [{}, {"tags": ["slow"]}]


@pytest.mark.parametrize(
    ("tag", "keep_output_tag"),
    [
        pytest.param("keep_output", "keep_output", id="default-tag"),
        pytest.param("show", "show", id="custom-tag"),
    ],
)
def test_tagged_cell_keeps_outputs_but_not_counts(tag: str, keep_output_tag: str) -> None:
    nb = json.loads(_saved(_notebook(executed=True, tags=(tag, "other"))))

    train, plot = _code_cells(strip_notebook(nb, keep_output_tag=keep_output_tag))

    assert train["outputs"] == []
    assert [o["output_type"] for o in plot["outputs"]] == [
        "stream",
        "display_data",
        "execute_result",
    ]
    assert plot["outputs"][1]["data"]["image/png"] == PNG
    assert plot["execution_count"] is None
    assert plot["outputs"][2]["execution_count"] is None  # nbstripout without --keep-count


@pytest.mark.parametrize(
    ("metadata", "kept"),
    [
        pytest.param({}, False, id="neither"),
        pytest.param({"keep_output": True}, True, id="metadata-flag"),
        pytest.param({"tags": ["keep_output"]}, True, id="tag"),
        pytest.param({"keep_output": True, "tags": ["keep_output"]}, True, id="flag-and-tag"),
        pytest.param({"keep_output": False}, False, id="flag-false"),
        # Outputs go only when nothing asks to keep them: a false flag does not cancel the tag.
        pytest.param({"keep_output": False, "tags": ["keep_output"]}, True, id="false-flag-tag"),
        pytest.param({"keep_output": "yes"}, False, id="flag-not-boolean"),
    ],
)
def test_the_keep_output_metadata_flag_keeps_outputs_like_the_tag(
    metadata: dict[str, Any], kept: bool
) -> None:
    # nbstripout's test_keep_output_tags.ipynb: cells marked either way keep their outputs.
    nb = json.loads(_saved(_notebook(executed=True)))
    nb["cells"][2]["metadata"].update(metadata)

    train, plot = _code_cells(strip_notebook(nb))

    assert train["outputs"] == []
    assert len(plot["outputs"]) == (3 if kept else 0)
    assert plot["execution_count"] is None
    assert plot["metadata"].get("keep_output") == metadata.get("keep_output")


def test_the_keep_output_flag_is_honoured_in_a_v3_notebook() -> None:
    nb = json.loads(_v3_notebook())
    for cell in nb["worksheets"][0]["cells"][1:]:
        cell["metadata"] = {"keep_output": True}

    plain, kept = _code_cells(strip_notebook(nb))

    assert [len(plain["outputs"]), len(kept["outputs"])] == [1, 1]


def test_a_different_tag_does_not_keep_outputs() -> None:
    nb = json.loads(_saved(_notebook(executed=True, tags=("keep_output",))))

    assert all(c["outputs"] == [] for c in _code_cells(strip_notebook(nb, keep_output_tag="x")))


@pytest.mark.parametrize(
    ("extra_keys", "notebook_metadata", "cell_metadata"),
    [
        pytest.param((), {"a": {"b": 1, "c": 2}, "d": 3}, {"e": 4, "f": {"g": 5}}, id="none"),
        pytest.param(("metadata.d",), {"a": {"b": 1, "c": 2}}, {"e": 4, "f": {"g": 5}}, id="one"),
        pytest.param(
            ("metadata.a.b", "cell.metadata.e", "cell.metadata.f.g", "metadata.absent.x"),
            {"a": {"c": 2}, "d": 3},
            {"f": {}},
            id="many",
        ),
        pytest.param(
            "metadata.d cell.metadata.e", {"a": {"b": 1, "c": 2}}, {"f": {"g": 5}}, id="one-string"
        ),
    ],
)
def test_extra_keys_are_removed(
    extra_keys: tuple[str, ...] | str,
    notebook_metadata: dict[str, Any],
    cell_metadata: dict[str, Any],
) -> None:
    nb = _notebook(executed=True)
    nb.metadata = {"a": {"b": 1, "c": 2}, "d": 3}
    for cell in nb.cells:
        cell.metadata = {"e": 4, "f": {"g": 5}, "execution": {}}

    stripped = strip_notebook(json.loads(_saved(nb)), extra_keys=extra_keys)

    assert stripped["metadata"] == notebook_metadata
    assert [cell["metadata"] for cell in stripped["cells"]] == [cell_metadata] * 3


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("outputs", id="no-prefix"),
        pytest.param("metadata.", id="empty-path"),
        pytest.param("cell.outputs", id="cell-not-metadata"),
        pytest.param("metadata..x", id="empty-segment"),
    ],
)
def test_a_malformed_extra_key_is_a_config_error(key: str) -> None:
    with pytest.raises(ConfigError, match=f"Cannot strip the metadata key '{key}'"):
        strip_notebook(json.loads(_saved(_notebook(executed=True))), extra_keys=[key])


def test_the_input_is_not_mutated() -> None:
    nb = json.loads(_saved(_notebook(executed=True, tags=("keep_output",))))
    before = copy.deepcopy(nb)

    stripped = strip_notebook(nb, extra_keys=["metadata.kernelspec.name", "cell.metadata.tags"])
    _code_cells(stripped)[1]["outputs"][0]["text"] = "changed"
    stripped["metadata"]["kernelspec"]["new"] = 1

    assert nb == before


def test_a_notebook_node_is_accepted_and_plain_dicts_come_back() -> None:
    stripped = strip_notebook(_notebook(executed=True))

    assert type(stripped) is dict
    assert all(type(cell) is dict for cell in stripped["cells"])


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(_saved(_notebook(executed=True)), id="executed"),
        pytest.param(_saved(_notebook(executed=True, tags=("keep_output",))), id="kept-output"),
        pytest.param(_saved(_notebook(executed=False)), id="saved-stripped-by-jupyter"),
        pytest.param(json.dumps(_notebook(executed=True)).encode(), id="compact-json"),
    ],
)
def test_stripping_is_idempotent(raw: bytes) -> None:
    once = strip_bytes(raw)

    assert strip_bytes(once) == once


def test_a_notebook_jupyter_saved_stripped_comes_back_byte_identical() -> None:
    saved = _saved(_notebook(executed=False))

    assert strip_bytes(saved) == saved


def test_output_is_utf8_unescaped_with_a_final_newline() -> None:
    out = strip_bytes(json.dumps(_notebook(executed=True), ensure_ascii=True).encode())

    assert "ünïcode ✓".encode() in out
    assert out.endswith(b"}\n")


def test_v4_4_without_cell_ids_stays_v4_4_without_ids() -> None:
    nb = json.loads(_saved(_notebook(executed=True)))
    nb["nbformat_minor"] = 4
    for cell in nb["cells"]:
        del cell["id"]

    stripped = json.loads(strip_bytes(json.dumps(nb).encode()))

    assert stripped["nbformat_minor"] == 4
    assert all("id" not in cell for cell in stripped["cells"])
    assert all(cell["outputs"] == [] for cell in _code_cells(stripped))


def _v3_notebook() -> bytes:
    plain = v3.new_code_cell(
        input="x = 1\nx",
        prompt_number=1,
        outputs=[v3.new_output("pyout", output_text="1", prompt_number=1)],
        collapsed=True,
    )
    kept = v3.new_code_cell(
        input="plot()",
        prompt_number=2,
        outputs=[v3.new_output("display_data", output_png=PNG)],
        metadata={"tags": ["keep_output"]},
    )
    sheet = v3.new_worksheet(cells=[v3.new_heading_cell("Old notebook"), plain, kept])
    return v3.nbjson.writes(v3.new_notebook(name="old", worksheets=[sheet])).encode()


def test_a_v3_notebook_is_upgraded_to_v4_and_stripped_deterministically() -> None:
    out = strip_bytes(_v3_notebook())
    nb = nbformat.reads(out.decode(), as_version=nbformat.NO_CONVERT)

    nbformat.validate(nb)
    assert (nb.nbformat, [cell.id for cell in nb.cells]) == (4, ["0", "1", "2"])
    assert nb.cells[0].source == "# Old notebook"
    assert (nb.cells[1].outputs, nb.cells[1].execution_count) == ([], None)
    assert nb.cells[1].metadata == {}  # v3's cell-level `collapsed` is volatile
    assert nb.cells[2].outputs[0].data["image/png"] == PNG
    assert strip_bytes(_v3_notebook()) == out
    assert strip_bytes(out) == out


def _v2_notebook() -> bytes:
    """An nbformat 2 notebook (IPython 0.12): worksheets, no cell metadata, pyout outputs."""
    code = v2.new_code_cell(
        input="x = 1\nx",
        prompt_number=1,
        outputs=[
            v2.new_output("pyout", output_text="1", prompt_number=1),
            v2.new_output("display_data", output_png=PNG.encode()),
        ],
    )
    text = v2.new_text_cell("markdown", source="# Older still")
    sheet = v2.new_worksheet(cells=[text, code])
    nb = v2.new_notebook(metadata=v2.new_metadata(name="older"), worksheets=[sheet])
    return v2.nbjson.writes(nb).encode()


def test_a_v2_notebook_is_upgraded_to_v4_and_stripped_deterministically() -> None:
    raw = _v2_notebook()
    out = strip_bytes(raw)
    nb = nbformat.reads(out.decode(), as_version=nbformat.NO_CONVERT)

    nbformat.validate(nb)
    assert (nb.nbformat, [cell.id for cell in nb.cells]) == (4, ["0", "1"])
    assert [cell.cell_type for cell in nb.cells] == ["markdown", "code"]
    assert (nb.cells[0].source, nb.cells[1].source) == ("# Older still", "x = 1\nx")
    assert (nb.cells[1].outputs, nb.cells[1].execution_count) == ([], None)
    assert PNG.encode() not in out
    assert strip_bytes(raw) == out
    assert strip_bytes(out) == out


def test_a_v2_notebook_strips_like_nbformats_own_upgrade() -> None:
    upgraded = nbformat.reads(_v2_notebook().decode(), as_version=4)
    for index, cell in enumerate(upgraded.cells):
        cell.id = str(index)  # nbformat numbers nothing; mlvc numbers ids as nbstripout does

    assert strip_bytes(_v2_notebook()) == strip_bytes(_saved(upgraded))


@pytest.mark.parametrize(
    ("version", "imports_nbformat"),
    [pytest.param(4, False, id="v4-hot-path"), pytest.param(2, True, id="v2-upgrade")],
)
def test_only_old_notebooks_import_nbformat(version: int, imports_nbformat: bool) -> None:
    # import nbformat costs ~0.9 s where Jupyter installed rfc3987-syntax (jsonschema#1428)
    data = _saved(_notebook(executed=True)) if version == 4 else _v2_notebook()
    code = (
        "import sys; from mlvc_jupyter.core.notebooks.strip import strip_bytes; "
        "strip_bytes(sys.stdin.buffer.read()); print('nbformat' in sys.modules)"
    )
    root = Path(mlvc_jupyter.__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, input=data, capture_output=True, check=True
    )

    assert out.stdout.strip() == str(imports_nbformat).encode()


def test_strip_notebook_accepts_a_v3_dict_and_leaves_it_alone() -> None:
    nb = json.loads(_v3_notebook())
    before = copy.deepcopy(nb)

    stripped = strip_notebook(nb)

    assert stripped["nbformat"] == 4
    assert nb == before


@pytest.mark.parametrize(
    ("data", "reason", "match"),
    [
        pytest.param(b"", "empty", "The notebook is empty", id="empty"),
        pytest.param(b" \n\n", "empty", "The notebook is empty", id="whitespace"),
        pytest.param(
            b'{\n"cells": [],\n<<<<<<< HEAD\n "metadata": {},\n=======\n "metadata": {"a": 1},\n'
            b'>>>>>>> experiment\n "nbformat": 4,\n "nbformat_minor": 5\n}\n',
            "conflict",
            "merge conflict markers",
            id="merge-conflict",
        ),
        pytest.param(
            _saved(_notebook(executed=True))[:-200],
            "json",
            r"not valid JSON \(.* at line \d+, column \d+\)",
            id="truncated",
        ),
        pytest.param(b"\xff\xfe\xfa", "json", "not valid JSON", id="binary"),
        pytest.param(b"[1, 2]", "not-a-notebook", "no integer `nbformat`", id="json-list"),
        pytest.param(b'{"name": "package"}', "not-a-notebook", "no integer `nbformat`", id="json"),
        pytest.param(b'{"nbformat": 4, "cells": {}}', "not-a-notebook", "no `cells`", id="cells"),
        pytest.param(
            b'{"nbformat": 4, "cells": [{"source": "x"}]}',
            "not-a-notebook",
            "cell 0 is not an object with a `cell_type`",
            id="cell-type",
        ),
        pytest.param(
            b'{"nbformat": 4, "cells": [{"cell_type": "code", "outputs": [1]}]}',
            "not-a-notebook",
            "outputs of cell 0",
            id="outputs",
        ),
        pytest.param(
            b'{"nbformat": 4, "metadata": [], "cells": []}',
            "not-a-notebook",
            "metadata of the notebook",
            id="metadata",
        ),
        pytest.param(b'{"nbformat": 3}', "not-a-notebook", "no `worksheets`", id="v3-sheets"),
        pytest.param(
            b'{"nbformat": 2, "cells": []}', "not-a-notebook", "no `worksheets`", id="v2-sheets"
        ),
        pytest.param(b'{"nbformat": 1, "cells": []}', "version", "nbformat 1", id="nbformat-1"),
        pytest.param(b'{"nbformat": 5, "cells": []}', "version", "nbformat 5", id="nbformat-5"),
        pytest.param(
            b'{"nbformat": 4, "cells": [], "metadata": {"a": "\\ud800"}}',
            "json",
            "not valid Unicode",
            id="lone-surrogate",
        ),
        pytest.param(
            b'{"nbformat": 4, "cells": [], "metadata": {"a": ' + b"[" * 100_000,
            "json",
            "not valid JSON .*recursion",
            id="nested-too-deep",
        ),
    ],
)
def test_unreadable_input_raises_with_reason_and_hint(data: bytes, reason: str, match: str) -> None:
    with pytest.raises(UnreadableNotebookError, match=match) as caught:
        strip_bytes(data)

    assert caught.value.reason == reason
    assert caught.value.hint


def test_strip_notebook_rejects_a_dict_that_is_not_a_notebook() -> None:
    with pytest.raises(UnreadableNotebookError, match="not a Jupyter notebook"):
        strip_notebook({"cells": []})
