"""Blocking git work runs on the workspace's pool: a slow request never stalls the server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.conftest import GitRepo
from tests.server.conftest import Fetch, call, post

pytestmark = pytest.mark.server

GATE_TENTHS = 150
"""Tenths of a second the clean filter waits for the test's go (bounds a broken run)."""


def gate_clean_filter(project: GitRepo, gate: Path) -> None:
    """Make `git add` of *.gated files block in a clean filter until ``gate/release`` exists.

    The filter touches ``gate/started`` first, so the test knows the request is inside git.
    """
    gate.mkdir()
    started, release = gate / "started", gate / "release"
    script = (
        f"touch '{started}'; i=0; "
        f"while [ ! -e '{release}' ] && [ $i -lt {GATE_TENTHS} ]; do sleep 0.1; i=$((i+1)); "
        "done; cat"
    )
    project.git("config", "filter.gated.clean", script)
    project.write({".git/info/attributes": "*.gated filter=gated\n"})


async def test_a_slow_commit_does_not_stall_other_requests(
    jp_fetch: Fetch, project: GitRepo, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    gate_clean_filter(project, gate)
    project.write({"data/weights.gated": "changed during training\n"})
    slow = asyncio.ensure_future(post(jp_fetch, "experiments", "exp-run", "commit", body={}))
    while not (gate / "started").exists() and not slow.done():
        await asyncio.sleep(0.05)
    assert not slow.done(), "the commit ended before its clean filter ran"
    # The commit is inside git, its clean filter waiting for the release: the server answers.
    assert (await call(jp_fetch, "version"))[0] == 200
    assert (await call(jp_fetch, "status", params={"path": "data"}))[0] == 200
    assert not slow.done()
    (gate / "release").touch()
    code, checkpoint = await slow
    assert (code, checkpoint["seq"]) == (201, 2)
    assert project.git("show", "refs/mlvc/experiments/exp-run:data/weights.gated") == (
        "changed during training\n"
    )
