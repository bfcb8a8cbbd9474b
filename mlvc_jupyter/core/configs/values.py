"""Configs: deterministic serialisation, flat dotted params, diffs, and config-file snapshots."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import enum
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

from mlvc_jupyter.core.recording.summary import jsonable_number
from mlvc_jupyter.errors import ConfigError

__all__ = [
    "CONFIG_SUFFIXES",
    "checked_text",
    "copy_json",
    "diff_params",
    "dumps",
    "flatten",
    "is_config_path",
    "load_config_file",
    "load_json_file",
    "safe_relative",
    "serialise",
    "serialise_configs",
]

CONFIG_SUFFIXES = (".yaml", ".yml", ".toml", ".json")
_CONFIG_DIRS = {"configs", "config"}
_MAX_DEPTH = 64
# Lone surrogates: Python strings may hold them (os.fsdecode of bad bytes, a JSON "\udcff"),
# UTF-8 cannot encode them, and git stores messages and records as UTF-8.
_SURROGATE = re.compile("[\ud800-\udfff]")


def checked_text(text: str, *, what: str) -> str:
    """Return ``text`` if it can be stored as UTF-8 (no lone surrogate).

    Raises:
        ConfigError: ``text`` holds a lone surrogate; the message quotes it.
    """
    if _SURROGATE.search(text):
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise ConfigError(
            f"The {what} {shown!r} holds a lone surrogate character, which cannot be stored "
            "as UTF-8 text.",
            hint="It usually comes from bytes decoded with errors='surrogateescape'; decode "
            "them properly, or replace the character.",
        )
    return text


def serialise_configs(configs: Any) -> dict[str, Any] | None:
    """Return an experiment's configs as a JSON table (None stays None: no configs given).

    Configs are a table of named values: a mapping, a dataclass, an argparse ``Namespace``,
    a pydantic model (``model_dump()``), an object with ``to_dict()`` or an OmegaConf config
    (when omegaconf is installed). A bare number, string or list has no names to show or
    compare, so it is refused rather than recorded and lost from ``show``.

    Raises:
        ConfigError: ``configs`` is not a table, or holds a value that cannot be recorded.
    """
    if configs is None:
        return None
    table = configs if isinstance(configs, Mapping) else _convert(configs)
    if not isinstance(table, Mapping):
        shown = repr(configs) if len(repr(configs)) <= 60 else repr(configs)[:57] + "..."
        raise ConfigError(
            f"Cannot record configs of type {type(configs).__name__} ({shown}): configs "
            "must be a table of named values.",
            hint="Pass a dict (e.g. {'params': value}), a dataclass, an argparse Namespace, "
            "or a pydantic or OmegaConf object.",
        )
    serialised: dict[str, Any] = serialise(table)
    return serialised


def serialise(value: Any, *, _path: str = "configs", _depth: int = 0) -> Any:
    """Return ``value`` as plain JSON data, with dict keys sorted.

    Accepts nested dicts, lists, tuples, sets, dataclasses, objects with ``model_dump()``
    (pydantic) or ``to_dict()``, enums, paths, dates and numpy scalars or arrays.

    Raises:
        ConfigError: a value has a type that cannot be recorded; the message names where it is.
    """
    if _depth > _MAX_DEPTH:
        raise ConfigError(
            f"The config at '{_path}' nests deeper than {_MAX_DEPTH} levels (a cycle?).",
            hint="Pass plain nested dicts or dataclasses without self-references.",
        )
    if isinstance(value, str):
        return checked_text(value, what=f"config value at '{_path}'")
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return jsonable_number(value)
    converted = _convert(value)
    if converted is not _UNCONVERTED:
        return serialise(converted, _path=_path, _depth=_depth + 1)
    if isinstance(value, Mapping):
        return {
            checked_text(str(k), what=f"config key in '{_path}'"): serialise(
                v, _path=f"{_path}.{k}", _depth=_depth + 1
            )
            for k, v in sorted(value.items(), key=lambda item: str(item[0]))
        }
    if isinstance(value, list | tuple):
        return [serialise(v, _path=f"{_path}[{i}]", _depth=_depth + 1) for i, v in enumerate(value)]
    if isinstance(value, set | frozenset):
        return sorted((serialise(v, _path=_path, _depth=_depth + 1) for v in value), key=repr)
    raise ConfigError(
        f"Cannot record the config value at '{_path}': {type(value).__name__} is not JSON-like.",
        hint="Use dicts, lists, numbers and strings, a dataclass, or an object with to_dict().",
    )


_UNCONVERTED = object()


def _convert(value: Any) -> Any:
    """Return a plainer form of a known rich type, or ``_UNCONVERTED``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, argparse.Namespace):
        return vars(value)
    if type(value).__module__.startswith("omegaconf"):
        return _omegaconf_container(value)
    for method in ("model_dump", "to_dict"):
        func = getattr(value, method, None)
        if callable(func) and not isinstance(value, type):
            return func()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy scalars and arrays
        return value.tolist()
    return _UNCONVERTED


def _omegaconf_container(value: Any) -> Any:
    """Return an OmegaConf DictConfig/ListConfig as plain containers, interpolations resolved."""
    try:
        from omegaconf import OmegaConf  # type: ignore[import-not-found, unused-ignore]
    except ImportError:  # an object claiming omegaconf's module without omegaconf: leave it
        return _UNCONVERTED
    return OmegaConf.to_container(value, resolve=True)


def copy_json(value: Any) -> Any:
    """Copy nested dicts and lists of JSON scalars (several times faster than ``deepcopy``)."""
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    return value


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Return nested dicts as one dict with dotted keys (lists stay values)."""
    if not isinstance(value, dict) or (prefix and not value):
        return {prefix: value} if prefix else {}
    result: dict[str, Any] = {}
    for key, item in value.items():
        result.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return result


def diff_params(
    a: Mapping[str, Any], b: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, tuple[Any, Any]]]:
    """Return (added, removed, changed) between two flat param dicts, going from a to b."""
    added = {k: b[k] for k in sorted(b.keys() - a.keys())}
    removed = {k: a[k] for k in sorted(a.keys() - b.keys())}
    changed = {k: (a[k], b[k]) for k in sorted(a.keys() & b.keys()) if a[k] != b[k]}
    return added, removed, changed


def is_config_path(path: str) -> bool:
    """Return True for yaml/yml/toml/json files under configs/ or config/, or named *config*."""
    pure = PurePath(path)
    if pure.suffix.lower() not in CONFIG_SUFFIXES:
        return False
    return bool(_CONFIG_DIRS & set(pure.parts[:-1])) or "config" in pure.name.lower()


def dumps(value: Any) -> str:
    """Return deterministic, standard JSON text for already-serialised data."""
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)


def safe_relative(path: str) -> str:
    """Return ``path`` if it is a safe relative path inside a repository.

    Raises:
        ConfigError: the path is absolute, climbs out with '..', or enters '.git'.
    """
    pure = PurePath(path)
    bad = (
        not path
        or pure.is_absolute()
        or "\\" in path
        or "\0" in path
        or re.match(r"^[A-Za-z]:", path) is not None
        or any(part in ("..", ".", "") or part.lower() == ".git" for part in path.split("/"))
    )
    if bad:
        raise ConfigError(
            f"Refusing to write '{path}': it is not a plain path inside the repository.",
            hint="The snapshot file may have been edited or crafted; restore from a trusted one.",
        )
    return path


def load_json_file(path: Path) -> Any:
    """Read a JSON file written by mlvc.

    Raises:
        ConfigError: the file is missing or is not valid JSON.
    """
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"No config snapshot at '{path}'.",
            path=str(path),
            hint="Pass the path that create_config_snapshot() returned (`mlvc log` lists them).",
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"Cannot read the config snapshot '{path}': {exc}.",
            path=str(path),
            hint="The file is damaged; use another snapshot.",
        ) from exc


def load_config_file(path: Path, *, what: str = "config") -> dict[str, Any]:
    """Read a table of keys from a JSON, TOML or (with PyYAML installed) YAML file.

    Raises:
        ConfigError: the file is missing, unreadable, of an unknown kind or not a table.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise ConfigError(
            f"Cannot read the {what} file '{path}': {reason}.",
            path=str(path),
            hint="Check the path; relative paths start from the project folder.",
        ) from exc
    data = _parse_table(text, path, what)
    if not isinstance(data, dict):
        raise ConfigError(
            f"The {what} file '{path}' holds a {type(data).__name__}, not a table of keys.",
            path=str(path),
            hint='Write an object at the top level, e.g. {"lr": 0.1}.',
        )
    return data


def _parse_table(text: str, path: Path, what: str) -> Any:
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return json.loads(text)
        if suffix == ".toml":
            if sys.version_info >= (3, 11):
                import tomllib
            else:  # pragma: no cover - exercised on 3.10 only
                import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
            return tomllib.loads(text)
        if suffix in (".yaml", ".yml"):
            return _load_yaml(text, path)
    except ValueError as exc:  # JSONDecodeError, TOMLDecodeError and yaml's errors below
        raise ConfigError(
            f"The {what} file '{path}' is not valid {suffix[1:].upper()}: {exc}.",
            path=str(path),
            hint="Fix the syntax at the position shown.",
        ) from exc
    raise ConfigError(
        f"Cannot read {what} from '{path}': unknown file type '{suffix or '(none)'}'.",
        path=str(path),
        hint="Use a .json or .toml file (.yaml/.yml when PyYAML is installed).",
    )


def _load_yaml(text: str, path: Path) -> Any:
    try:
        import yaml  # type: ignore[import-untyped, unused-ignore]  # optional; stubs may be absent
    except ImportError:
        raise ConfigError(
            f"Cannot read '{path}': YAML needs PyYAML, which is not installed.",
            path=str(path),
            hint="Install it (`pip install pyyaml`) or convert the file to JSON or TOML.",
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from exc
