"""Config snapshots (a JSON file of configs plus the tracked config files) and config history."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from mlvc_jupyter.core.configs import values as configs_mod
from mlvc_jupyter.core.files import atomic_write
from mlvc_jupyter.core.reading import listing
from mlvc_jupyter.core.recording.summary import now
from mlvc_jupyter.core.recording.writer import ExperimentWriter
from mlvc_jupyter.core.records import ConfigChange, ConfigRestore
from mlvc_jupyter.core.repo.places import user_path
from mlvc_jupyter.core.repo.refs import EXPERIMENTS, is_experiment_name
from mlvc_jupyter.core.repo.repository import Repository
from mlvc_jupyter.errors import ConfigError

__all__ = ["config_changes", "create", "load", "restore"]

_MAX_CONFIG_FILE = 1024 * 1024


def create(repo: Repository, configs: Any) -> Path:
    """Write configs and the tracked config files' contents to a JSON snapshot; return its path.

    Config files are yaml/yml/toml/json files (tracked, or untracked and not ignored) under a
    ``configs/`` or ``config/`` folder or with "config" in their name.

    Raises:
        ConfigError: a config value cannot be recorded.
    """
    payload = {
        "configs": configs_mod.serialise_configs(configs),
        "head": repo.head()[0],
        "created": now(),
        "files": _config_files(repo),
    }
    folder = repo.runtime_dir / "configs"
    folder.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    target = folder / f"config-{stamp}.json"
    atomic_write(target, configs_mod.dumps(payload))
    return target


def _config_files(repo: Repository) -> dict[str, str]:
    # Tracked files and untracked ones git does not ignore: a new project has no commits yet.
    out = repo.git.run("ls-files", "-z", "--cached", "--others", "--exclude-standard")
    files = {}
    for rel in out.decode("utf-8", "surrogateescape").split("\0"):
        if not rel or not configs_mod.is_config_path(rel):
            continue
        full = repo.root / rel
        try:
            if full.stat().st_size > _MAX_CONFIG_FILE:
                continue
            files[rel] = full.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):  # deleted or binary: nothing to snapshot
            continue
    return files


def load(path: str | os.PathLike[str]) -> Any:
    """Return the configs stored in a config snapshot.

    Raises:
        ConfigError: the file is missing or not a config snapshot.
    """
    return _read(user_path(path, what="config snapshot path"))["configs"]


def _read(path: Path) -> dict[str, Any]:
    data = configs_mod.load_json_file(path)
    if not isinstance(data, dict) or "configs" not in data or "files" not in data:
        raise ConfigError(
            f"'{path}' is not a config snapshot (it lacks 'configs' or 'files').",
            path=str(path),
            hint="Pass a file that create_config_snapshot() wrote.",
        )
    return data


def restore(
    repo: Repository, writer: ExperimentWriter, source: str | os.PathLike[str]
) -> ConfigRestore:
    """Write config files back, after a safety snapshot; return the files and the safety ref.

    ``source`` is a config snapshot file, or an experiment id: then the config files of the
    experiment's last checkpoint are restored. Every path is checked before anything is
    written. With no config files in the source nothing is written and no safety snapshot
    is taken.

    Raises:
        ConfigError: the source is neither, or names a path outside the repository.
        ExperimentNotFoundError: ``source`` looks like an id but no such experiment exists.
    """
    files, label, experiment = _restore_source(repo, source)
    targets = [(_checked_target(repo, rel, label), content) for rel, content in files.items()]
    safety = writer.save_safety_ref(f"before restoring {label}") if targets else None
    for target, content in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return ConfigRestore(
        source=str(source), experiment=experiment, files=sorted(files), safety_ref=safety
    )


def _restore_source(
    repo: Repository, source: str | os.PathLike[str]
) -> tuple[dict[str, str], str, str | None]:
    given = user_path(source, what="config snapshot or experiment id")
    path = given if given.is_absolute() else repo.base / given
    if path.is_file():
        files = _read(path)["files"]
        if not isinstance(files, dict):
            raise ConfigError(f"'{path}' has a malformed 'files' table.", path=str(path))
        return {str(k): str(v) for k, v in files.items()}, f"config snapshot {path.name}", None
    if isinstance(source, str) and is_experiment_name(source):
        commit = listing.get(repo, source).commit
        label = f"the configs of experiment {source}"
        return _experiment_config_files(repo, commit), label, source
    raise ConfigError(
        f"'{source}' is neither a config snapshot file nor an experiment id.",
        path=str(path),
        hint="Pass a path create_config_snapshot() returned, or an id from `mlvc log`.",
    )


def _experiment_config_files(repo: Repository, commit: str) -> dict[str, str]:
    out = repo.git.run("ls-tree", "-r", "-z", "--name-only", commit)
    names = [
        n
        for n in out.decode("utf-8", "surrogateescape").split("\0")
        if n and not n.startswith(".mlvc/") and configs_mod.is_config_path(n)
    ]
    files = {}
    for name, blob in zip(names, repo.read_blobs([f"{commit}:{n}" for n in names]), strict=True):
        try:
            files[name] = blob.decode("utf-8") if blob is not None else None
        except UnicodeDecodeError:  # a binary file with a config-like name: not ours to write
            continue
    return {k: v for k, v in files.items() if v is not None}


def _checked_target(repo: Repository, rel: str, label: str) -> Path:
    configs_mod.safe_relative(rel)
    root = repo.root.resolve()
    target = root / rel
    if not target.parent.resolve().is_relative_to(root) or target.is_symlink():
        raise ConfigError(
            f"Refusing to restore '{rel}' from {label}: it leads outside the repository "
            "through a link.",
            hint="Nothing was written. Remove the link, or restore the file by hand.",
        )
    return target


def config_changes(repo: Repository, path: str | os.PathLike[str]) -> list[ConfigChange]:
    """Return every change of a config file on HEAD's history and in the experiments.

    Newest first; each change has the commit, date, message, where it was found (``HEAD`` or
    an experiment id) and the diff.

    Raises:
        MlvcError: the path lies outside the repository.
    """
    rel = repo.relpath(path)
    tips = ["HEAD"] if repo.head()[0] else []
    # The user's textconv and external diff drivers are programs: they never run for our diffs.
    out = repo.git.run(
        "log", "--source", "-p", "--no-color", "--no-textconv", "--no-ext-diff",
        "--format=%x01%H%x00%aI%x00%S%x00%s",
        *tips, f"--glob={EXPERIMENTS}/*", "--", f":(literal){rel}",
    )  # fmt: skip
    changes = []
    for chunk in out.decode("utf-8", "replace").split("\x01")[1:]:
        header, _, patch = chunk.partition("\n")
        commit, date, source, message = header.split("\0", 3)
        source = source.removeprefix(EXPERIMENTS + "/")
        if source.startswith("refs/heads/"):
            source = source.removeprefix("refs/heads/")
        changes.append(
            ConfigChange(
                commit=commit, date=date, message=message, source=source, diff=patch.strip("\n")
            )
        )
    return changes
