"""What one model request can cost at most, known before it is sent.

Split from budget.py: bounding a request (its prompt from the last one billed and the
bytes added since, the API's own loop for server tools, the dearest prices that may
apply) is its own concern; budget.py decides what a request may spend.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..clients.base import ModelRequest, Usage
from ..clients.pricing import Price, price_of
from .images import IMAGE_TOKENS_BOUND, base64_images

__all__ = [
    "PROMPT_OVERHEAD_TOKENS",
    "SERVER_TOOL_OVERHEAD_TOKENS",
    "SERVER_TOOL_STEPS",
    "SKILL_LISTING_TOKENS",
    "PromptLedger",
    "WorstCase",
]

PROMPT_OVERHEAD_TOKENS = 1_024
"""What the API adds to a prompt that offers tools beyond the request's bytes: its tool-use
instructions (159 to 530 tokens in Anthropic's table of earlier models), with room to spare."""
SERVER_TOOL_OVERHEAD_TOKENS = 4_096
"""The same for a prompt that offers server tools, whose instructions are not published."""
SKILL_LISTING_TOKENS = 1_500
"""What the API adds to list one skill of a hosted container to the model: its name and
description (at most 64 and 1,024 characters) and where it lives."""
SERVER_TOOL_STEPS = 10
"""Steps of the API's own loop within one request that offers server tools (code
execution), before it answers ``pause_turn``: each step reads the prompt again."""


class PromptLedger:
    """The last prompt of a conversation and the tokens it was billed, from which the next
    prompt is bounded.

    A prompt holds at most the previous prompt's tokens plus one per UTF-8 byte of what
    differs from it: a token is never shorter than a byte, and a block's JSON is never
    shorter than the text the model reads. Without a previous prompt to the same model
    (tokenizers differ) every byte counts, with what the API adds for tools and skills.
    Any earlier prompt to the same model is a sound start, since what it shares with the
    new one is covered by its tokens, and an image is bounded by its pixels
    (``images.py``). Content a request refers to rather than holds (an image by URL, a
    file id) is not bounded; this package sends none.
    """

    def __init__(self) -> None:
        self._last: ModelRequest | None = None
        self._tokens = 0

    def record(self, request: ModelRequest, usage: Usage) -> None:
        """``request`` was billed ``usage``."""
        self._last, self._tokens = request, usage.all_input

    def bound(self, request: ModelRequest) -> int:
        """The most tokens ``request``'s prompt can hold."""
        last = self._last if self._last is not None and self._last.model == request.model else None
        kept = _shared(request.messages, last.messages) if last else 0
        tokens = (self._tokens if last else 0) + sum(map(_bytes, request.messages[kept:]))
        if last is None or request.system != last.system:
            tokens += _bytes(request.system)
        if last is None or list(request.tools) != list(last.tools):
            tokens += _bytes(list(request.tools)) + _tools_overhead(request)
        skills = _container_skills(request)
        if last is None or skills != _container_skills(last):
            tokens += len(skills) * SKILL_LISTING_TOKENS
        return tokens


@dataclass(frozen=True)
class WorstCase:
    """The most one request can bill for an answer of a given length (thinking included).

    Its prompt holds at most ``prompt`` tokens, read ``reads`` times: a request offering
    server tools may run the API's own loop, which reads the prompt and the answer so far
    at each step. Each prompt token costs the cache-write or the input price, whichever is
    higher, and ``price`` is already the long-prompt tier where the prompt may reach it.
    """

    prompt: int
    reads: int = 1
    price: Price | None = None

    @classmethod
    def of(cls, request: ModelRequest, prompt: int) -> WorstCase:
        """The worst case of ``request``, whose prompt holds at most ``prompt`` tokens."""
        server_tools = _offers_server_tools(request)
        reads = SERVER_TOOL_STEPS if server_tools else 1
        price = price_of(request.model)
        largest = prompt + (request.max_tokens if server_tools else 0)
        return cls(prompt, reads, price.for_prompt(largest) if price else None)

    def cost(self, answer: int, unit: Literal["dollars", "tokens"]) -> float | None:
        """In ``unit``; None for dollars of a model without a price."""
        if unit == "tokens":
            return self.reads * (self.prompt + answer)
        if self.price is None:
            return None
        prompt = self.reads * self.prompt + (self.reads - 1) * answer
        return (prompt * self.price.most_per_input + answer * self.price.output) / 1_000_000

    def longest_answer(self, unit: Literal["dollars", "tokens"], left: float) -> int | None:
        """The longest answer whose cost fits ``left`` (negative when the prompt alone does
        not); None when it is not limited: dollars of a model without a price, or free."""
        if unit == "tokens":
            return math.floor(left / self.reads) - self.prompt
        if self.price is None:
            return None
        per_answer = (self.reads - 1) * self.price.most_per_input + self.price.output
        # a hair under ``left``, so float rounding never prices an answer a cent over it
        millionths = (
            left * 1_000_000 * (1 - 1e-9) - self.reads * self.prompt * self.price.most_per_input
        )
        if per_answer <= 0:
            return None if millionths >= 0 else -1
        return math.floor(millionths / per_answer)


def _offers_server_tools(request: ModelRequest) -> bool:
    """Whether a tool has an API type (``code_execution_…``) rather than a schema of ours."""
    return any(tool.get("type") not in (None, "custom") for tool in request.tools)


def _tools_overhead(request: ModelRequest) -> int:
    if not request.tools:
        return 0
    return SERVER_TOOL_OVERHEAD_TOKENS if _offers_server_tools(request) else PROMPT_OVERHEAD_TOKENS


def _shared(messages: Sequence[Any], before: Sequence[Any]) -> int:
    """How many leading messages the two histories share."""
    count = 0
    for new, old in zip(messages, before, strict=False):
        if new is not old and new != old:
            break
        count += 1
    return count


def _container_skills(request: ModelRequest) -> list[Any]:
    container = request.container
    return list(container.get("skills") or []) if isinstance(container, Mapping) else []


def _bytes(value: Any) -> int:
    """UTF-8 bytes of ``value`` (a string as it is, anything else as JSON): at least its
    tokens. An image counts as ``IMAGE_TOKENS_BOUND``: its base64 says nothing of its tokens."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    images, data_chars = (0, 0) if isinstance(value, str) else base64_images(value)
    return len(text.encode()) - data_chars + images * IMAGE_TOKENS_BOUND
