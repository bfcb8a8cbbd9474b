"""Checks and conversions of metric and parameter values, shared by the tracking backends."""

from __future__ import annotations

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
