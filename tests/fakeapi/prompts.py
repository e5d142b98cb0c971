"""How the fake API reads a prompt: its blocks, their token counts, and the prompt cache.

Split from server.py: the cache, the context window and the context edits (``editing``,
``today``) must agree on what a block is and what it weighs. A block's tokens are
``len(json) // 4`` of ``[role, block]`` (at least 1), ``cache_control`` left out: not
the real tokenizer, but proportional enough to compare shares of a prompt. An image block
weighs what the API says an image does, ``width * height / 750`` once scaled to fit 1568
pixels a side and 1.15 megapixels, whatever the length of its base64.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import threading
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["PromptCache", "block_tokens", "breakpoint_problem", "count_tokens", "rendered_blocks"]

MAX_BREAKPOINTS = 4


class PromptCache:
    """A simulated prompt cache: a prefix is written at each ``cache_control`` breakpoint
    and read back by a later request whose prompt starts with it.

    The prompt is rendered as the API does (tools, system, then messages) into blocks,
    each weighed by ``block_tokens``. Like the API, a
    request reads the longest prefix written before, looking at each of its breakpoints
    and the blocks before it, ``LOOKBACK`` positions in all (the breakpoint counts as the
    first, so a step that adds 20 blocks or more after the last entry misses it); it
    writes the prefix at every breakpoint, and pays the blocks between what it read and
    its last breakpoint as the cache write. Caches are per model; entries never expire
    (tests run well within the 5 minute TTL), and there is no minimum cacheable length.
    """

    LOOKBACK = 20

    def __init__(self) -> None:
        self._written: set[str] = set()
        self._lock = threading.Lock()

    def count_tokens(self, body: Mapping[str, Any]) -> int:
        return count_tokens(body)

    def usage(self, body: Mapping[str, Any]) -> dict[str, int]:
        """Input token counts of one request, writing its breakpoints to the cache."""
        blocks = list(_prompt_blocks(body))
        breakpoints = [i for i, (_, _, marked) in enumerate(blocks) if marked]
        with self._lock:
            read_blocks = max((self._hit(blocks, b) for b in breakpoints), default=0)
            self._written.update(blocks[b][1] for b in breakpoints)
        read = sum(tokens for tokens, _, _ in blocks[:read_blocks])
        cached_end = breakpoints[-1] + 1 if breakpoints else 0
        written = sum(tokens for tokens, _, _ in blocks[read_blocks:cached_end])
        total = sum(tokens for tokens, _, _ in blocks)
        return {
            "input_tokens": total - read - written,
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
        }

    def _hit(self, blocks: list[tuple[int, str, bool]], breakpoint: int) -> int:
        """How many leading blocks an earlier entry covers, looking back from ``breakpoint``."""
        for i in range(breakpoint, max(-1, breakpoint - self.LOOKBACK), -1):
            if blocks[i][1] in self._written:
                return i + 1
        return 0


def count_tokens(body: Mapping[str, Any]) -> int:
    """The prompt's tokens: tools, system, then messages, as the API renders them."""
    return sum(block_tokens(role, block) for role, block in rendered_blocks(body))


def block_tokens(role: str, block: Any) -> int:
    """What one block of the prompt weighs, ``cache_control`` left out."""
    if isinstance(block, dict) and block.get("type") == "image":
        return image_tokens(block)
    return max(1, len(_encoded(role, block)) // 4)


def image_tokens(block: Mapping[str, Any]) -> int:
    """An image's tokens, from its pixels as the API scales them."""
    from PIL import Image

    data = base64.b64decode(block["source"]["data"])
    width, height = Image.open(io.BytesIO(data)).size
    scale = min(1.0, 1568 / max(width, height), math.sqrt(1_150_000 / (width * height)))
    return max(1, math.ceil(width * height * scale * scale / 750))


def _encoded(role: str, block: Any) -> str:
    if isinstance(block, dict):
        block = {key: value for key, value in block.items() if key != "cache_control"}
    return json.dumps([role, block], sort_keys=True)


def _prompt_blocks(body: Mapping[str, Any]) -> Iterator[tuple[int, str, bool]]:
    """(tokens, hash of the prompt up to and including this block, has a breakpoint)."""
    digest = hashlib.sha256(str(body.get("model", "")).encode())
    for role, block in rendered_blocks(body):
        marked = isinstance(block, dict) and "cache_control" in block
        encoded = _encoded(role, block)
        digest.update(encoded.encode())
        yield block_tokens(role, block), digest.copy().hexdigest(), marked


def breakpoint_problem(body: Mapping[str, Any]) -> str | None:
    """The API's 400 message when ``body`` places breakpoints it would reject, else ``None``."""
    marked = 0
    for role, block in rendered_blocks(body):
        if not (isinstance(block, dict) and "cache_control" in block):
            continue
        if block.get("type") in ("thinking", "redacted_thinking"):
            return f"{role} {block['type']} block: cache_control: Extra inputs are not permitted"
        marked += 1
    if marked > MAX_BREAKPOINTS:
        return f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {marked}."
    return None


def rendered_blocks(body: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(role, block) of every block of the prompt in the API's order; ``tool`` for tools."""
    for tool in body.get("tools") or []:
        yield "tool", tool
    yield from _content_blocks("system", body.get("system") or [])
    for message in body.get("messages") or []:
        yield from _content_blocks(message.get("role", ""), message.get("content", []))


def _content_blocks(role: str, content: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    for block in content:
        yield role, block
