"""Backend settings: each backend declares its ``key=value`` options once, here is how they parse.

A declaration (name, type, default, one-line help) serves three readers: the parser
that turns ``key=value`` text into typed values, the ``--help`` listing, and the
describe line that shows the values in force. Unknown keys and bad values are errors
that name the key and what is accepted, so a typo never passes silently.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import BackendSettingError

__all__ = ["Setting", "describe_settings", "parse_settings"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Setting:
    """One ``key=value`` option of a backend."""

    name: str
    kind: type
    """``str``, ``int``, ``float`` or ``bool``."""
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    """For a ``str`` setting: the only values accepted, when not empty."""
    positive: bool = False
    """For a number: it must be greater than zero (a timeout, a limit)."""

    @property
    def type_name(self) -> str:
        if self.choices:
            return "|".join(self.choices)
        return {str: "text", int: "integer", float: "number", bool: "true|false"}[self.kind]

    def parse(self, raw: Any) -> Any:
        """The typed value of ``raw`` (text from a magic, or a value from configuration)."""
        value = self._convert(raw)
        if self.kind in (int, float) and self.positive and not value > 0:
            raise self._error(raw, "a number greater than 0")
        if self.choices and value not in self.choices:
            raise self._error(raw, f"one of {', '.join(self.choices)}")
        return value

    def _convert(self, raw: Any) -> Any:
        if self.kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE | _FALSE:
                return text in _TRUE
            raise self._error(raw, "true or false")
        if self.kind in (int, float):
            try:
                value = self.kind(raw)
            except (TypeError, ValueError, OverflowError):
                raise self._error(raw, f"a finite {self.type_name}") from None
            if isinstance(value, bool) or not math.isfinite(value):
                raise self._error(raw, f"a finite {self.type_name}")
            return value
        return str(raw)

    def _error(self, raw: Any, expected: str) -> BackendSettingError:
        return BackendSettingError(f"{self.name}={raw!s}: expected {expected}")


def parse_settings(
    declared: Sequence[Setting],
    given: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
    *,
    backend: str = "",
) -> dict[str, Any]:
    """Every declared setting's value: given, else a configured default, else the declared one.

    ``defaults`` may hold keys the backend does not declare (shared configuration);
    those are ignored. ``given`` may not: an unknown key is an error listing the known.
    """
    by_name = {setting.name: setting for setting in declared}
    unknown = [key for key in given if key not in by_name]
    if unknown:
        accepted = ", ".join(by_name) or "none"
        owner = f"backend {backend!r}" if backend else "this backend"
        raise BackendSettingError(
            f"unknown setting {unknown[0]!r} for {owner}; accepted settings: {accepted}"
        )
    defaults = defaults or {}
    values = {}
    for setting in declared:
        if setting.name in given:
            values[setting.name] = setting.parse(given[setting.name])
        elif defaults.get(setting.name) not in (None, ""):
            values[setting.name] = setting.parse(defaults[setting.name])
        else:
            values[setting.name] = setting.default
    return values


def describe_settings(declared: Iterable[Setting]) -> list[str]:
    """One line per setting: ``name=TYPE (default …)  help``, for a ``--help`` listing."""
    lines = []
    for setting in declared:
        default = "" if setting.default in (None, "") else f" (default {setting.default})"
        lines.append(f"  {setting.name}={setting.type_name}{default}  {setting.help}")
    return lines
