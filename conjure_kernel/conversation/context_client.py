"""The model client a session's turns talk to: each request shaped by the session's
``ContextKeeper`` (context.py) before it goes out, its notices passed on as stream items.

Kept apart from the keeper, which only decides: this wrapper is the one place that sees
a request refused as too long and sends it once more, shaped with what the API said.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from ..clients.base import ModelClient, ModelRequest, ModelResponse, StreamItem
from ..errors import PromptTooLong
from .context import ContextKeeper

__all__ = ["ContextClient"]


class ContextClient:
    """A ``ModelClient`` that sends each request as its ``ContextKeeper`` shapes it, and
    passes the keeper's notices on as stream items before the answer."""

    def __init__(self, client: ModelClient, keeper: ContextKeeper) -> None:
        self.client = client
        self.keeper = keeper

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]:
        """The shaped request's stream. A prompt the API finds too long (the estimate
        was short of its count, or the window smaller than assumed) is shaped again with
        what the API said and sent once more, if that makes room; else its error stands."""
        sent, notices = self.keeper.shape(request)
        for again in (False, True):
            for notice in notices:
                yield notice
            try:
                async for item in self.client.stream(sent):
                    if isinstance(item, ModelResponse):
                        for notice in self.keeper.learn(sent, item):
                            yield notice
                    yield item
                return
            except PromptTooLong as error:
                if again or not self.keeper.counted(sent, error.tokens, error.maximum):
                    raise
                retried, notices = self.keeper.shape(request)
                if retried.messages == sent.messages:
                    raise
                sent = retried
