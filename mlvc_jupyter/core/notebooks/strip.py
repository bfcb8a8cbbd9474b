"""Strip outputs, execution counts and volatile metadata from notebooks, in process.

This is nbstripout's ``strip_output`` made fast enough for the snapshot's hot path: the file is
parsed with :func:`json.loads` into plain dicts, the outputs are dropped before anything else
happens, and the small result is written in the exact layout of nbformat's v4 writer, the one
Jupyter saves with. Nothing is validated against the schema; a notebook only needs the shape this
module relies on, and anything else raises :class:`UnreadableNotebookError`.

nbformat itself is imported only to upgrade v2 and v3 notebooks: ``import nbformat`` imports
jsonschema, whose optional ``rfc3987-syntax`` dependency (installed with Jupyter, through
jupyter-events) builds a grammar at import time: 0.9 s on this project's machine
(python-jsonschema/jsonschema#1428), more than ten times the strip of a 20 MB notebook, and paid
again by every git clean filter process.
``tests/unit/test_notebooks.py`` pins our bytes against ``nbformat.writes``.

What is stripped, following nbstripout's defaults:

* every code cell loses its outputs and its ``execution_count``;
* a cell tagged ``keep_output``, or whose metadata says ``"keep_output": true`` (nbstripout honours
  both), keeps its outputs, but its ``execution_count`` and the counts inside those outputs are
  still cleared (nbstripout without ``--keep-count``), so re-running the notebook does not change
  the stored file. Outputs are kept when either asks: a ``false`` flag does not cancel the tag
  (nbstripout refuses that contradiction; a clean filter that refuses blocks ``git add``);
* cell metadata ``collapsed``, ``execution``, ``ExecuteTime``, ``scrolled`` and notebook metadata
  ``widgets`` are removed, plus any extra keys in nbstripout's dotted form.

Cell ids are kept (Jupyter keeps them stable) and a v4 notebook keeps its minor version. A v2 or
v3 notebook is stored as v4, the form Jupyter would save it in: nbformat's converter upgrades it
(after the outputs are dropped, so it converts little), with ids ``"0"``, ``"1"``, ...
(nbstripout's numbering), so stripping the same file twice gives the same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from mlvc_jupyter.core.configs.values import copy_json
from mlvc_jupyter.errors import ConfigError, UnreadableNotebookError

__all__ = [
    "VOLATILE_CELL_METADATA",
    "VOLATILE_NOTEBOOK_METADATA",
    "UnreadableNotebookError",
    "strip_bytes",
    "strip_notebook",
]

Notebook = dict[str, Any]
_KeyPath = tuple[str, ...]

VOLATILE_CELL_METADATA: Final = ("collapsed", "execution", "ExecuteTime", "scrolled")
VOLATILE_NOTEBOOK_METADATA: Final = ("widgets",)

# nbformat.v4.nbjson.JSONWriter's layout, and the mimetypes its split_lines splits besides text/*.
_JSON_LAYOUT: Final[dict[str, Any]] = {
    "indent": 1,
    "sort_keys": True,
    "separators": (",", ": "),
    "ensure_ascii": False,
}
_SPLIT_MIMES: Final = frozenset({"application/javascript", "image/svg+xml"})

_EXTRA_KEY = re.compile(r"^(cell\.)?metadata(\.[^.\s]+)+$")
_CONFLICT_MARKER = re.compile(rb"^(<{7}|>{7})( |\r?$)", re.MULTILINE)
_STORED_AS_IS = "mlvc stores such a file as it is, outputs included, until it can be read again."


def strip_notebook(
    nb: Notebook, *, extra_keys: Sequence[str] = (), keep_output_tag: str = "keep_output"
) -> Notebook:
    """Return a stripped copy of a notebook given as JSON data; ``nb`` is left untouched.

    Args:
        nb: A parsed nbformat v2, v3 or v4 notebook (plain dicts or ``NotebookNode``).
        extra_keys: More metadata to remove, in nbstripout's form: ``metadata.a.b`` for notebook
            metadata, ``cell.metadata.c`` for every cell's; a single string is split on whitespace.
        keep_output_tag: Cells with this tag in ``metadata.tags`` keep their outputs, as do
            cells whose metadata has ``"keep_output": true``.

    Returns:
        A v4 notebook of plain dicts and lists sharing nothing mutable with ``nb``.

    Raises:
        UnreadableNotebookError: ``nb`` does not have the shape of a v2, v3 or v4 notebook.
        ConfigError: An extra key is not of the form ``metadata.x`` or ``cell.metadata.x``.
    """
    notebook_keys, cell_keys = _key_paths(extra_keys)
    major = _checked_version(nb)
    if major < 4:
        nb = _upgrade(_drop_sheet_outputs(nb, keep_output_tag), major)
    stripped = {key: copy_json(value) for key, value in nb.items() if key != "cells"}
    _pop_paths(stripped.setdefault("metadata", {}), notebook_keys)
    stripped["cells"] = [_strip_cell(cell, cell_keys, keep_output_tag) for cell in nb["cells"]]
    return stripped


def strip_bytes(
    data: bytes, *, extra_keys: Sequence[str] = (), keep_output_tag: str = "keep_output"
) -> bytes:
    """Strip a notebook file's bytes and serialise the result exactly as Jupyter saves notebooks.

    The output is nbformat's v4 JSON (``indent=1``, sorted keys, UTF-8 unescaped, final newline),
    so the function is idempotent and a stripped notebook saved by Jupyter comes back unchanged.

    Args:
        data: The notebook file's content.
        extra_keys: See :func:`strip_notebook`.
        keep_output_tag: See :func:`strip_notebook`.

    Returns:
        The stripped notebook as UTF-8 bytes.

    Raises:
        UnreadableNotebookError: The bytes are empty, carry merge conflict markers, are not JSON,
            or are not a v2/v3/v4 notebook. Callers store such files as they are.
        ConfigError: An extra key is not of the form ``metadata.x`` or ``cell.metadata.x``.
    """
    nb = _parse(data)
    try:
        stripped = strip_notebook(nb, extra_keys=extra_keys, keep_output_tag=keep_output_tag)
        return (_dumps(stripped) + "\n").encode("utf-8")  # nbformat.write adds the final newline
    except RecursionError as exc:
        raise _unreadable("The notebook's JSON is nested too deeply to process.", "json") from exc
    except UnicodeEncodeError as exc:  # a lone surrogate escape such as "\\ud800"
        raise _unreadable("The notebook contains text that is not valid Unicode.", "json") from exc


def _unreadable(message: str, reason: str, hint: str = _STORED_AS_IS) -> UnreadableNotebookError:
    return UnreadableNotebookError(message, reason=reason, hint=hint)


def _parse(data: bytes) -> Notebook:
    if not data or data.isspace():
        raise _unreadable(
            "The notebook is empty.", "empty", "Open it in Jupyter and save it, or delete it."
        )
    try:
        nb = json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, nesting
        raise _not_json(data, exc) from exc
    return nb  # type: ignore[no-any-return]  # JSON data; strip_notebook checks its shape


def _not_json(data: bytes, exc: Exception) -> UnreadableNotebookError:
    if _CONFLICT_MARKER.search(data):
        return _unreadable(
            "The notebook contains git merge conflict markers (<<<<<<< / >>>>>>>).",
            "conflict",
            "Resolve the conflict (for example with `nbdime mergetool`), save the notebook, "
            "and retry.",
        )
    detail = (
        f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
        if isinstance(exc, json.JSONDecodeError)
        else str(exc)
    )
    return _unreadable(
        f"The notebook is not valid JSON ({detail}).",
        "json",
        "It may have been truncated by an interrupted save or a full disk: restore it with "
        "`git restore <path>` or Jupyter's File > Revert, or fix it in a text editor.",
    )


def _checked_version(nb: object) -> int:
    """Return the notebook's major version after checking the shape this module relies on."""
    if not isinstance(nb, dict) or type(nb.get("nbformat")) is not int:
        raise _not_a_notebook("it has no integer `nbformat` field")
    major: int = nb["nbformat"]
    if major not in (2, 3, 4):
        raise _unreadable(
            f"The notebook has nbformat {major}; mlvc can strip nbformat 2, 3 and 4.",
            "version",
            "Open and save it with a current Jupyter, which converts it to nbformat 4.",
        )
    _check_metadata(nb, "the notebook")
    _check_cells(nb.get("cells") if major == 4 else _sheet_cells(nb, major))
    return major


def _sheet_cells(nb: Notebook, major: int) -> list[Any]:
    """Return the cells of a v2 or v3 notebook, which keeps them in worksheets."""
    sheets = nb.get("worksheets")
    if not isinstance(sheets, list) or not all(
        isinstance(sheet, dict) and isinstance(sheet.get("cells"), list) for sheet in sheets
    ):
        raise _not_a_notebook(f"it is nbformat {major} but has no `worksheets` list with `cells`")
    return [cell for sheet in sheets for cell in sheet["cells"]]


def _check_cells(cells: object) -> None:
    if not isinstance(cells, list):
        raise _not_a_notebook("it has no `cells` list")
    for index, cell in enumerate(cells):
        where = f"cell {index}"
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise _not_a_notebook(f"{where} is not an object with a `cell_type`")
        _check_metadata(cell, where)
        outputs = cell.get("outputs", [])
        if not isinstance(outputs, list) or not all(_is_output(o) for o in outputs):
            raise _not_a_notebook(f"the outputs of {where} are not a list of outputs")


def _check_metadata(container: Notebook, where: str) -> None:
    if not isinstance(container.get("metadata", {}), dict):
        raise _not_a_notebook(f"the metadata of {where} is not an object")


def _is_output(output: object) -> bool:
    return isinstance(output, dict) and isinstance(output.get("output_type"), str)


def _not_a_notebook(what: str) -> UnreadableNotebookError:
    return _unreadable(
        f"The file is JSON but not a Jupyter notebook: {what}.",
        "not-a-notebook",
        "Check that the file is a notebook; only nbformat 2, 3 and 4 notebooks can be stripped.",
    )


def _key_paths(extra_keys: Sequence[str]) -> tuple[list[_KeyPath], list[_KeyPath]]:
    """Split extra keys into notebook and cell metadata paths, defaults first."""
    keys: Iterable[str] = extra_keys.split() if isinstance(extra_keys, str) else extra_keys
    notebook: list[_KeyPath] = [(key,) for key in VOLATILE_NOTEBOOK_METADATA]
    cell: list[_KeyPath] = [(key,) for key in VOLATILE_CELL_METADATA]
    for key in keys:
        if not _EXTRA_KEY.match(key):
            raise ConfigError(
                f"Cannot strip the metadata key '{key}'.",
                hint="Write keys like nbstripout does: `metadata.<key>` for the notebook's "
                "metadata, `cell.metadata.<key>` for every cell's (dots for nesting).",
            )
        scope, _, path = key.partition("metadata.")
        (cell if scope else notebook).append(tuple(path.split(".")))
    return notebook, cell


def _strip_cell(cell: Notebook, cell_keys: list[_KeyPath], keep_output_tag: str) -> Notebook:
    stripped = {key: copy_json(value) for key, value in cell.items() if key != "outputs"}
    if stripped["cell_type"] == "code":
        stripped["outputs"] = _kept_outputs(cell, keep_output_tag)
        stripped["execution_count"] = None
    _pop_paths(stripped.setdefault("metadata", {}), cell_keys)
    return stripped


def _kept_outputs(cell: Notebook, keep_output_tag: str) -> list[Any]:
    if not _keeps_output(cell, keep_output_tag):
        return []
    outputs: list[Any] = copy_json(cell.get("outputs", []))
    for output in outputs:
        if "execution_count" in output:
            output["execution_count"] = None
    return outputs


def _keeps_output(cell: Notebook, tag: str) -> bool:
    """Whether the cell's metadata asks to keep outputs: the tag, or nbstripout's flag."""
    metadata = cell.get("metadata", {})
    tags = metadata.get("tags", [])
    return metadata.get("keep_output") is True or (isinstance(tags, list) and tag in tags)


def _pop_paths(metadata: Notebook, paths: list[_KeyPath]) -> None:
    for path in paths:
        parent: Any = metadata
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            parent.pop(path[-1], None)


def _drop_sheet_outputs(nb: Notebook, keep_output_tag: str) -> Notebook:
    """Return ``nb`` with the outputs of untagged cells emptied, so the upgrade works on little."""

    def without_outputs(cell: Notebook) -> Notebook:
        if cell["cell_type"] != "code":
            return cell
        return {**cell, "outputs": _kept_outputs(cell, keep_output_tag)}

    worksheets = [
        {**sheet, "cells": [without_outputs(cell) for cell in sheet["cells"]]}
        for sheet in nb["worksheets"]
    ]
    return {**nb, "metadata": nb.get("metadata", {}), "worksheets": worksheets}


def _upgrade(nb: Notebook, major: int) -> Notebook:
    """Upgrade v2 or v3 to v4 with nbformat's converter, then number the cell ids deterministically.

    Raises:
        UnreadableNotebookError: The converter failed on a malformed old notebook.
    """
    import nbformat  # deferred: importing nbformat is slow (module docstring)

    # nbformat ships py.typed but leaves these unannotated: typed views of them.
    read: Callable[[Notebook], Notebook] = nbformat.versions[major].to_notebook_json
    convert: Callable[[Notebook, int], Notebook] = nbformat.convert
    try:
        upgraded = convert(read(nb), 4)
    # what the readers and upgrade_cell can raise; convert turns AttributeError into ValidationError
    except (AttributeError, KeyError, TypeError, ValueError, nbformat.ValidationError) as exc:
        raise _not_a_notebook(
            f"its nbformat {major} cells cannot be converted to nbformat 4 ({exc})"
        ) from exc
    for index, cell in enumerate(upgraded["cells"]):
        cell["id"] = str(index)
    return upgraded


def _dumps(nb: Notebook) -> str:
    """Serialise a stripped notebook (in place) as nbformat's v4 writer does after a load.

    That writer's steps: lists of lines are joined (``rejoin_lines``, on load), multi-line text is
    split into lines again (``split_lines``), transient keys go (``strip_transient``), then
    :func:`json.dumps` with Jupyter's layout.
    """
    for key in ("orig_nbformat", "orig_nbformat_minor", "signature"):
        nb["metadata"].pop(key, None)
    for cell in nb["cells"]:
        cell["metadata"].pop("trusted", None)
        if "source" in cell:
            cell["source"] = _split(_joined(cell["source"]))
        attachments = cell.get("attachments")
        for bundle in attachments.values() if isinstance(attachments, dict) else ():
            _normalise_bundle(bundle)
        for output in cell["outputs"] if cell["cell_type"] == "code" else ():
            _normalise_output(output)
    return json.dumps(nb, default=_ascii_bytes, **_JSON_LAYOUT)


def _normalise_output(output: Notebook) -> None:
    kind = output["output_type"]
    if kind in ("execute_result", "display_data"):
        _normalise_bundle(output.get("data"))
    elif "text" in output:
        text = _joined(output["text"])
        output["text"] = _split(text) if kind == "stream" else text


def _normalise_bundle(bundle: object) -> None:
    if not isinstance(bundle, dict):
        return
    for mime, value in list(bundle.items()):
        if not _is_json_mime(mime):  # JSON data is left as it is, lists included
            value = _joined(value)
        if mime.startswith("text/") or mime in _SPLIT_MIMES:
            value = _split(value)
        bundle[mime] = value


def _is_json_mime(mime: str) -> bool:
    return mime == "application/json" or (
        mime.startswith("application/") and mime.endswith("+json")
    )


def _joined(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        return "".join(value)
    return value


def _split(value: Any) -> Any:
    return value.splitlines(True) if isinstance(value, str) else value


def _ascii_bytes(value: object) -> str:
    """Write bytes (base64 from an old in-memory notebook) as nbformat's BytesEncoder does."""
    if isinstance(value, bytes):
        return value.decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
