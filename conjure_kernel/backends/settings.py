"""Backend settings: each backend declares its ``key=value`` options once, as a frozen dataclass.

A backend's settings class is the one place its options are named, typed, given a
default and a one-line help, and checked: ``parse`` turns ``key=value`` text (a magic)
or configured values into an instance, the ``--help`` listing and the picker read
``declared()``, and the backend reads plain attributes (``settings.memory``). Unknown
keys and bad values are errors that name the key and what is accepted, so a typo never
passes silently and a bad value never reaches a container.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from ..errors import BackendSettingError

__all__ = ["BackendSettings", "NoSettings", "Setting", "describe_settings", "setting"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_KINDS = (str, int, float, bool)

_Settings = TypeVar("_Settings", bound="BackendSettings")
Check = Callable[[Any], Any]
"""Takes a converted value, returns it (perhaps normalised) or raises ``ValueError`` whose
text follows ``name=value:`` (``expected a size of at least 1 MiB, such as 4g``)."""


@dataclass(frozen=True)
class Setting:
    """One ``key=value`` option of a backend, as its settings class declares it."""

    name: str
    kind: type
    """``str``, ``int``, ``float`` or ``bool``."""
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    """For a ``str`` setting: the only values accepted, when not empty."""
    positive: bool = False
    """For a number: it must be greater than zero (a timeout, a limit)."""
    check: Check | None = None
    """What else the value must be (a size, a list of references)."""

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
        if self.check is not None:
            try:
                value = self.check(value)
            except ValueError as error:
                raise BackendSettingError(f"{self.name}={raw!s}: {error}") from None
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


def setting(
    default: Any,
    help: str,
    *,
    choices: tuple[str, ...] = (),
    positive: bool = False,
    check: Check | None = None,
) -> Any:
    """A field of a settings class: its default, its help line and what it accepts."""
    spec = {"help": help, "choices": choices, "positive": positive, "check": check}
    return dataclasses.field(default=default, metadata={"setting": spec})


@dataclass(frozen=True)
class BackendSettings:
    """The base of every backend's settings class (a frozen dataclass of ``setting`` fields)."""

    @classmethod
    def declared(cls) -> tuple[Setting, ...]:
        """The settings in declaration order, for ``--help``, the picker and ``parse``."""
        return _declared(cls)

    @classmethod
    def parse(
        cls: type[_Settings],
        given: Mapping[str, Any] | None = None,
        defaults: Mapping[str, Any] | None = None,
        *,
        backend: str = "",
    ) -> _Settings:
        """Every setting's value: given, else a configured default, else the declared one.

        ``defaults`` may hold keys this backend does not declare (configuration shared by
        all backends); those are ignored. ``given`` may not: an unknown key is an error
        listing the known ones. A configured default is checked as a given value is.
        """
        given, defaults = given or {}, defaults or {}
        by_name = {item.name: item for item in cls.declared()}
        unknown = [key for key in given if key not in by_name]
        if unknown:
            accepted = ", ".join(by_name) or "none"
            owner = f"backend {backend!r}" if backend else "this backend"
            raise BackendSettingError(
                f"unknown setting {unknown[0]!r} for {owner}; accepted settings: {accepted}"
            )
        values = {}
        for name, item in by_name.items():
            if name in given:
                values[name] = item.parse(given[name])
            elif defaults.get(name) not in (None, ""):
                values[name] = item.parse(defaults[name])
        return cls(**values)

    @classmethod
    def of(cls: type[_Settings], settings: BackendSettings | None) -> _Settings:
        """``settings`` as this class, its defaults when None: what ``open_session`` reads.

        Another backend's settings here are a caller's bug, said as such.
        """
        if settings is None:
            return cls()
        if not isinstance(settings, cls):
            raise TypeError(f"{type(settings).__name__} given where {cls.__name__} is expected")
        return settings


@dataclass(frozen=True)
class NoSettings(BackendSettings):
    """For a backend that takes no ``key=value`` settings."""


def describe_settings(declared: Iterable[Setting]) -> list[str]:
    """One line per setting: ``name=TYPE (default …)  help``, for a ``--help`` listing."""
    lines = []
    for item in declared:
        shown = f"{item.default:g}" if isinstance(item.default, float) else item.default
        default = "" if item.default in (None, "") else f" (default {shown})"
        lines.append(f"  {item.name}={item.type_name}{default}  {item.help}")
    return lines


@cache
def _declared(cls: type[BackendSettings]) -> tuple[Setting, ...]:
    hints = typing.get_type_hints(cls)
    found = []
    for field in dataclasses.fields(cls):
        spec = field.metadata.get("setting")
        if spec is None:
            raise TypeError(f"{cls.__name__}.{field.name} is not declared with setting()")
        kind = hints[field.name]
        if kind not in _KINDS:
            raise TypeError(f"{cls.__name__}.{field.name}: a setting is str, int, float or bool")
        found.append(Setting(field.name, kind, field.default, **spec))
    return tuple(found)
