"""Checks and conversions of metric and parameter values, shared by the tracking backends."""

from __future__ import annotations

import re
from collections.abc import Mapping
from reprlib import repr as _short

from mlvc_jupyter.errors import MlvcError

__all__ = [
    "bad_key",
    "bad_metrics",
    "bad_step",
    "bad_value",
    "format_float",
    "format_step",
    "jsonable_param",
    "redact_secrets",
    "to_number",
]

_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def to_number(key: object, value: object) -> float:
    """Convert a metric value that is not a plain int or finite float.

    Raises:
        MlvcError: The value is text, an array of more than one number, or not a number.
    """
    ndim: object = getattr(value, "ndim", 0)  # arrays: only 0-d ones are one number
    if ndim or isinstance(value, str | bytes | bytearray):
        raise bad_value(key, value)
    try:
        return float(value)  # type: ignore[arg-type]  # float() decides what is a number
    except (TypeError, ValueError):
        raise bad_value(key, value) from None


def format_float(number: float) -> str:
    text = float.__repr__(number)
    return _NON_FINITE.get(text, text)


def format_step(step: object) -> str:
    """Format a step that is not a plain int (a numpy integer, say).

    Raises:
        MlvcError: The step is not a whole number.
    """
    import operator

    if isinstance(step, bool):
        raise bad_step(step)
    try:
        return str(operator.index(step))  # type: ignore[arg-type]  # index() decides
    except TypeError:
        raise bad_step(step) from None


def jsonable_param(value: object) -> object:
    """Convert a parameter value json cannot write."""
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    for method in ("item", "tolist"):  # numpy and torch scalars and arrays
        convert = getattr(value, method, None)
        if callable(convert):
            try:
                return convert()
            except (TypeError, ValueError):  # .item() of an array with several elements
                continue
    return str(value)


def bad_key(key: object, *, what: str) -> MlvcError:
    return MlvcError(
        f"{what} name {_short(key)} ({type(key).__name__}) is not a non-empty string.",
        hint="Name it with a string, e.g. {'loss': 0.25} or {'val/acc': 0.9}.",
    )


def bad_value(key: object, value: object) -> MlvcError:
    return MlvcError(
        f"Metric '{key}' has the value {_short(value)} ({type(value).__name__}), "
        "which is not a real number.",
        hint="Log a number, e.g. float(x) or tensor.item(); record text with log_params().",
    )


def bad_step(step: object) -> MlvcError:
    return MlvcError(
        f"The step {_short(step)} ({type(step).__name__}) is not a whole number.",
        hint="Pass an int, e.g. step=epoch, or leave it out.",
    )


def bad_metrics(value: object, *, what: str = "metrics") -> MlvcError:
    return MlvcError(
        f"{what} must be a mapping of names to values, not {type(value).__name__}.",
        hint=f"Pass a dict to log_{what}(), e.g. {{'name': 0.25}}.",
    )


_SECRET_WORDS = frozenset({"password", "passwd", "pwd", "secret", "token", "apikey", "credential"})
_SECRET_PAIRS = frozenset({("api", "key"), ("access", "key"), ("private", "key"), ("auth", "key")})
REDACTED = "***"


def redact_secrets(params: Mapping[str, object]) -> dict[str, object]:
    """Return flattened params with the values of password-like names replaced by ``***``.

    A name is password-like when its last word (of the last dotted part, split at ``_``, ``-``
    and camelCase) is password, secret, token, ... or it ends in api_key, access_key, ...:
    ``db.password``, ``hf_token``, ``apiKey``; never ``num_tokens``, ``tokenizer`` or
    ``secret_sauce_lr``. Trackers get params through this, so a key never leaves the machine.
    """
    return {key: REDACTED if _is_secret_name(key) else value for key, value in params.items()}


def _is_secret_name(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", last).lower().replace("-", "_").split("_")
    words = [word for word in words if word]
    if not words:
        return False
    return words[-1] in _SECRET_WORDS or tuple(words[-2:]) in _SECRET_PAIRS
