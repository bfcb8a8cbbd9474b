"""Semantic version tags: find the highest ``<prefix>vX.Y.Z`` and name the next one.

A release line is the set of tags ``<prefix>vMAJOR.MINOR.PATCH`` (``v1.2.3``, ``bert-v0.4.0``).
Versions compare as numbers (``v1.10.0`` is above ``v1.9.3``); tags of other prefixes, with
pre-release or build suffixes (``v1.2.3-rc1``), leading zeros or any other shape are not part
of the line and are ignored. An empty line starts at ``v0.0.1``, ``v0.1.0`` or ``v1.0.0``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mlvc_jupyter.errors import MlvcError

__all__ = ["PARTS", "highest_version", "next_version"]

PARTS = ("major", "minor", "patch")

_NUMBER = r"(0|[1-9][0-9]{0,8})"  # no leading zeros; nine digits keep ints small
_VERSION = re.compile(rf"v{_NUMBER}\.{_NUMBER}\.{_NUMBER}")

Version = tuple[int, int, int]


def highest_version(tags: Iterable[str], prefix: str = "") -> Version | None:
    """Return the highest ``(major, minor, patch)`` among ``tags`` named ``<prefix>vX.Y.Z``."""
    found = (_parse(tag, prefix) for tag in tags)
    return max((version for version in found if version is not None), default=None)


def next_version(tags: Iterable[str], part: str, prefix: str = "") -> str:
    """Return the tag name that bumps ``part`` of the highest version in ``tags``.

    Raises:
        MlvcError: ``part`` is not major, minor or patch.
    """
    if part not in PARTS:
        raise MlvcError(
            f"Cannot bump '{part}': a version has a major, a minor and a patch part.",
            hint="Use --bump major, --bump minor or --bump patch.",
        )
    major, minor, patch = highest_version(tags, prefix) or (0, 0, 0)
    bumped = {
        "major": (major + 1, 0, 0),
        "minor": (major, minor + 1, 0),
        "patch": (major, minor, patch + 1),
    }[part]
    return f"{prefix}v{bumped[0]}.{bumped[1]}.{bumped[2]}"


def _parse(tag: str, prefix: str) -> Version | None:
    if not tag.startswith(prefix):
        return None
    match = _VERSION.fullmatch(tag[len(prefix) :])
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3])
