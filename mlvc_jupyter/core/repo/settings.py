"""Repository settings: the size limit, extra metadata keys to strip, the tracking backend.

Settings live in ``.mlvc.toml`` (top-level keys) or, when that file is absent, in the
``[tool.mlvc]`` table of ``pyproject.toml``, both at the repository root, so the kernel, the CLI
and the git filter all see the same values. ``.mlvc.toml`` wins outright: the two are not merged.
Keys may be spelled with dashes or underscores (``max-file-size`` or ``max_file_size``).

Size strings use the units' standard meanings: ``kB``/``MB``/``GB``/``TB`` are powers of 1000,
``KiB``/``MiB``/``GiB``/``TiB`` powers of 1024 (the default limit is 50 MiB).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

from mlvc_jupyter.errors import ConfigError

__all__ = ["MLVC_TOML", "PYPROJECT", "Settings", "load_settings", "parse_size"]

MLVC_TOML = ".mlvc.toml"
PYPROJECT = "pyproject.toml"

_UNITS = {
    "": 1, "b": 1,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}  # fmt: skip
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*$")
_SIZE_HINT = (
    'Write a whole number of bytes or a size such as "500kB", "50MB" or "1.5 GiB" '
    "(units: B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)."
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Settings of one repository.

    Attributes:
        max_file_size: Files larger than this many bytes stay out of snapshots (their path, size
            and hash are recorded instead).
        strip_extra_keys: Extra notebook metadata keys to strip, in nbstripout's dotted form
            (``metadata.kernelspec``, ``cell.metadata.collapsed``).
        keep_output_tag: Cells carrying this tag keep their outputs in snapshots.
        tracking_backend: Where ``log_metrics`` goes (``local`` for now).
        allow_secrets: Globs of files the secret guard lets through (``"tests/fixtures/*"``);
            a glob without ``/`` matches the file name in any folder.
        auto_tag: ``"patch"``, ``"minor"`` or ``"major"``: every experiment that ends with
            status success gets the next ``<auto_tag_prefix>vX.Y.Z`` tag; ``""`` turns it off.
        auto_tag_prefix: The release line auto-tag bumps (``bert-`` gives ``bert-v1.2.3``).
        gc_auto_every: Every this many checkpoints a process asks git's own ``gc --auto``, in
            the background, whether loose objects need packing; 0 turns it off.
        gc_auto_limit: The loose-object count above which that ``gc --auto`` packs (git's
            ``gc.auto``; 6700 is git's default).
    """

    max_file_size: int = 50 * 1024 * 1024
    strip_extra_keys: tuple[str, ...] = ()
    keep_output_tag: str = "keep_output"
    tracking_backend: str = "local"
    allow_secrets: tuple[str, ...] = ()
    auto_tag: str = ""
    auto_tag_prefix: str = ""
    gc_auto_every: int = 100
    gc_auto_limit: int = 6700

    def to_dict(self) -> dict[str, object]:
        """Return the settings as JSON-ready data (keys with underscores)."""
        return {
            "max_file_size": self.max_file_size,
            "strip_extra_keys": list(self.strip_extra_keys),
            "keep_output_tag": self.keep_output_tag,
            "tracking_backend": self.tracking_backend,
            "allow_secrets": list(self.allow_secrets),
            "auto_tag": self.auto_tag,
            "auto_tag_prefix": self.auto_tag_prefix,
            "gc_auto_every": self.gc_auto_every,
            "gc_auto_limit": self.gc_auto_limit,
        }


_FIELDS = tuple(f.name for f in fields(Settings))


def load_settings(toplevel: Path) -> Settings:
    """Read the settings of the repository whose working tree starts at ``toplevel``.

    ``.mlvc.toml`` is read if present, else ``[tool.mlvc]`` of ``pyproject.toml``, else the
    defaults apply.

    Raises:
        ConfigError: The file cannot be read or parsed, or has an unknown key or a bad value.
    """
    mlvc_toml = toplevel / MLVC_TOML
    if mlvc_toml.is_file():
        return _build(_read_toml(mlvc_toml), mlvc_toml, where="")
    pyproject = toplevel / PYPROJECT
    if pyproject.is_file():
        table = _read_toml(pyproject).get("tool", {})
        section = table.get("mlvc", {}) if isinstance(table, dict) else {}
        if not isinstance(section, dict):
            raise ConfigError(
                f"'tool.mlvc' in {pyproject} is not a table.",
                path=str(pyproject),
                hint="Write the settings under a `[tool.mlvc]` header.",
            )
        return _build(section, pyproject, where="[tool.mlvc] ")
    return Settings()


def parse_size(value: object, *, key: str = "max-file-size", path: Path | None = None) -> int:
    """Return a size in bytes from an int or a string such as ``"50MB"`` or ``"1.5 GiB"``.

    Raises:
        ConfigError: The value is not a positive whole number of bytes or a size string.
    """
    where = f" in {path}" if path else ""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and (match := _SIZE.match(value)):
        number, unit = match.groups()
        if unit.lower() not in _UNITS:
            raise _size_error(f"'{key}'{where} has an unknown unit '{unit}'.", path)
        size = int(Decimal(number) * _UNITS[unit.lower()])
    else:
        raise _size_error(f"'{key}'{where} is {value!r}, which is not a size.", path)
    if size <= 0:
        raise _size_error(f"'{key}'{where} must be positive, got {value!r}.", path)
    return size


def _size_error(message: str, path: Path | None) -> ConfigError:
    return ConfigError(message, path=str(path) if path else None, hint=_SIZE_HINT)


def _read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file.

    Raises:
        ConfigError: The file cannot be read, is not UTF-8 or is not valid TOML.
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        # tomli is only installed on 3.10, where mypy (python_version = 3.10) checks this branch.
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    try:
        data: dict[str, Any] = tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"Cannot read {path}: {exc.strerror}.",
            path=str(path),
            hint="Check the file's permissions.",
        ) from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"{path} is not valid TOML: {exc}.",
            path=str(path),
            hint="Fix the syntax at the position shown (TOML strings need quotes).",
        ) from exc
    return data


def _build(section: dict[str, Any], path: Path, *, where: str) -> Settings:
    """Validate a table of settings and turn it into :class:`Settings`.

    Raises:
        ConfigError: A key is unknown or given twice, or a value has the wrong type.
    """
    values: dict[str, Any] = {}
    for raw_key, value in section.items():
        key = raw_key.replace("-", "_")
        if key not in _FIELDS:
            raise ConfigError(
                f"Unknown key {where}'{raw_key}' in {path}.",
                path=str(path),
                hint=f"Accepted keys: {_accepted()}.",
            )
        if key in values:
            raise ConfigError(
                f"Key {where}'{raw_key}' is given twice in {path} (dashes and underscores "
                "name the same key).",
                path=str(path),
                hint="Keep one spelling.",
            )
        values[key] = _convert(key, value, path, where)
    return Settings(**values)


def _convert(key: str, value: object, path: Path, where: str) -> object:
    """Check one value's type and normalise it.

    Raises:
        ConfigError: The value has the wrong type.
    """
    name = key.replace("_", "-")
    if key == "max_file_size":
        return parse_size(value, key=f"{where}{name}", path=path)
    if key in ("strip_extra_keys", "allow_secrets"):
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple(value)
        example = '["metadata.foo"]' if key == "strip_extra_keys" else '["tests/fixtures/*"]'
        raise _type_error(where + name, value, path, f"an array of strings, e.g. {example}")
    if key in _HOUSEKEEPING:
        return _housekeeping_value(key, value, path, where)
    if isinstance(value, str) and value:  # keep_output_tag, tracking_backend
        return value
    raise _type_error(where + name, value, path, "a non-empty string")


_HOUSEKEEPING = ("auto_tag", "auto_tag_prefix", "gc_auto_every", "gc_auto_limit")
_BUMPS = ("", "patch", "minor", "major")


def _housekeeping_value(key: str, value: object, path: Path, where: str) -> object:
    """Check auto-tag (a version part), its prefix (a string) and the gc counts (ints >= 0).

    Raises:
        ConfigError: The value has the wrong type or is not one of the accepted values.
    """
    name = where + key.replace("_", "-")
    if key == "auto_tag":
        if value in _BUMPS:
            return value
        raise _type_error(name, value, path, 'one of "patch", "minor", "major" (or "" for off)')
    if key == "auto_tag_prefix":
        if isinstance(value, str):
            return value
        raise _type_error(name, value, path, 'a string, e.g. "bert-"')
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise _type_error(name, value, path, "a whole number, 0 or more")


def _type_error(name: str, value: object, path: Path, expected: str) -> ConfigError:
    return ConfigError(
        f"'{name}' in {path} is {value!r} ({type(value).__name__}); it must be {expected}.",
        path=str(path),
        hint=f"Fix the value of '{name}'. Accepted keys: {_accepted()}.",
    )


def _accepted() -> str:
    return ", ".join(name.replace("_", "-") for name in _FIELDS)
