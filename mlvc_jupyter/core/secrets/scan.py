"""Find credentials in text with detect-secrets' plugins, tuned for ML code.

Which plugins, and why:

- Every *format* detector detect-secrets ships (AWS, Azure storage, GitHub, GitLab, Slack,
  Stripe, Twilio, SendGrid, Mailchimp, npm, PyPI, OpenAI, Discord, Telegram, JWT, Square,
  Artifactory, private keys, and ``BasicAuthDetector`` for URLs with a password) runs as is:
  each matches a credential's documented shape, so a hit is rarely wrong. Except the IBM Cloud,
  IBM COS, SoftLayer and Cloudant ones: their context regexes (lookbehinds over every position)
  cost 0.2 ms per file, over half of a scan, and what they look for is a value assigned to a
  ``*_password``/``*_api_key``/``*secret*`` name, which the keyword detector catches anyway.
- ``KeywordDetector`` (``password = "…"``, ``api_key: …``, ``secret: …`` in code and configs)
  runs with filters for what ML code writes under such names: references rather than values
  (``os.environ[...]``, ``${VAR}``, ``<placeholder>``, ``getpass()``), numbers
  (``secret_sauce_lr = 0.01``), booleans and paths (``pwd = "/data"``).
- Left out on purpose: ``HexHighEntropyString`` and ``Base64HighEntropyString``. ML repositories
  are full of high-entropy strings that are not secrets: dataset and model SHA-256 digests, git
  SHAs in records and lock files, wandb run ids, base64 images and embeddings in notebooks. The
  entropy plugins flag every one, and a guard that cries wolf gets switched off. Keys with a
  known shape are caught by the format detectors; unknown ones are caught by the keyword they
  are assigned to. ``IPPublicDetector`` is left out too: an address is not a credential.
- Added here, because detect-secrets has no detector for them: Hugging Face tokens (``hf_…``),
  Google API keys (``AIza…``), Anthropic keys (``sk-ant-…``), assignments to token-named
  variables that only credentials use (``access_token``, ``auth_token``, ``hf_token``, ... but
  not ``pad_token`` or ``num_tokens``), and any ``KEY=value`` line of a ``.env`` file.

Format detectors run once over a whole file (one regex pass each); the keyword detector only on
the lines that contain one of its keywords. detect-secrets is imported on the first scan.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any

__all__ = ["Finding", "mask", "scan_text"]

ALLOW_MARK = "mlvc: allow-secret"
"""A line holding this text (in any comment syntax) is never reported."""

_TOKEN_ASSIGNMENT = "Token assignment"
# Each pattern starts with a literal, so `re` can jump to its candidates; the word boundary before
# a match (a leading \b would make it try every position) is checked in _starts_a_word.
_CUSTOM = {
    "Hugging Face token": re.compile(r"hf_[A-Za-z0-9]{30,}\b"),
    "Google API key": re.compile(r"AIza[0-9A-Za-z_\-]{35}\b"),
    "Anthropic API key": re.compile(r"sk-ant-[A-Za-z0-9_\-]{20,}"),
    _TOKEN_ASSIGNMENT: re.compile(r"token['\"]?\s*[:=]\s*['\"]([^\s'\"]{8,})['\"]", re.IGNORECASE),
}
# The names a token assignment's ``..._token`` must end (``hf_token``, ``accessToken``).
_TOKEN_OWNER = re.compile(
    r"\b(?:access|auth|bearer|refresh|session|api|hf|huggingface|github|gh|gitlab|slack|"
    r"bot|wandb|comet|neptune|kaggle|private|secret)_?$",
    re.IGNORECASE,
)
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_REFERENCE = re.compile(
    r"^(?:\$\{?\w+\}?|\{\{.*\}\}|<[^>]*>|%\(\w+\)s|\*+|x{4,}|\.\.\.|None|null|nil|true|false|"
    r"changeme|your[_-].*|redacted|placeholder)$",
    re.IGNORECASE,
)
_INDIRECT = re.compile(
    r"(?:os\.environ|os\.getenv|getenv\(|getpass|environ\[|secrets?\.get|get_secret|"
    r"keyring\.|\.get\(|input\()",
    re.IGNORECASE,
)
_NUMBER_OR_PATH = re.compile(r"^(?:[-+]?[\d.]+(?:e[-+]?\d+)?|[./~][\w./~-]*|\w+\.\w+\(.*)$")
_DOTENV_NAMES = re.compile(r"^(?:\.env(?:\..+)?|.+\.env)$")


@dataclass(frozen=True, slots=True)
class Finding:
    """One credential found: where (``path:line``), what kind, and the value masked."""

    path: str
    line: str
    kind: str
    masked: str

    def describe(self) -> str:
        """Return ``path:line: kind (value masked)``."""
        return f"{self.path}:{self.line}: {self.kind} ({self.masked})"


def mask(value: str) -> str:
    """Return ``value`` with all but its first four characters hidden (all of a short one)."""
    return f"{value[:4]}{'*' * 8}" if len(value) >= 16 else "*" * 8


def scan_text(path: str, text: str) -> list[Finding]:
    """Return the credentials in ``text`` (the file ``path``), lines marked allowed left out."""
    lines = text.splitlines()
    found: dict[tuple[int, str], Finding] = {}
    for number, kind, value in _hits(path, text, lines):
        line = lines[number - 1] if 0 < number <= len(lines) else ""
        if ALLOW_MARK in line:
            continue
        found.setdefault((number, kind), Finding(path, str(number), kind, mask(value)))
    return sorted(found.values(), key=lambda f: (int(f.line), f.kind))


def _hits(path: str, text: str, lines: list[str]) -> Iterator[tuple[int, str, str]]:
    lowered = text.lower()
    for kind, pattern in _format_patterns():
        custom = kind in _CUSTOM
        for match in pattern.finditer(text):
            if custom and not _starts_a_word(text, match.start(), kind):
                continue
            value = match.group(1) if kind == _TOKEN_ASSIGNMENT else match.group(0)
            yield _line_of(text, match.start()), kind, value.strip(" \t\"'=:")
    yield from _keyword_hits(path, text, lowered)
    if _DOTENV_NAMES.match(PurePosixPath(path).name):
        yield from _dotenv_hits(lines)


def _starts_a_word(text: str, start: int, kind: str) -> bool:
    """Return True when one of our patterns' match at ``start`` begins a word (``\\b``), and a
    token assignment's ``token`` ends a credential's name (``hf_token``, not ``pad_token``)."""
    if kind == _TOKEN_ASSIGNMENT:
        return bool(_TOKEN_OWNER.search(text, max(0, start - 40), start))
    return start == 0 or not (text[start - 1].isalnum() or text[start - 1] == "_")


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


@lru_cache(maxsize=1)
def _format_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Return (kind, regex) of every format detector: detect-secrets' plus ours."""
    patterns = [
        (plugin.secret_type, regex) for plugin in _format_plugins() for regex in plugin.denylist
    ]
    return (*patterns, *_CUSTOM.items())


def _format_plugins() -> list[Any]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.base import RegexBasedDetector
    from detect_secrets.plugins.cloudant import CloudantDetector
    from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin
    from detect_secrets.plugins.ibm_cloud_iam import IbmCloudIamDetector
    from detect_secrets.plugins.ibm_cos_hmac import IbmCosHmacDetector
    from detect_secrets.plugins.ip_public import IPPublicDetector
    from detect_secrets.plugins.keyword import KeywordDetector
    from detect_secrets.plugins.softlayer import SoftlayerDetector

    left_out = (
        HighEntropyStringsPlugin, IPPublicDetector, KeywordDetector, CloudantDetector,
        IbmCloudIamDetector, IbmCosHmacDetector, SoftlayerDetector,
    )  # fmt: skip
    classes: list[type[Any]] = list(get_mapping_from_secret_type_to_class().values())
    return [
        cls()
        for cls in sorted(classes, key=lambda c: c.__name__)
        if issubclass(cls, RegexBasedDetector) and not issubclass(cls, left_out)
    ]


@lru_cache(maxsize=1)
def _keyword_tools() -> tuple[Any, re.Pattern[str]]:
    from detect_secrets.plugins.keyword import DENYLIST, KeywordDetector

    return KeywordDetector(), re.compile("|".join(DENYLIST))  # run over lowered text


def _keyword_hits(path: str, text: str, lowered: str) -> Iterator[tuple[int, str, str]]:
    """Run the keyword detector on the lines that hold one of its keywords."""
    detector, keywords = _keyword_tools()
    name = "config.yaml" if path.endswith((".cfg", ".conf", ".env")) else path
    done = -1
    for match in keywords.finditer(lowered):
        start = text.rfind("\n", 0, match.start()) + 1
        if start <= done:
            continue
        end = text.find("\n", start)
        done = end if end >= 0 else len(text)
        line = text[start:done]
        if _INDIRECT.search(line):
            continue
        number = _line_of(text, start)
        for hit in detector.analyze_line(filename=name, line=line, line_number=number):
            value = (hit.secret_value or "").strip()
            if _is_value(value):
                yield number, "Password or secret assigned", value


def _dotenv_hits(lines: list[str]) -> Iterator[tuple[int, str, str]]:
    for number, line in enumerate(lines, 1):
        match = _ENV_LINE.match(line)
        if match and not line.lstrip().startswith("#"):
            value = match.group(2).strip("'\"")
            if value and not _REFERENCE.match(value):
                yield number, f"Value in an environment file ({match.group(1)})", value


def _is_value(value: str) -> bool:
    """Return True when a keyword's value looks like a literal credential, not code or config."""
    return not (len(value) < 4 or _REFERENCE.match(value) or _NUMBER_OR_PATH.match(value))
