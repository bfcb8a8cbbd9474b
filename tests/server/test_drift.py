"""The TypeScript client and the server agree: payload types, record fields and routes."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import get_type_hints

import pytest

from mlvc_jupyter.core.records import (
    ExperimentDiff,
    ExperimentPage,
    ExperimentRecord,
    ExperimentSummary,
)
from mlvc_jupyter.server import payloads
from mlvc_jupyter.server.handlers import ROUTES

SOURCE = Path(__file__).resolve().parents[2] / "labextension" / "src"
INTERFACE = re.compile(r"export interface (\w+) \{(\}|\n.*?\n\})", re.S)
FIELD = re.compile(r"^\s+(\w+)(\??):", re.M)


def interfaces() -> dict[str, dict[str, bool]]:
    """Return each interface of tokens.ts as {field: optional}."""
    text = (SOURCE / "tokens.ts").read_text()
    return {
        name: {key: bool(opt) for key, opt in FIELD.findall(body)}
        for name, body in INTERFACE.findall(text)
    }


TYPED_DICTS = [
    payloads.TagBody, payloads.BranchBody, payloads.ReproduceBody, payloads.CommitBody,
    payloads.VersionReply, payloads.CompareReply, payloads.JobReply, payloads.ErrorReply,
]  # fmt: skip


@pytest.mark.parametrize("typed_dict", TYPED_DICTS, ids=lambda t: t.__name__)
def test_payload_types_match_tokens_ts(typed_dict: type) -> None:
    declared = interfaces()[typed_dict.__name__]
    assert set(declared) == set(get_type_hints(typed_dict)), typed_dict.__name__
    required = payloads.REQUIRED.get(typed_dict.__name__.removesuffix("Body").lower())
    if typed_dict.__total__ or required is not None:
        expected = required if required is not None else set(declared)
        assert {k for k, optional in declared.items() if not optional} == set(expected)


@pytest.mark.parametrize(
    "record", [ExperimentSummary, ExperimentPage, ExperimentDiff, ExperimentRecord]
)
def test_record_fields_match_tokens_ts(record: type) -> None:
    data = {f.name for f in fields(record) if f.compare}  # compare=False: not part of the data
    assert set(interfaces()[record.__name__]) == data


def test_every_route_has_a_client_function() -> None:
    """Each ROUTES pattern appears in api.ts, and api.ts calls no route ROUTES lacks."""
    client = (SOURCE / "api.ts").read_text()
    called = set(re.findall(r"requestAPI(?:<\w+>)?\(\s*[`']([^`'?]+)[`']", client))
    normalise = re.compile(r"\(\?P<\w+>\[\^/\]\+\)|\$\{[^}]+\}")
    assert {normalise.sub("{}", p) for _, p, _ in ROUTES} == {
        normalise.sub("{}", c) for c in called
    }
