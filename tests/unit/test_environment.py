"""Environment capture (cached, copy-safe), data-file hashes and environment drift."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import mlvc_jupyter
from mlvc_jupyter.core.environment.capture import (
    capture_environment,
    compare_environments,
    file_sha256,
    normalize_package_name,
)

ROOT = Path(mlvc_jupyter.__file__).parents[1]  # subprocesses import the package from here


def test_capture_has_the_documented_keys() -> None:
    env = capture_environment()

    assert env["python_version"] == platform.python_version()
    assert env["python_implementation"] == platform.python_implementation()
    assert env["executable"] == sys.executable
    assert env["platform"] == {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
    }
    assert isinstance(env["hostname"], str)
    assert "user" in env
    assert "gpu" in env
    assert "cuda_visible_devices" in env
    json.dumps(env)  # JSON-ready


def test_packages_are_normalised_and_include_pytest() -> None:
    packages = capture_environment()["packages"]

    assert isinstance(packages, dict)
    assert packages["pytest"] == pytest.__version__
    assert all(name == normalize_package_name(name) for name in packages)


def test_packages_agree_with_importlib_metadata() -> None:
    from importlib import metadata

    expected: dict[str, str] = {}
    for dist in metadata.distributions():
        expected.setdefault(normalize_package_name(dist.metadata["Name"]), dist.version)

    assert capture_environment()["packages"] == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("PyYAML", "pyyaml", id="case"),
        pytest.param("typing_extensions", "typing-extensions", id="underscore"),
        pytest.param("zope.interface", "zope-interface", id="dot"),
        pytest.param("a-_.b", "a-b", id="run-of-separators"),
    ],
)
def test_normalize_package_name(name: str, expected: str) -> None:
    assert normalize_package_name(name) == expected


def test_capture_is_cached_and_mutation_does_not_poison_it() -> None:
    first = capture_environment()
    first_copy = json.loads(json.dumps(first))

    first["python_version"] = "0.0"
    first["packages"]["pytest"] = "0"  # type: ignore[index]
    first["platform"]["system"] = "Plan9"  # type: ignore[index]
    del first["hostname"]
    second = capture_environment()

    assert second == first_copy
    assert second is not first


def test_capture_reads_packages_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    capture_environment()  # warm the cache
    calls: list[int] = []

    def distributions() -> list[object]:
        calls.append(1)
        return []

    monkeypatch.setattr(metadata, "distributions", distributions)

    capture_environment()

    assert calls == []


def test_cuda_visible_devices_is_read_each_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert capture_environment()["cuda_visible_devices"] is None

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")

    assert capture_environment()["cuda_visible_devices"] == "0,1"


def test_gpu_is_none_without_torch_and_torch_is_not_imported() -> None:
    code = (
        "import sys, json; from mlvc_jupyter.core.environment.capture import capture_environment;"
        "env = capture_environment();"
        "print(json.dumps([env['gpu'], 'torch' in sys.modules, 'tensorflow' in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, check=True, text=True
    ).stdout

    assert json.loads(out) == [None, False, False]


class _FakeCuda:
    def __init__(self, *, initialised: bool) -> None:
        self.initialised = initialised

    def is_available(self) -> bool:
        return True

    def device_count(self) -> int:
        return 2

    def is_initialized(self) -> bool:
        return self.initialised

    def get_device_name(self, index: int) -> str:
        if not self.initialised:
            raise AssertionError("would initialise CUDA")
        return f"Fake GPU {index}"


@pytest.mark.parametrize(
    ("initialised", "devices"),
    [
        pytest.param(True, ["Fake GPU 0", "Fake GPU 1"], id="cuda-initialised"),
        pytest.param(False, None, id="cuda-not-initialised"),
    ],
)
def test_gpu_from_an_already_imported_torch(
    monkeypatch: pytest.MonkeyPatch, initialised: bool, devices: list[str] | None
) -> None:
    fake_torch: Any = types.ModuleType("torch")
    fake_torch.cuda = _FakeCuda(initialised=initialised)
    monkeypatch.setitem(sys.modules, "torch", fake_torch)

    gpu = capture_environment()["gpu"]

    assert gpu == {
        "source": "torch",
        "cuda_available": True,
        "device_count": 2,
        "devices": devices,
    }


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"x", id="one-byte"),
        pytest.param(bytes(range(256)) * 9000, id="many-chunks"),
    ],
)
def test_file_sha256_streams_in_chunks(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(content)

    assert file_sha256(path, chunk=4096) == hashlib.sha256(content).hexdigest()
    assert file_sha256(path) == hashlib.sha256(content).hexdigest()


def test_file_sha256_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        file_sha256(tmp_path / "missing.csv")


def _env(python: str = "3.11.7", system: str = "Linux", **packages: str) -> dict[str, Any]:
    return {
        "python_version": python,
        "python_implementation": "CPython",
        "platform": {"system": system, "release": "6.1", "machine": "x86_64"},
        "hostname": "a",
        "packages": packages,
    }


def test_compare_identical_environments() -> None:
    assert compare_environments(_env(numpy="1.26.4"), _env(numpy="1.26.4")) == []


def test_compare_finds_changed_added_and_removed_packages() -> None:
    recorded = _env(numpy="1.26.4", pandas="2.2.0", torch="2.1.0")
    current = _env(numpy="2.0.0", pandas="2.2.0", scipy="1.13.0")
    current["hostname"] = "b"  # not drift

    changes = compare_environments(recorded, current)

    assert changes == [
        {"kind": "package", "name": "numpy", "change": "changed", "old": "1.26.4", "new": "2.0.0"},
        {"kind": "package", "name": "scipy", "change": "added", "old": None, "new": "1.13.0"},
        {"kind": "package", "name": "torch", "change": "removed", "old": "2.1.0", "new": None},
    ]


def test_compare_finds_python_and_platform_changes_first() -> None:
    changes = compare_environments(
        _env(python="3.10.4", system="Darwin", a="1"), _env(python="3.11.7", b="2")
    )

    assert [(c["kind"], c["name"], c["change"]) for c in changes] == [
        ("python", "python_version", "changed"),
        ("platform", "system", "changed"),
        ("package", "a", "removed"),
        ("package", "b", "added"),
    ]
    assert changes[0]["old"] == "3.10.4"
    assert changes[0]["new"] == "3.11.7"


def test_compare_skips_parts_missing_from_an_old_record() -> None:
    changes = compare_environments({"python_version": "2.7.18"}, capture_environment())

    assert changes == [
        {
            "kind": "python",
            "name": "python_version",
            "change": "changed",
            "old": "2.7.18",
            "new": platform.python_version(),
        }
    ]


def test_compare_against_a_real_capture_round_trip() -> None:
    recorded = json.loads(json.dumps(capture_environment()))
    recorded["packages"]["pytest"] = "0.0.1"

    changes = compare_environments(recorded, capture_environment())

    assert changes == [
        {
            "kind": "package",
            "name": "pytest",
            "change": "changed",
            "old": "0.0.1",
            "new": pytest.__version__,
        }
    ]
