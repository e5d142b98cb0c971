"""The account's APIs beside the Messages API: Skills and Files, for the hosted backend.

A model client only streams model steps. What the hosted backend uploads (local skills)
and downloads (the files its sandbox wrote) goes through an account client, handed to
the turn on its own, so no caller has to find an SDK behind a model client. The
Anthropic client is one: its ``api_call`` lends the SDK client it streams with, and
words failures as the Messages API's are worded.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import anthropic

__all__ = ["AccountClient"]


class AccountClient(Protocol):
    """Lends an SDK client for the account's Skills and Files APIs."""

    def api_call(
        self, api: str
    ) -> contextlib.AbstractAsyncContextManager[anthropic.AsyncAnthropic]:
        """The SDK client for calls to ``api`` (``Skills API``, ``Files API``); their
        failures leave the block as ``ModelError``."""
        ...
