"""Variables in a magic's line: IPython's ``$name`` and ``{expr}`` expansion, plus format specs.

IPython expands a magic's line before the magic sees it, but its formatter reads ``{x[1:3]}`` as
one expression (a slice) and so leaves any line with ``{loss:.3f}`` unexpanded. The magics opt
out of IPython's expansion and call :func:`expand`, which keeps IPython's rules (``$$`` for a
literal ``$``, ``{{``/``}}`` for braces, ``$`` inside single quotes left alone) and adds specs.
"""

from __future__ import annotations

from typing import Any

from IPython.utils.text import DollarFormatter

__all__ = ["expand"]


class _SpecFormatter(DollarFormatter):
    """IPython's ``$name`` and ``{expr}`` expansion, plus format specs (``{loss:.3f}``).

    IPython's own formatter reads ``{x[1:3]}`` as one expression (a slice) and so refuses
    every spec; this one tries the slice first and otherwise formats with the spec.
    """

    def vformat(self, format_string: str, args: Any, kwargs: Any) -> str:
        parts = []
        for literal, field, spec, conversion in self.parse(format_string):
            parts.append(literal)
            if field is not None:
                parts.append(self._field(field, spec, conversion, kwargs))
        return "".join(parts)

    def _field(self, field: str, spec: str, conversion: str | None, namespace: Any) -> str:
        if spec:
            try:
                value, spec = eval(f"{field}:{spec}", namespace), ""  # IPython evaluates these too
            except SyntaxError:  # a format spec, not a slice
                value = eval(field, namespace)  # IPython evaluates these too
        else:
            value = eval(field, namespace)  # IPython evaluates these too
        return str(self.format_field(self.convert_field(value, conversion), spec))


def expand(line: str, namespace: dict[str, Any]) -> str:
    """Return ``line`` with ``$name``, ``{expr}`` and ``{expr:spec}`` replaced from ``namespace``.

    Any error of an expression (an undefined name, a spec that does not fit its value) leaves
    the whole line as typed, as IPython does.
    """
    try:
        return _SpecFormatter().vformat(line, args=[], kwargs=namespace)
    except Exception:  # any error of the expression: keep the line, as IPython
        return line
