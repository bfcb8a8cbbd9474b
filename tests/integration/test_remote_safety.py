"""Hostile remotes never start git, credentials never show, a dead server never hangs."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.sharing import remotes
from mlvc_jupyter.core.sharing.urls import check_url, mask
from mlvc_jupyter.errors import GitOperationError, InvalidNameError, MlvcError
from tests.conftest import GitCalls, GitRepo, git

HOSTILE_URLS = {
    "ext": "ext::sh -c touch% marker",
    "ext-upper": "EXT::sh -c touch% marker",
    "fd": "fd::17",
    "option": "--upload-pack=touch marker",
    "newline": "https://host/x.git\n--upload-pack=touch marker",
    "dollar": "ssh://host/$(touch marker)",
    "transport": "gopher://host/x.git",
}
SAFE_URLS = {
    "https": "https://github.com/org/repo.git",
    "http": "http://127.0.0.1:8080/repo.git",
    "ssh": "ssh://git@gitlab.com:22/org/repo.git",
    "scp-like": "git@github.com:org/repo.git",
    "git": "git://127.0.0.1/repo.git",
    "file": "file:///srv/git/repo.git",
    "path": "/srv/git/repo.git",
    "relative": "../team.git",
}


@pytest.mark.parametrize("url", SAFE_URLS.values(), ids=SAFE_URLS.keys())
def test_the_ordinary_transports_are_accepted(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize("url", HOSTILE_URLS.values(), ids=HOSTILE_URLS.keys())
def test_hostile_urls_are_refused(url: str) -> None:
    with pytest.raises(MlvcError, match="Refusing the remote URL"):
        check_url(url)


@pytest.fixture
def manager(git_repo: GitRepo) -> ExperimentManager:
    manager = ExperimentManager(git_repo.path)
    manager.start("e1")
    manager.end("e1")
    return manager


def _no_marker(git_repo: GitRepo) -> None:
    assert not (git_repo.path / "marker").exists()
    assert not (git_repo.path.parent / "marker").exists()


@pytest.mark.parametrize("verb", ["push", "pull"])
@pytest.mark.parametrize(
    "name", ["ext::sh -c touch% marker", "--upload-pack=touch marker", "origin\nx", "$x"],
    ids=["ext", "upload-pack", "newline", "dollar"],
)  # fmt: skip
def test_a_hostile_remote_argument_starts_no_git_at_all(
    manager: ExperimentManager, git_repo: GitRepo, git_calls: GitCalls, verb: str, name: str
) -> None:
    with pytest.raises(MlvcError, match="Refusing the remote URL|Invalid remote name"):
        getattr(manager, verb)(name)
    assert git_calls.commands == []
    _no_marker(git_repo)


@pytest.mark.parametrize("verb", ["push", "pull"])
@pytest.mark.parametrize("url", ["ext::sh -c touch% marker", "--upload-pack=touch marker"])
def test_a_hostile_configured_url_never_reaches_a_transfer(
    manager: ExperimentManager, git_repo: GitRepo, git_calls: GitCalls, verb: str, url: str
) -> None:
    git_repo.git("config", "remote.evil.url", url)
    with pytest.raises(MlvcError, match="Refusing the remote URL .* \\(remote 'evil'\\)"):
        getattr(manager, verb)("evil")
    assert set(git_calls.commands) == {"remote"}  # only reading the configured URL
    _no_marker(git_repo)


def test_an_insteadof_rewrite_to_ext_is_refused(
    manager: ExperimentManager, git_repo: GitRepo
) -> None:
    git_repo.git("remote", "add", "origin", "https://example.invalid/repo.git")
    git_repo.git("config", "url.ext::sh -c touch% marker #.insteadOf", "https://example.invalid/")
    with pytest.raises(MlvcError, match="Refusing the remote URL"):
        manager.push()
    _no_marker(git_repo)


def test_the_remote_s_own_upload_pack_setting_is_not_run(
    manager: ExperimentManager, git_repo: GitRepo, tmp_path: Path
) -> None:
    bare = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git_repo.git("remote", "add", "origin", bare.as_uri())
    git_repo.git("config", "remote.origin.uploadpack", "touch marker; git-upload-pack")
    git_repo.git("config", "remote.origin.receivepack", "touch marker; git-receive-pack")
    manager.push()
    manager.pull()
    _no_marker(git_repo)


def test_credentials_are_masked_in_every_message(
    manager: ExperimentManager, git_repo: GitRepo
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    git_repo.git("remote", "add", "origin", f"https://alice:s3cret@127.0.0.1:{port}/repo.git")
    with pytest.raises(GitOperationError, match=r"alice:\*\*\*@") as info:
        manager.pull()
    error = info.value
    everything = " ".join([str(error), error.stderr, *error.command, error.hint or ""])
    assert "s3cret" not in everything


def test_mask_hides_only_the_password() -> None:
    assert mask("fatal: https://u:p%40ss@host/x and ssh://git@host/y") == (
        "fatal: https://u:***@host/x and ssh://git@host/y"
    )


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never says a word (a dead git server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_silent_server_is_stopped_not_waited_for(
    manager: ExperimentManager, git_repo: GitRepo, silent_server: int
) -> None:
    git_repo.git("remote", "add", "origin", f"git://127.0.0.1:{silent_server}/repo.git")
    with pytest.raises(GitOperationError, match="made no progress for 1 s") as info:
        remotes.pull(manager.repo, "origin", stall_timeout=1)
    assert "network" in (info.value.hint or "")


def test_a_remote_tracking_name_is_read_only(manager: ExperimentManager) -> None:
    with pytest.raises(InvalidNameError, match="origin/e1"):
        manager.commit("origin/e1")
