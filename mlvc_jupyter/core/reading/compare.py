"""Two or more experiments side by side, and one experiment's metric curves.

What the compare panel, ``%vc_diff A B C`` and ``%vc_show``'s plot share: params as dotted keys,
metrics with deltas against the first experiment, the files (and notebooks, through nbdime,
outputs ignored) that changed from the first, and each experiment's metric history as curves.
The history is the experiment's tracker file on this machine while it exists (it has everything
logged so far), else the copy its last checkpoint stored.
"""

from __future__ import annotations

import io
import types
from collections.abc import Iterable, Sequence
from typing import Any

from mlvc_jupyter.core.reading.listing import changed_files, get
from mlvc_jupyter.core.reading.query import read_params
from mlvc_jupyter.core.recording.writer import METRICS_PATH, metrics_file
from mlvc_jupyter.core.records import Curves, ExperimentComparison, ExperimentSummary
from mlvc_jupyter.core.repo.refs import validate_experiment_name
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.core.tracking.local import parse_records, read_records
from mlvc_jupyter.errors import MlvcError

__all__ = ["compare", "curves_of", "metric_curves", "notebook_diff"]


def compare(repo: Repository, ids: Sequence[str]) -> ExperimentComparison:
    """Return the comparison of ``ids`` (two or more), measured against the first.

    Raises:
        MlvcError: fewer than two ids, or one given twice.
        ExperimentNotFoundError: one of them does not exist.
    """
    _check_ids(ids)
    summaries = [get(repo, experiment_id) for experiment_id in ids]
    first = summaries[0].commit
    files = [changed_files(repo, first, s.commit) for s in summaries[1:]]
    notebooks = [
        {path: notebook_diff(repo, first, s.commit, path) for path in _changed_notebooks(changed)}
        for s, changed in zip(summaries[1:], files, strict=True)
    ]
    return ExperimentComparison(
        ids=list(ids),
        summaries=summaries,
        params=read_params(repo, [s.commit for s in summaries]),
        files=files,
        notebook_diffs=notebooks,
        curves=[_curves(repo, s) for s in summaries],
    )


def _check_ids(ids: Sequence[str]) -> None:
    if isinstance(ids, str) or len(ids) < 2:
        raise MlvcError(
            f"Cannot compare {list(ids) if not isinstance(ids, str) else ids!r}: a comparison "
            "needs two or more experiments.",
            hint="Name at least two experiment ids, e.g. `%vc_diff lr-0.1 lr-0.01`.",
        )
    for experiment_id in ids:
        validate_experiment_name(experiment_id)
    twice = sorted({i for i in ids if list(ids).count(i) > 1})
    if twice:
        raise MlvcError(
            f"Experiment {twice[0]!r} is named twice in the comparison.",
            hint="Name each experiment once.",
        )


def _changed_notebooks(files: Iterable[tuple[str, str]]) -> list[str]:
    return [path for status, path in files if status == "M" and path.endswith(".ipynb")]


def metric_curves(repo: Repository, experiment_id: str) -> Curves:
    """Return an experiment's metric history as curves (see the module docstring for the source).

    Raises:
        ExperimentNotFoundError: no such experiment.
    """
    validate_experiment_name(experiment_id)
    return _curves(repo, get(repo, experiment_id))


def _curves(repo: Repository, summary: ExperimentSummary) -> Curves:
    local = metrics_file(repo, summary.id)
    if local.exists():
        return curves_of(read_records(local))
    (blob,) = repo.read_blobs([f"{summary.commit}:{METRICS_PATH}"])
    return curves_of(parse_records(blob or b"", source=f"{summary.id}:{METRICS_PATH}"))


def curves_of(records: Iterable[dict[str, Any]]) -> Curves:
    """Return metric records (``{"step", "metrics"}``, oldest first) as curves.

    A record without a step is placed one after the metric's previous point.
    """
    curves: Curves = {}
    for record in records:
        metrics = record.get("metrics")
        if not isinstance(metrics, dict):
            continue
        step = record.get("step")
        for name, value in metrics.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                points = curves.setdefault(name, [])
                x = step if isinstance(step, int | float) else (points[-1][0] + 1 if points else 0)
                points.append((float(x), float(value)))
    return curves


def notebook_diff(repo: Repository, a: str, b: str, path: str) -> str:
    """Return nbdime's text diff of notebook ``path`` from commit ``a`` to ``b``: cell sources
    only (outputs, metadata and ids ignored). Without nbdime, a line saying how to get it."""
    try:
        import nbdime
        import nbformat
        from nbdime.prettyprint import PrettyPrintConfig, pretty_print_diff
    except ImportError:
        return "(nbdime is not installed: `pip install mlvc-jupyter[jupyter]` shows notebook diffs)"
    blobs = repo.read_blobs([f"{a}:{path}", f"{b}:{path}"])
    try:
        old, new = (_notebook(nbformat, blob) for blob in blobs)
    except (ValueError, UnicodeDecodeError) as exc:  # nbformat's read errors subclass ValueError
        return f"(not a readable notebook: {exc})"
    only_sources = types.SimpleNamespace(
        sources=True, outputs=False, attachments=False, metadata=False, id=False, details=False
    )
    out = io.StringIO()
    config = PrettyPrintConfig(out=out, include=only_sources, use_color=False, use_git=False)
    pretty_print_diff(old, nbdime.diff_notebooks(old, new), path, config)
    return out.getvalue()


def _notebook(nbformat: Any, blob: bytes | None) -> Any:
    """Return a notebook blob as nbformat v4 (an empty notebook for a missing blob)."""
    if not blob:
        return nbformat.v4.new_notebook()
    return nbformat.reads(blob.decode("utf-8"), as_version=4)
