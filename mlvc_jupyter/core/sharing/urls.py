"""Which remotes mlvc talks to, how their URLs are checked, and how credentials stay hidden.

A remote's URL is configuration, and configuration is code: ``ext::sh -c ...`` runs a program,
``fd::`` reads a file descriptor, a leading ``-`` turns a URL into an option
(``--upload-pack=...``). So before git runs, the remote's name and the URL it resolves to (after
``url.<base>.insteadOf``) must pass :func:`check_url`: only https, ssh and scp-like, git and file
URLs, and plain local paths. The same rules are pinned inside git too (``protocol.allow``), and
the remote's own ``uploadpack``/``receivepack`` settings are never consulted, because git is
given the checked URL rather than the remote's name.

Every message that could quote a URL goes through :func:`mask`: ``https://user:pw@host`` shows
as ``https://user:***@host``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mlvc_jupyter.core.repo.refs import validate_remote_name
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.errors import GitOperationError, MlvcError

__all__ = [
    "CONNECT_TIMEOUT",
    "STALL_TIMEOUT",
    "Remote",
    "check_url",
    "mask",
    "masked_errors",
    "resolve_remote",
    "ssh_environment",
    "transport_options",
]

CONNECT_TIMEOUT = 20
"""Seconds an ssh connection may take to open."""
STALL_TIMEOUT = 60
"""Seconds a transfer may go without progress (http: below 1 KB/s) before it is stopped."""

_SCHEMES = ("https", "http", "ssh", "git+ssh", "ssh+git", "git", "file")
_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
_SCP_LIKE = re.compile(r"(?:[^@/:\s]+@)?[A-Za-z0-9.-]+:(?!//).*")
_CREDENTIALS = re.compile(r"(?P<start>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+):[^@\s/]*@")
_FORBIDDEN = (("\n", "a newline"), ("\r", "a carriage return"), ("\0", "a NUL"), ("$", "'$'"))


def mask(text: str) -> str:
    """Return ``text`` with the password of every ``scheme://user:password@`` replaced by ***."""
    return _CREDENTIALS.sub(r"\g<start>:***@", text)


def check_url(url: str, *, remote: str | None = None) -> str:
    """Return ``url`` if git may be pointed at it; refuse anything that could run a program.

    Accepted: ``https://``, ``http://``, ``ssh://``, ``git://``, ``file://``, scp-like
    ``user@host:path`` and plain local paths.

    Raises:
        MlvcError: the URL uses another transport (``ext::``, ``fd::``, ...), starts with '-',
            or holds a newline, NUL or '$'. The message masks credentials.
    """
    where = f" (remote '{remote}')" if remote else ""
    shown = mask(url)
    for char, name in _FORBIDDEN:
        if char in url:
            _refuse(shown, where, f"it contains {name}")
    if url.startswith("-"):
        _refuse(shown, where, "it starts with '-', so git would read it as an option")
    if "::" in url.split("/", 1)[0]:
        _refuse(shown, where, "it names a remote helper ('<transport>::'), which runs a program")
    scheme = _URL.match(url)
    if scheme and scheme["scheme"].lower() not in _SCHEMES:
        _refuse(shown, where, f"its transport '{scheme['scheme']}' is not allowed")
    if not url.strip():
        _refuse(shown, where, "it is empty")
    return url


def _refuse(shown: str, where: str, why: str) -> None:
    raise MlvcError(
        f"Refusing the remote URL {shown!r}{where}: {why}. Nothing was run.",
        hint="mlvc talks only to https, ssh (or user@host:path), git and file URLs and local "
        "paths. Fix the URL with `git remote set-url NAME URL`.",
    )


@dataclass(frozen=True, slots=True)
class Remote:
    """A remote by its name, with the URLs git would fetch from and push to, both checked."""

    name: str
    fetch_url: str
    push_url: str

    @property
    def shown(self) -> str:
        """Return the fetch URL with credentials masked, for messages."""
        return mask(self.fetch_url)


def resolve_remote(repo: Repository, name: str | None) -> Remote:
    """Return the remote ``name`` (default: ``origin``, or the only remote) with checked URLs.

    Raises:
        InvalidNameError: ``name`` is not a remote's name (an option, a URL, a path).
        MlvcError: no such remote, no default, or a URL fails :func:`check_url`.
    """
    if name is not None:
        _refuse_url_as_name(name)
    names = repo.git.run("remote").decode("utf-8", "replace").split()
    chosen = validate_remote_name(name) if name is not None else _default_remote(names)
    if chosen not in names:
        raise MlvcError(
            f"There is no remote '{chosen}' in this repository.",
            hint=f"Known remotes: {', '.join(names) or 'none'}. Add one with "
            "`git remote add NAME URL`. To push only some experiments, name the remote "
            f"first: `mlvc push {names[0] if names else 'origin'} {chosen}`.",
        )
    fetch = _get_url(repo, chosen)
    push = _get_url(repo, chosen, "--push")
    return Remote(chosen, check_url(fetch, remote=chosen), check_url(push, remote=chosen))


def _refuse_url_as_name(name: object) -> None:
    """Give a URL-shaped or option-shaped remote argument the URL checks' clear message."""
    if isinstance(name, str) and (
        "::" in name or name.startswith("-") or any(c in name for c, _ in _FORBIDDEN)
    ):
        check_url(name)


def _default_remote(names: list[str]) -> str:
    if "origin" in names or len(names) != 1:
        if not names:
            raise MlvcError(
                "This repository has no remote to share experiments through.",
                hint="Add one with `git remote add origin URL` (a GitHub or GitLab repository, "
                "or a bare repository on a share), then retry.",
            )
        return "origin" if "origin" in names else _ambiguous(names)
    return names[0]


def _ambiguous(names: list[str]) -> str:
    raise MlvcError(
        f"This repository has several remotes ({', '.join(names)}) and none is 'origin'.",
        hint="Name the remote, e.g. `mlvc push NAME` or `%vc_push NAME`.",
    )


def _get_url(repo: Repository, name: str, *flags: str) -> str:
    """Return the URL git would use for ``name`` (``insteadOf`` rewrites applied)."""
    out = repo.git.run("remote", "get-url", *flags, "--", name)
    return out.decode("utf-8", "surrogateescape").rstrip("\n")


def transport_options(remote: Remote) -> list[str]:
    """Return the ``-c`` options that pin a transfer to safe transports and bounded waits.

    ``protocol.allow`` keeps git itself to the transports :func:`check_url` accepts (even after
    an ``insteadOf`` rewrite), a speed floor stops a stalled http transfer, and the remote's
    own programs (``uploadpack``, ``receivepack``) are the standard ones.
    """
    options = ["protocol.allow=never"]
    options += [f"protocol.{s}.allow=always" for s in ("https", "http", "ssh", "git", "file")]
    options += ["http.lowSpeedLimit=1000", f"http.lowSpeedTime={STALL_TIMEOUT}"]
    options += [f"remote.{remote.name}.uploadpack=git-upload-pack"]
    options += [f"remote.{remote.name}.receivepack=git-receive-pack"]
    return [arg for option in options for arg in ("-c", option)]


def ssh_environment() -> dict[str, str]:
    """Return ``GIT_SSH_COMMAND`` with a connect timeout, unless the user set their own."""
    if "GIT_SSH_COMMAND" in os.environ:
        return {}
    return {
        "GIT_SSH_COMMAND": f"ssh -oBatchMode=yes -oConnectTimeout={CONNECT_TIMEOUT} "
        f"-oServerAliveInterval={CONNECT_TIMEOUT} -oServerAliveCountMax=3"
    }


@contextmanager
def masked_errors(remote: Remote, verb: str) -> Iterator[None]:
    """Re-raise a failed transfer with credentials masked and a hint that names the cause."""
    try:
        yield
    except GitOperationError as exc:
        stderr = mask(exc.stderr)
        raise GitOperationError(
            f"{verb} '{remote.name}' ({remote.shown}) failed: {mask(exc.message)}",
            command=[mask(arg) for arg in exc.command],
            status=exc.status,
            stderr=stderr,
            hint=_transfer_hint(stderr, exc.hint),
        ) from None


def _transfer_hint(stderr: str, hint: str | None) -> str:
    if "shallow" in stderr:
        return (
            "This clone is shallow and the remote needs history it lacks: run "
            "`git fetch --unshallow`, then retry."
        )
    if "terminal prompts disabled" in stderr or "could not read Username" in stderr:
        return (
            "The remote asks for a password and mlvc never prompts (it would hang the kernel): "
            "set up a credential helper or an ssh key, check with `git fetch` in a terminal."
        )
    if "Permission denied" in stderr or "Authentication failed" in stderr:
        return "The remote refused the credentials: check your ssh key or access token."
    return hint or "Check the URL and your network with `git ls-remote NAME` in a terminal."
