"""Keep secrets out of saved notebooks: the API key and any variable the user marks secret."""

from __future__ import annotations

import os
from collections.abc import Iterable

from ..clients.base import CREDENTIAL_ENV_VARS

__all__ = ["ALWAYS_SECRET", "Redactor"]

ALWAYS_SECRET = CREDENTIAL_ENV_VARS

_MIN_LENGTH = 4
"""Values shorter than this are not redacted: replacing 'a' everywhere would wreck output."""


class Redactor:
    """Replaces the values of secret environment variables with ``[secret NAME]``."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names: set[str] = set(ALWAYS_SECRET) | set(names)

    def add(self, *names: str) -> None:
        self.names.update(names)

    def __call__(self, text: str) -> str:
        """``text`` with every secret value replaced, longest first so no part of one survives."""
        values = {os.environ.get(name, ""): name for name in sorted(self.names)}
        for value in sorted(values, key=len, reverse=True):
            if len(value) >= _MIN_LENGTH:
                text = text.replace(value, f"[secret {values[value]}]")
        return text
