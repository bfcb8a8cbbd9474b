"""Opt in to plain ``git fetch``/``git push`` carrying experiments: ``mlvc share --enable``.

Enabling adds one fetch refspec (the remote's experiments into ``refs/mlvc/remotes/<remote>/``,
as git does for branches) and one push refspec to the remote's configuration. A remote with a
push refspec pushes only its refspecs on a plain ``git push``, so when the remote had none,
``HEAD`` (the current branch, what ``git push`` did before) is added too and remembered in
``remote.<name>.mlvcSharePushHead``. Disabling removes exactly the lines enabling added.
"""

from __future__ import annotations

import re

from mlvc_jupyter.core.records import ShareConfig
from mlvc_jupyter.core.repo.refs import EXPERIMENTS, remote_experiments
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.core.sharing.urls import resolve_remote

__all__ = ["share"]

_HEAD_MARK = "mlvcSharePushHead"


def share(repo: Repository, remote_name: str | None, *, enable: bool) -> ShareConfig:
    """Add (``enable``) or remove mlvc's refspecs in the remote's configuration; idempotent.

    Raises:
        InvalidNameError: the remote's name breaks the naming rules.
        MlvcError: no such remote, or its URL is refused.
    """
    remote = resolve_remote(repo, remote_name).name
    fetch_spec = f"+{EXPERIMENTS}/*:{remote_experiments(remote)}/*"
    push_spec = f"{EXPERIMENTS}/*:{EXPERIMENTS}/*"
    fetch, push = _values(repo, remote, "fetch"), _values(repo, remote, "push")
    if enable:
        changed = _add(repo, remote, "fetch", fetch_spec, fetch)
        if not push:
            _set(repo, remote, _HEAD_MARK, "true")
            changed |= _add(repo, remote, "push", "HEAD", push)
        changed |= _add(repo, remote, "push", push_spec, push)
    else:
        changed = _remove(repo, remote, "fetch", fetch_spec, fetch)
        changed |= _remove(repo, remote, "push", push_spec, push)
        if _values(repo, remote, _HEAD_MARK):
            _remove(repo, remote, "push", "HEAD", push)
            repo.git.run("config", "--unset-all", f"remote.{remote}.{_HEAD_MARK}")
    return ShareConfig(
        remote=remote,
        enabled=enable,
        fetch=_values(repo, remote, "fetch"),
        push=_values(repo, remote, "push"),
        changed=changed,
    )


def _values(repo: Repository, remote: str, key: str) -> list[str]:
    out = repo.git.run("config", "--get-all", f"remote.{remote}.{key}", ok_status=(0, 1))
    return out.decode("utf-8", "surrogateescape").splitlines()


def _set(repo: Repository, remote: str, key: str, value: str) -> None:
    repo.git.run("config", f"remote.{remote}.{key}", value)


def _add(repo: Repository, remote: str, key: str, spec: str, present: list[str]) -> bool:
    if spec in present:
        return False
    repo.git.run("config", "--add", f"remote.{remote}.{key}", spec)
    return True


def _remove(repo: Repository, remote: str, key: str, spec: str, present: list[str]) -> bool:
    """Remove the lines whose value is exactly ``spec`` (a regex of it, anchored)."""
    if spec not in present:
        return False
    pattern = "^" + re.escape(spec) + "$"
    repo.git.run("config", "--unset-all", f"remote.{remote}.{key}", pattern)
    return True
