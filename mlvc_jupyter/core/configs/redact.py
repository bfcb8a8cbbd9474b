"""Redact config values stored under credential-like keys, before they reach a record or a tracker.

A key is credential-like when its words (split at ``_``, ``-``, ``.``, spaces and camelCase) end in
``password``, ``passwd``, ``pwd``, ``secret``, ``token``, ``credential(s)`` or ``apikey``, or in a
pair such as ``api key``, ``access key``, ``private key``, ``secret key``, ``auth key`` or
``client secret``. The rule looks at the last words on purpose, so the names ML code is full of
stay readable: ``num_tokens``, ``tokenizer``, ``max_token_length``, ``secret_sauce_lr``,
``password_min_length``, and the tokenizer's own ``pad_token``, ``eos_token``, ``mask_token``...
A dict or list under a credential-like key (``secrets: {...}``) is redacted whole.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["REDACTED", "is_secret_key", "redact_secrets"]

REDACTED = "[redacted]"

_LAST_WORDS = frozenset(
    {"password", "passwd", "pwd", "passphrase", "secret", "secrets", "token", "apikey",
     "credential", "credentials"}
)  # fmt: skip
_PAIRS = frozenset(
    {("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key"), ("auth", "key"),
     ("client", "secret"), ("account", "key"), ("signing", "key"), ("encryption", "key")}
)  # fmt: skip
_TOKENIZER_WORDS = frozenset(
    {"pad", "eos", "bos", "unk", "sep", "cls", "mask", "start", "end", "special", "image",
     "decoder", "additional"}
)  # fmt: skip
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def is_secret_key(key: object) -> bool:
    """Return True when a config key names a credential (see the module's rule)."""
    words = [w.lower() for w in _WORDS.findall(str(key))]
    if not words:
        return False
    if len(words) >= 2 and (words[-2], words[-1]) in _PAIRS:
        return True
    if words[-1] not in _LAST_WORDS:
        return False
    return not (words[-1] == "token" and len(words) >= 2 and words[-2] in _TOKENIZER_WORDS)


def redact_secrets(value: Any) -> Any:
    """Return ``value`` (serialised configs: dicts, lists, scalars) with credential values hidden.

    Values under credential-like keys become ``"[redacted]"`` (``None``, ``""`` and booleans are
    kept: they say a setting is off, not what a secret is). The input is not changed.
    """
    if isinstance(value, Mapping):
        return {k: _redact_entry(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_secrets(v) for v in value]
    return value


def _redact_entry(key: object, value: Any) -> Any:
    if not is_secret_key(key):
        return redact_secrets(value)
    if value is None or value == "" or isinstance(value, bool):
        return value
    return REDACTED
