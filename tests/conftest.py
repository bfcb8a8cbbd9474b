"""Shared fixtures: hermetic git repositories built in tmp_path."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register options here: pytest only reads ``pytest_addoption`` from the rootdir conftest."""
    parser.addoption(
        "--reliability-full",
        action="store_true",
        default=False,
        help="run tests/reliability with the full counts of issue 8 (16 x 50 writers, "
        "200 SIGKILLs, 10,000 hypothesis examples) instead of the fast subset",
    )


@pytest.fixture(autouse=True)
def hermetic_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin git's identity and configuration so no developer or CI config leaks into a test."""
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text("")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{name}_NAME", "Test User")
        monkeypatch.setenv(f"GIT_{name}_EMAIL", "test@example.com")
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(var, raising=False)


def git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    """Run git in ``repo`` for a test and return stdout as text."""
    proc = subprocess.run(["git", *args], cwd=repo, input=stdin, capture_output=True, check=True)
    return proc.stdout.decode()


class GitRepo:
    """A throw-away repository with helpers to write files and commit them."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str, stdin: bytes | None = None) -> str:
        return git(self.path, *args, stdin=stdin)

    def write(self, files: Mapping[str, str | bytes | dict]) -> None:
        """Write files; a dict value is written as JSON (a notebook, say)."""
        for rel, content in files.items():
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, dict):
                target.write_text(json.dumps(content, indent=1))
            elif isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)

    def commit(self, message: str = "commit") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def fingerprint(self) -> dict[str, str]:
        """Hash HEAD, the index bytes, status and every working file outside .git."""
        result = {
            "HEAD": (self.path / ".git" / "HEAD").read_text(),
            "head_oid": subprocess.run(
                ["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=self.path, capture_output=True
            ).stdout.decode(),
            "status": self.git("status", "--porcelain"),
        }
        index = self.path / ".git" / "index"
        result["index"] = hashlib.sha256(index.read_bytes()).hexdigest() if index.exists() else ""
        for root, dirs, files in os.walk(self.path):
            dirs[:] = [d for d in dirs if d != ".git"]
            for name in files:
                full = Path(root, name)
                result[str(full.relative_to(self.path))] = hashlib.sha256(
                    full.read_bytes()
                ).hexdigest()
        return result


@pytest.fixture
def git_repo(tmp_path: Path) -> Iterator[GitRepo]:
    """An initialised repository (branch main) with one commit."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    repo = GitRepo(path)
    repo.write({"README.md": "# project\n", "train.py": "print('train')\n"})
    repo.commit("initial")
    return repo


@pytest.fixture
def empty_repo(tmp_path: Path) -> GitRepo:
    """An initialised repository with no commits (unborn HEAD)."""
    path = tmp_path / "empty"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    return GitRepo(path)


class GitCalls(logging.Handler):
    """Collect the git subcommands mlvc runs, from its DEBUG log of every call."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.commands: list[str] = []
        self.lines: list[str] = []
        """Each call's arguments, as mlvc logs them (credentials scrubbed)."""

    def emit(self, record: logging.LogRecord) -> None:
        line = str(record.args[0]) if record.args else ""
        self.lines.append(line)
        self.commands.append(line.split()[0] if line else "")

    def count(self, command: str) -> int:
        return self.commands.count(command)


@pytest.fixture
def git_calls() -> Iterator[GitCalls]:
    """Count the git processes a test's mlvc calls start (nothing is mocked: git runs)."""
    logger = logging.getLogger("mlvc_jupyter.git")
    handler, level = GitCalls(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)
