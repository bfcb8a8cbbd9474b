"""What an experiment ran on: interpreter, platform, packages, GPUs; and data-file fingerprints.

The interpreter, platform, host, user and package versions do not change within a process, so they
are captured once (about 20 ms for 170 packages, most of it reading package metadata) and cached.
GPU facts are the exception: they are read on every call, cheaply, and only when the user's code has
already imported ``torch``; this module never imports torch or tensorflow itself, and never makes
torch initialise CUDA.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypedDict

from mlvc_jupyter.core.configs.values import copy_json

__all__ = [
    "EnvironmentChange",
    "capture_environment",
    "compare_environments",
    "file_sha256",
    "normalize_package_name",
]

_NAME_SEPARATORS = re.compile(r"[-_.]+")


class EnvironmentChange(TypedDict):
    """One difference between a recorded and a current environment.

    ``kind`` is ``python``, ``platform`` or ``package``; ``name`` the field or package name;
    ``change`` ``added`` (only in current), ``removed`` (only in recorded) or ``changed``.
    """

    kind: Literal["python", "platform", "package"]
    name: str
    change: Literal["added", "removed", "changed"]
    old: str | None
    new: str | None


def capture_environment() -> dict[str, object]:
    """Return the environment of this process as JSON-ready data.

    Keys: ``python_version``, ``python_implementation``, ``executable``, ``platform`` (``system``,
    ``release``, ``machine``), ``hostname``, ``user``, ``packages`` (``{name: version}``, names
    lower-case with ``-``), ``gpu`` (``None`` unless torch is already imported) and
    ``cuda_visible_devices`` (``None`` when unset). The result is a fresh copy: changing it does
    not change what the next call returns.
    """
    env: dict[str, object] = copy_json(_static_environment())
    env["gpu"] = _gpu_info()
    env["cuda_visible_devices"] = os.environ.get("CUDA_VISIBLE_DEVICES")
    return env


def normalize_package_name(name: str) -> str:
    """Return a distribution name in its PEP 503 form: lower-case, runs of ``-_.`` as ``-``."""
    return _NAME_SEPARATORS.sub("-", name).lower()


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Return the hex SHA-256 of a file's content, read ``chunk`` bytes at a time.

    Raises:
        OSError: The file cannot be read (``FileNotFoundError`` when it is missing), so a drift
            report can tell a missing data file from a changed one.
    """
    import hashlib  # deferred, like the other imports only one function needs: import stays cheap

    digest = hashlib.sha256()
    buffer = bytearray(chunk)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as stream:
        while count := stream.readinto(view):
            digest.update(view[:count])
    return digest.hexdigest()


def compare_environments(
    recorded: Mapping[str, Any], current: Mapping[str, Any]
) -> list[EnvironmentChange]:
    """Return how ``current`` differs from ``recorded`` (python, platform, packages), in that order.

    Host name, user, executable path and GPUs are not compared: they differ between machines
    without making a result different. A part missing from either side is skipped.
    """
    changes: list[EnvironmentChange] = []
    for field in ("python_version", "python_implementation"):
        _compare_value(changes, "python", field, recorded.get(field), current.get(field))
    old_platform, new_platform = recorded.get("platform"), current.get("platform")
    if isinstance(old_platform, Mapping) and isinstance(new_platform, Mapping):
        for field in ("system", "release", "machine"):
            _compare_value(
                changes, "platform", field, old_platform.get(field), new_platform.get(field)
            )
    old_packages, new_packages = recorded.get("packages"), current.get("packages")
    if isinstance(old_packages, Mapping) and isinstance(new_packages, Mapping):
        changes.extend(_compare_packages(old_packages, new_packages))
    return changes


def _compare_value(
    changes: list[EnvironmentChange],
    kind: Literal["python", "platform"],
    name: str,
    old: object,
    new: object,
) -> None:
    if old is not None and new is not None and old != new:
        changes.append(
            {"kind": kind, "name": name, "change": "changed", "old": str(old), "new": str(new)}
        )


def _compare_packages(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[EnvironmentChange]:
    changes: list[EnvironmentChange] = []
    for name in sorted(old.keys() | new.keys()):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        change: Literal["added", "removed", "changed"] = (
            "added" if before is None else "removed" if after is None else "changed"
        )
        changes.append(
            {
                "kind": "package",
                "name": name,
                "change": change,
                "old": None if before is None else str(before),
                "new": None if after is None else str(after),
            }
        )
    return changes


@functools.cache
def _static_environment() -> dict[str, object]:
    """Capture the facts that cannot change within a process (once; callers get copies)."""
    import platform
    import socket

    return {
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
        },
        "hostname": socket.gethostname(),
        "user": _os_user(),
        "packages": _packages(),
    }


def _os_user() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return None


def _packages() -> dict[str, str]:
    """Return ``{normalised name: version}`` of every installed distribution.

    When a name is installed twice on ``sys.path``, the first one wins, as it does for imports.
    """
    from importlib import metadata  # deferred: only needed for the one capture

    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name, version = _name_and_version(dist)
        if name and version:  # a broken install can lack either
            found.setdefault(normalize_package_name(name), version)
    return dict(sorted(found.items()))


def _name_and_version(dist: Any) -> tuple[str | None, str | None]:
    """Read Name and Version from the metadata's header block.

    Three times faster than ``dist.metadata``, which parses the whole file (long description
    included) with the email parser; that remains the fallback.
    """
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    header = text.partition("\n\n")[0]
    fields = dict(line.split(": ", 1) for line in header.splitlines() if ": " in line[:20])
    name, version = fields.get("Name"), fields.get("Version")
    if name and version:
        return name.strip(), version.strip()
    meta = dist.metadata
    return meta["Name"], meta["Version"]


def _gpu_info() -> dict[str, object] | None:
    """Return what torch already knows about GPUs, or ``None`` when torch is not imported.

    Device names are read only when CUDA is already initialised: asking earlier would initialise
    it here, which costs seconds and breaks fork-based data loaders.
    """
    torch: Any = sys.modules.get("torch")
    cuda: Any = getattr(torch, "cuda", None)
    if cuda is None:
        return None
    try:
        available = bool(cuda.is_available())
        count = int(cuda.device_count()) if available else 0
        initialised = bool(cuda.is_initialized())
        names = [str(cuda.get_device_name(i)) for i in range(count)] if initialised else None
    except (RuntimeError, AssertionError) as exc:  # a broken CUDA install; record why
        return {"source": "torch", "cuda_available": False, "error": str(exc)}
    return {"source": "torch", "cuda_available": available, "device_count": count, "devices": names}
