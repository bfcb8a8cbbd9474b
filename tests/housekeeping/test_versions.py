"""The next semantic version from a mix of tags: numeric order, one prefix, junk ignored."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlvc_jupyter.core.sharing.versions import highest_version, next_version


@pytest.mark.parametrize(
    ("tags", "part", "prefix", "expected"),
    [
        ([], "patch", "", "v0.0.1"),
        ([], "major", "bert-", "bert-v1.0.0"),
        (["v1.9.3", "v1.10.0"], "patch", "", "v1.10.1"),
        (["v1.9.3", "v1.10.0"], "minor", "", "v1.11.0"),
        (["v1.9.3", "v1.10.0"], "major", "", "v2.0.0"),
        (["v3.0.0-rc1", "v2.1.0+build", "v02.0.0", "V9.0.0", "v1.2", "x"], "patch", "", "v0.0.1"),
        (["bert-v1.2.3", "v5.0.0", "gpt-v9.9.9"], "patch", "bert-", "bert-v1.2.4"),
        (["bert-v1.2.3", "v5.0.0"], "patch", "", "v5.0.1"),
    ],
    ids=["none", "none-prefixed", "numeric", "minor", "major", "junk", "prefix", "no-prefix"],
)
def test_next_version(tags: list[str], part: str, prefix: str, expected: str) -> None:
    assert next_version(tags, part, prefix) == expected


versions = st.tuples(*(st.integers(0, 10**6),) * 3)


@given(st.lists(versions, max_size=20), st.lists(st.text(max_size=12), max_size=5))
def test_highest_is_the_numeric_maximum_whatever_else_is_there(
    numbers: list[tuple[int, int, int]], junk: list[str]
) -> None:
    tags = [f"v{a}.{b}.{c}" for a, b, c in numbers] + [f"x{j}" for j in junk]
    assert highest_version(tags) == (max(numbers) if numbers else None)
