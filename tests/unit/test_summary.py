"""Checkpoint summaries in commit messages, and listings parsed from for-each-ref output."""

from __future__ import annotations

import math

import pytest

from mlvc_jupyter.core.recording.summary import (
    SUMMARY_MARKER,
    TAG_MARKER,
    format_message,
    jsonable_number,
    parse_listing,
    parse_summary,
)

PREFIX = "refs/mlvc/experiments/"


def _summary(exp_id: str, seq: int = 1, **extra: object) -> dict:
    return {"id": exp_id, "seq": seq, "status": "running", "message": "m", "created": "t", **extra}


def _record(refname: str, oid: str, contents: str, peeled: str = "") -> bytes:
    return f"{refname}\0{oid}\0{peeled}\0{contents}\0\n".encode()


def test_message_round_trip_keeps_a_readable_subject() -> None:
    message = format_message(_summary("exp1", 3, message="epoch 3\nsecond line")).decode()
    assert message.splitlines()[0] == "mlvc(exp1) #3 running: epoch 3"
    assert parse_summary(message)["message"] == "epoch 3\nsecond line"


@pytest.mark.parametrize(
    "message",
    ["plain commit", f"x\n\n{SUMMARY_MARKER}{{not json", f"x\n\n{SUMMARY_MARKER}[1, 2]"],
    ids=["no-marker", "broken-json", "not-an-object"],
)
def test_foreign_messages_carry_no_summary(message: str) -> None:
    assert parse_summary(message) is None


@pytest.mark.parametrize("count", [0, 1, 3], ids=["none", "one", "many"])
def test_listing_with_tags(count: int) -> None:
    out = b"".join(
        _record(f"{PREFIX}e{i}", f"{i:040d}", format_message(_summary(f"e{i}")).decode())
        for i in range(count)
    )
    out += _record("refs/tags/best", "f" * 40, f"metrics\n{TAG_MARKER}e0\n", peeled="0" * 40)
    out += _record("refs/tags/user-tag", "e" * 40, "a user's own tag\n")
    listed = {s.id: s for s in parse_listing(out, PREFIX)}
    assert sorted(listed) == [f"e{i}" for i in range(count)]
    if count:
        assert listed["e0"].tags == ["best"]
        assert all(not s.tags for k, s in listed.items() if k != "e0")


def test_a_damaged_summary_does_not_hide_the_others() -> None:
    good = format_message(_summary("good")).decode()
    bad = f'mlvc(bad) #1 running: x\n\n{SUMMARY_MARKER}{{"id": "bad", oops\n'
    out = _record(f"{PREFIX}bad", "1" * 40, bad) + _record(f"{PREFIX}good", "2" * 40, good)
    assert [s.id for s in parse_listing(out, PREFIX)] == ["good"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity"), (0.5, 0.5)],
    ids=["nan", "inf", "-inf", "finite"],
)
def test_non_finite_numbers_stay_standard_json(value: float, expected: object) -> None:
    assert jsonable_number(value) == expected
