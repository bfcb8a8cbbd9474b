"""The scratch project ``mlvc demo`` records: its files, and fingerprints to compare copies of it.

A dependency-free training script (``train.py``), its config, and a notebook saved with outputs,
as data; :func:`file_digests` and :func:`digest` hash a tree of them the way a checkpoint stores
it (notebooks stripped), so the demo can check that a reproduction matches the working tree.
:mod:`mlvc_jupyter.demo` holds the steps that run over this project.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

__all__ = ["PARAMS", "TRAIN_PY", "digest", "explore_notebook", "file_digests"]

TRAIN_PY = '''\
"""Fit y = 3x + 2 by gradient descent: a tiny training script with no dependencies."""

import json
from pathlib import Path

LR_DECAY = 1.0  # the learning rate is multiplied by this after every epoch


def points():
    return [(x / 10, 3 * x / 10 + 2) for x in range(-10, 11)]


def train(params, weights=(0.0, 0.0), epochs=10):
    """Run full-batch gradient descent for `epochs` epochs; return (weights, loss)."""
    w, b = weights
    lr = params["lr"]
    data = points()
    for _ in range(epochs):
        gw = sum(2 * (w * x + b - y) * x for x, y in data) / len(data)
        gb = sum(2 * (w * x + b - y) for x, y in data) / len(data)
        w, b = w - lr * gw, b - lr * gb
        lr *= LR_DECAY
    loss = sum((w * x + b - y) ** 2 for x, y in data) / len(data)
    return (w, b), loss


if __name__ == "__main__":
    params = json.loads(Path("configs/params.json").read_text())
    (w, b), loss = train(params, epochs=params["epochs"])
    print(f"w={w:.3f} b={b:.3f} loss={loss:.4f}")
'''

PARAMS: dict[str, Any] = {
    "lr": 0.1,
    "epochs": 30,
    "model": {"kind": "linear", "init": "zeros"},
    "seed": 0,
}


def explore_notebook() -> str:
    """Return a small nbformat 4.5 notebook with outputs, as Jupyter saves it.

    Written as data rather than with ``nbformat.v4.new_*``: ``import nbformat`` imports
    jsonschema, which builds URI grammars at import time (over a second here), longer than the
    rest of the demo. ``tests/integration/test_demo.py`` validates it with nbformat.
    """

    def code(cell_id: str, count: int, source: str, output: dict[str, Any]) -> dict[str, Any]:
        output = {**output, "execution_count": count} if "data" in output else output
        return {
            "cell_type": "code",
            "execution_count": count,
            "id": cell_id,
            "metadata": {},
            "outputs": [output],
            "source": source,
        }

    result = {"data": {"text/plain": "21"}, "metadata": {}, "output_type": "execute_result"}
    stream = {"name": "stdout", "output_type": "stream", "text": "[(-1.0, -1.0), (-0.9, -0.7)]\n"}
    notebook = {
        "cells": [
            {"cell_type": "markdown", "id": "intro", "metadata": {}, "source": "# The data"},
            code("count", 1, "from train import points\nlen(points())", result),
            code("peek", 2, "print(points()[:2])", stream),
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, indent=1, sort_keys=True) + "\n"


def file_digests(root: Path) -> dict[str, str]:
    """Return {path: sha256} of a worktree's files, leaving out git's and mlvc's own."""
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel != ".git" and not rel.startswith(".mlvc/"):
            files[rel] = digest(path)
    return files


def digest(path: Path) -> str:
    """Return the sha256 of a file as a checkpoint stores it: a notebook stripped."""
    data = path.read_bytes()
    if path.suffix == ".ipynb":
        from mlvc_jupyter.core.notebooks.strip import strip_bytes

        data = strip_bytes(data)
    return hashlib.sha256(data).hexdigest()
