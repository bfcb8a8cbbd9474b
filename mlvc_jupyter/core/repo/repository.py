"""A user's repository as mlvc sees it: opened or initialised, its status, commits and files."""

from __future__ import annotations

import logging
import os
from functools import cached_property
from pathlib import Path

from mlvc_jupyter.core.records import CommitInfo, FileVersionInfo, RepoStatus
from mlvc_jupyter.core.repo.gitignore import ML_GITIGNORE
from mlvc_jupyter.core.repo.places import (
    inside_git_dir,
    not_a_repository,
    refuse_creation_place,
    refuse_if_git_refuses,
    user_path,
)
from mlvc_jupyter.core.repo.runner import Git, RepoPaths, discover
from mlvc_jupyter.core.repo.settings import Settings, load_settings
from mlvc_jupyter.core.repo.status import parse_status
from mlvc_jupyter.errors import MlvcError, NotARepositoryError

__all__ = ["Repository"]

log = logging.getLogger(__name__)

FALLBACK_NAME = "mlvc"
FALLBACK_EMAIL = "mlvc@localhost"


class Repository:
    """One git repository: paths, a hardened git runner, settings and read-only queries.

    Open it with :meth:`open`; that finds the repository containing a path (a subfolder or a
    linked worktree works) or initialises one.
    """

    def __init__(
        self, paths: RepoPaths, *, base: Path | None = None, created: bool = False
    ) -> None:
        self.paths = paths
        self.root = paths.toplevel
        self.base = base or paths.toplevel
        self.git = Git(paths.toplevel)
        self._filter_drivers: tuple[tuple[int, ...], tuple[str, ...]] | None = None
        self.created = created
        """True when this object ran ``git init``: faces say so, with the path."""

    @classmethod
    def open(cls, path: str | os.PathLike[str] = ".", *, init: bool = False) -> Repository:
        """Open the repository containing ``path``; with ``init``, create one if there is none.

        Only the entry points where the user names a folder for a project pass ``init``
        (``%vc_init PATH``, ``mlvc init PATH``, the specification's constructors); see
        :meth:`init` for where even they never create one.

        Raises:
            NotARepositoryError: ``path`` is a file, inside git's own files, a repository git
                refuses (another owner: git's message and ``safe.directory`` command are
                quoted), or not in a repository while ``init`` is False.
        """
        if not isinstance(path, str | os.PathLike):
            raise NotARepositoryError(
                f"Expected a folder path, got {type(path).__name__} {path!r}.",
                path=repr(path),
                hint="Pass the project folder as a string or pathlib.Path.",
            )
        folder = user_path(path, what="project folder").absolute()
        if folder.exists() and not folder.is_dir():
            raise NotARepositoryError(
                f"'{folder}' is a file, not a folder.",
                path=str(folder),
                hint="Pass the project folder (the one that holds your code and notebooks).",
            )
        if folder.is_dir():
            try:
                return cls(discover(folder), base=folder)
            except NotARepositoryError as exc:
                refuse_if_git_refuses(folder, exc)
                if not init:
                    raise not_a_repository(folder, inside_git=inside_git_dir(folder)) from None
        elif not init:
            raise NotARepositoryError(
                f"'{folder}' does not exist.",
                path=str(folder),
                hint=f"Check the path, or create the project with `%vc_init {folder}` "
                f"(CLI: `mlvc init {folder}`).",
            )
        return cls.init(folder)

    @classmethod
    def init(cls, folder: Path) -> Repository:
        """Create a repository (branch main) in ``folder`` with the ML ``.gitignore``.

        Never in ``/``, the home folder itself, a bare repository or inside a ``.git`` folder.

        Raises:
            NotARepositoryError: the folder is one of those, or cannot be created or
                initialised.
        """
        refuse_creation_place(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise NotARepositoryError(
                f"Cannot create the folder '{folder}': {exc.strerror}.",
                path=str(folder),
                hint="Choose a folder you can write to.",
            ) from exc
        Git(folder).run("init", "-q", "-b", "main", "--end-of-options", str(folder))
        gitignore = folder / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text(ML_GITIGNORE, encoding="utf-8")
        log.info("initialised a git repository in %s", folder)
        return cls(discover(folder), created=True)

    # -- facts that do not change within a process ---------------------------------------------

    @cached_property
    def settings(self) -> Settings:
        """Return the settings from ``.mlvc.toml`` or ``[tool.mlvc]`` in pyproject.toml."""
        return load_settings(self.root)

    @property
    def runtime_dir(self) -> Path:
        """Return ``<git-common-dir>/mlvc`` (created on first use), never seen by git status."""
        path = self.paths.runtime_dir
        path.mkdir(parents=True, exist_ok=True)
        return path

    @cached_property
    def null_oid(self) -> str:
        """Return the all-zero object id of this repository's hash (SHA-1 or SHA-256).

        ``update-ref <ref> <new> <null_oid>`` creates a ref only if it does not exist yet.
        """
        out = self.git.run("rev-parse", "--show-object-format").decode().strip()
        return "0" * (64 if out == "sha256" else 40)

    @cached_property
    def identity_env(self) -> dict[str, str]:
        """Return the environment that gives our commits an author.

        The user's identity when git has one; otherwise ``mlvc <mlvc@localhost>``. Global
        configuration is never written.
        """
        if self.uses_fallback_identity:
            return {
                "GIT_AUTHOR_NAME": FALLBACK_NAME,
                "GIT_AUTHOR_EMAIL": FALLBACK_EMAIL,
                "GIT_COMMITTER_NAME": FALLBACK_NAME,
                "GIT_COMMITTER_EMAIL": FALLBACK_EMAIL,
            }
        return {}

    def filter_drivers(self) -> tuple[str, ...]:
        """Return the names of the filter drivers git's configuration defines.

        Read with ``git config`` (so every level and ``GIT_CONFIG_*`` count), and again only
        when the repository's or the global config file changes.
        """
        key = tuple(_mtime(path) for path in self._config_files())
        if self._filter_drivers is None or self._filter_drivers[0] != key:
            out = self.git.run(
                "config", "--name-only", "--get-regexp", r"^filter\..*\.(clean|process)$",
                ok_status=(0, 1),
            )  # fmt: skip
            names = {line.rsplit(".", 1)[0][len("filter.") :] for line in _lines(out)}
            self._filter_drivers = (key, tuple(sorted(names)))
        return self._filter_drivers[1]

    def _config_files(self) -> list[Path]:
        home = Path(os.environ.get("HOME", "~")).expanduser()
        global_file = os.environ.get("GIT_CONFIG_GLOBAL") or str(home / ".gitconfig")
        return [self.paths.common_dir / "config", Path(global_file)]

    @cached_property
    def uses_fallback_identity(self) -> bool:
        """Return True when neither git config nor the environment names an author."""
        env_set = all(
            os.environ.get(f"GIT_{who}_{what}")
            for who in ("AUTHOR", "COMMITTER")
            for what in ("NAME", "EMAIL")
        )
        if env_set:
            return False
        out = self.git.run(
            "config", "--get-regexp", r"^user\.(name|email)$", ok_status=(0, 1)
        ).decode("utf-8", "replace")
        keys = {line.split(" ", 1)[0] for line in out.splitlines()}
        return not {"user.name", "user.email"} <= keys

    # -- HEAD ------------------------------------------------------------------------------

    def head(self) -> tuple[str | None, str | None]:
        """Return (HEAD commit or None when unborn, branch name or None when detached)."""
        out = self.git.run("symbolic-ref", "-q", "HEAD", ok_status=(0, 1)).decode().strip()
        branch = out.removeprefix("refs/heads/") if out else None
        oid = self.git.run("rev-parse", "-q", "--verify", "HEAD^{commit}", ok_status=(0, 1))
        return (oid.decode().strip() or None), branch

    def current_commit(self) -> CommitInfo | None:
        """Return HEAD's commit, or None on an unborn branch."""
        return self._last_commit()

    def _last_commit(self, *paths: str) -> CommitInfo | None:
        """Return HEAD's newest commit (touching ``paths``, if given), or None if there is none."""
        out = self.git.run(
            "log", "-1", "--format=%H%x00%an <%ae>%x00%aI%x00%B", "HEAD", "--", *paths,
            ok_status=(0, 128),
        )  # fmt: skip
        if not out:
            return None
        oid, author, date, message = out.decode("utf-8", "replace").split("\0", 3)
        return CommitInfo(hash=oid, message=message.strip(), author=author, date=date)

    # -- status ----------------------------------------------------------------------------

    def status(self) -> RepoStatus:
        """Return the working tree's status without ever rewriting the user's index."""
        out = self.git.run(
            "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all", "--no-renames",
            env={"GIT_OPTIONAL_LOCKS": "0"},
        )  # fmt: skip
        return parse_status(str(self.root), out)

    def is_inside(self, path: Path) -> bool:
        """Return True if ``path`` (resolved) lies inside the working tree."""
        try:
            path.resolve().relative_to(self.root.resolve())
        except ValueError:
            return False
        return True

    def relpath(self, path: str | os.PathLike[str]) -> str:
        """Return ``path`` relative to the repository root, in git's '/' form.

        Relative paths are taken from the folder the repository was opened with.

        Raises:
            MlvcError: the path lies outside the repository.
        """
        candidate = user_path(path)
        if not candidate.is_absolute():
            candidate = self.base / candidate
        resolved = candidate.resolve()
        try:
            return resolved.relative_to(self.root.resolve()).as_posix()
        except ValueError:
            raise MlvcError(
                f"'{path}' is outside the repository at '{self.root}'.",
                hint="Give a path inside the project folder.",
            ) from None

    def file_info(self, path: str | os.PathLike[str]) -> FileVersionInfo:
        """Return a file's blob at HEAD, the last commit touching it, and whether it changed.

        Raises:
            MlvcError: the path is outside the repository or is neither tracked nor present.
        """
        rel = self.relpath(path)
        full = self.root / rel
        at_head = self.git.run("rev-parse", "-q", "--verify", f"HEAD:{rel}", ok_status=(0, 1, 128))
        git_hash = at_head.decode().strip() or None
        working_hash = None
        if full.is_file():
            working_hash = self.git.run("hash-object", "--no-filters", "--", rel).decode().strip()
        if git_hash is None and working_hash is None:
            raise MlvcError(
                f"'{rel}' is neither tracked at HEAD nor present in the working tree.",
                hint=f"Check the path; it is taken relative to '{self.base}'.",
            )
        return FileVersionInfo(
            path=rel,
            git_hash=git_hash,
            last_commit=self._last_commit(rel) if git_hash is not None else None,
            modified=git_hash != working_hash,
            working_hash=working_hash,
        )

    def ref_exists(self, ref: str) -> str | None:
        """Return the object a full ref points at, or None."""
        out = self.git.run("rev-parse", "-q", "--verify", "--end-of-options", ref, ok_status=(0, 1))
        return out.decode().strip() or None

    def read_blobs(self, specs: list[str]) -> list[bytes | None]:
        """Return the contents of ``<rev>:<path>`` specs (None where missing), in one process."""
        if not specs:
            return []
        out = self.git.run("cat-file", "--batch", stdin="".join(f"{s}\n" for s in specs).encode())
        result: list[bytes | None] = []
        at = 0
        for _ in specs:
            end = out.index(b"\n", at)
            header = out[at:end].split()
            if len(header) == 3 and header[1] == b"blob":
                size = int(header[2])
                result.append(out[end + 1 : end + 1 + size])
                at = end + 1 + size + 1
            else:  # "<spec> missing" or a non-blob object
                result.append(None)
                at = end + 1
                if len(header) == 3:
                    at += int(header[2]) + 1
        return result

    def worktrees(self) -> dict[str, str | None]:
        """Return {worktree path: checked-out branch ref, or None when detached or bare}."""
        out = self.git.run("worktree", "list", "--porcelain", "-z").decode("utf-8", "replace")
        result: dict[str, str | None] = {}
        worktree = ""
        for field_ in out.split("\0"):
            if field_.startswith("worktree "):
                worktree = field_[len("worktree ") :]
                result[worktree] = None
            elif field_.startswith("branch "):
                result[worktree] = field_[len("branch ") :]
        return result

    def checked_out_branches(self) -> set[str]:
        """Return the branch refs checked out in any worktree."""
        return {branch for branch in self.worktrees().values() if branch}


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _lines(out: bytes) -> list[str]:
    return out.decode("utf-8", "surrogateescape").splitlines()
