"""Settings from .mlvc.toml, from [tool.mlvc] of pyproject.toml, or the defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlvc_jupyter.core.repo.settings import Settings, load_settings, parse_size
from mlvc_jupyter.errors import ConfigError

MIB = 1024 * 1024


def test_defaults_without_any_file(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)

    assert settings == Settings()
    assert settings.to_dict() == {
        "max_file_size": 50 * MIB,
        "strip_extra_keys": [],
        "keep_output_tag": "keep_output",
        "tracking_backend": "local",
        "allow_secrets": [],
        "auto_tag": "",
        "auto_tag_prefix": "",
        "gc_auto_every": 100,
        "gc_auto_limit": 6700,
    }


def test_defaults_when_pyproject_has_no_mlvc_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n[tool.ruff]\nx = 1\n')

    assert load_settings(tmp_path) == Settings()


def test_mlvc_toml_top_level_keys(tmp_path: Path) -> None:
    (tmp_path / ".mlvc.toml").write_text(
        'max-file-size = "10MB"\n'
        'strip_extra_keys = ["metadata.kernelspec", "cell.metadata.collapsed"]\n'
        'keep-output-tag = "show"\n'
        'tracking-backend = "local"\n'
    )

    settings = load_settings(tmp_path)

    assert settings == Settings(
        max_file_size=10_000_000,
        strip_extra_keys=("metadata.kernelspec", "cell.metadata.collapsed"),
        keep_output_tag="show",
    )


def test_pyproject_tool_mlvc_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n\n[tool.mlvc]\nmax_file_size = 1024\nkeep-output-tag = "k"\n'
    )

    settings = load_settings(tmp_path)

    assert settings.max_file_size == 1024
    assert settings.keep_output_tag == "k"
    assert settings.strip_extra_keys == ()


def test_mlvc_toml_wins_over_pyproject_without_merging(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.mlvc]\nmax-file-size = 1\nkeep-output-tag = "from-pyproject"\n'
    )
    (tmp_path / ".mlvc.toml").write_text("max-file-size = 2\n")

    settings = load_settings(tmp_path)

    assert settings.max_file_size == 2
    assert settings.keep_output_tag == "keep_output"


def test_settings_are_frozen() -> None:
    settings = Settings()

    with pytest.raises(AttributeError):
        settings.max_file_size = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(1234, 1234, id="int"),
        pytest.param("1234", 1234, id="digits"),
        pytest.param("512B", 512, id="bytes-unit"),
        pytest.param("500kB", 500_000, id="kB"),
        pytest.param("500KB", 500_000, id="KB"),
        pytest.param("50MB", 50_000_000, id="MB"),
        pytest.param("50 mb", 50_000_000, id="lower-case-with-space"),
        pytest.param("2GB", 2_000_000_000, id="GB"),
        pytest.param("1TB", 10**12, id="TB"),
        pytest.param("4KiB", 4096, id="KiB"),
        pytest.param("50MiB", 50 * MIB, id="MiB-equals-default"),
        pytest.param("1.5 GiB", 1536 * MIB, id="fractional-GiB"),
        pytest.param(" 0.5MiB ", MIB // 2, id="padded-fraction"),
        pytest.param("1TiB", 1024**4, id="TiB"),
    ],
)
def test_parse_size_accepts(value: object, expected: int) -> None:
    assert parse_size(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("50 parsecs", "unknown unit 'parsecs'", id="unknown-unit"),
        pytest.param("50M", "unknown unit 'M'", id="bare-M"),
        pytest.param("MB", "not a size", id="unit-only"),
        pytest.param("-5MB", "not a size", id="negative-string"),
        pytest.param("1,5GB", "not a size", id="comma"),
        pytest.param("", "not a size", id="empty"),
        pytest.param(0, "must be positive", id="zero"),
        pytest.param(-1, "must be positive", id="negative-int"),
        pytest.param("0.1B", "must be positive", id="rounds-to-zero"),
        pytest.param(1.5e9, "not a size", id="float"),
        pytest.param(True, "not a size", id="bool"),
        pytest.param([50], "not a size", id="list"),
    ],
)
def test_parse_size_rejects(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_size(value)

    assert "1.5 GiB" in str(caught.value.hint)


def test_bad_size_in_file_names_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / ".mlvc.toml"
    path.write_text('max_file_size = "lots"\n')

    with pytest.raises(ConfigError, match=r"'max-file-size' in .*\.mlvc\.toml") as caught:
        load_settings(tmp_path)

    assert caught.value.path == str(path)


def test_unknown_key_names_file_key_and_accepted_keys(tmp_path: Path) -> None:
    path = tmp_path / ".mlvc.toml"
    path.write_text("max-file-size = 10\nmax-filesize = 20\n")

    with pytest.raises(
        ConfigError, match=r"Unknown key 'max-filesize' in .*\.mlvc\.toml"
    ) as caught:
        load_settings(tmp_path)

    assert caught.value.path == str(path)
    assert caught.value.hint == (
        "Accepted keys: max-file-size, strip-extra-keys, keep-output-tag, tracking-backend, "
        "allow-secrets, auto-tag, auto-tag-prefix, gc-auto-every, gc-auto-limit."
    )


def test_unknown_key_in_pyproject_names_the_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mlvc]\ncolour = 'blue'\n")

    with pytest.raises(ConfigError, match=r"Unknown key \[tool\.mlvc\] 'colour' in .*pyproject"):
        load_settings(tmp_path)


def test_same_key_with_dash_and_underscore_is_an_error(tmp_path: Path) -> None:
    (tmp_path / ".mlvc.toml").write_text("max-file-size = 10\nmax_file_size = 20\n")

    with pytest.raises(ConfigError, match="given twice"):
        load_settings(tmp_path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param('strip-extra-keys = "metadata.foo"', "must be an array of strings", id="str"),
        pytest.param("strip-extra-keys = [1, 2]", "must be an array of strings", id="ints"),
        pytest.param("keep-output-tag = 3", r"'keep-output-tag' .* is 3 \(int\)", id="int-tag"),
        pytest.param('keep-output-tag = ""', "must be a non-empty string", id="empty-tag"),
        pytest.param("tracking-backend = false", "must be a non-empty string", id="bool-backend"),
    ],
)
def test_wrong_types_are_rejected(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / ".mlvc.toml").write_text(line + "\n")

    with pytest.raises(ConfigError, match=message) as caught:
        load_settings(tmp_path)

    assert "Accepted keys" in str(caught.value.hint)


@pytest.mark.parametrize(
    "name",
    [pytest.param(".mlvc.toml", id="mlvc-toml"), pytest.param("pyproject.toml", id="pyproject")],
)
def test_unparseable_toml_quotes_the_parser(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("max-file-size = = 3\n")

    with pytest.raises(ConfigError, match=r"is not valid TOML: .*line 1") as caught:
        load_settings(tmp_path)

    assert caught.value.path == str(tmp_path / name)


def test_tool_mlvc_that_is_not_a_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool]\nmlvc = 3\n")

    with pytest.raises(ConfigError, match="'tool.mlvc' in .* is not a table"):
        load_settings(tmp_path)


def test_settings_in_a_git_repository(git_repo: Any) -> None:
    git_repo.write({".mlvc.toml": "max-file-size = '1KiB'\n"})

    assert load_settings(git_repo.path).max_file_size == 1024


@pytest.mark.parametrize(
    ("text", "match"),
    [('auto-tag = "huge"', "auto-tag"), ("gc-auto-every = -1", "gc-auto-every"),
     ('gc-auto-limit = "many"', "gc-auto-limit"), ("auto-tag-prefix = 3", "auto-tag-prefix")],
    ids=["bump", "every", "limit", "prefix"],
)  # fmt: skip
def test_housekeeping_settings_are_checked(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / ".mlvc.toml").write_text(text + "\n")
    with pytest.raises(ConfigError, match=match):
        load_settings(tmp_path)


def test_housekeeping_settings_are_read(tmp_path: Path) -> None:
    (tmp_path / ".mlvc.toml").write_text(
        'auto-tag = "minor"\nauto-tag-prefix = "bert-"\ngc-auto-every = 0\ngc-auto-limit = 10\n'
    )
    settings = load_settings(tmp_path)
    assert (settings.auto_tag, settings.auto_tag_prefix) == ("minor", "bert-")
    assert (settings.gc_auto_every, settings.gc_auto_limit) == (0, 10)
