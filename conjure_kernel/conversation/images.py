"""What an image weighs in a prompt: by its pixels, as the API bills it, not by the length
of its base64.

Split out so the context estimate (``context_edits.json_chars``) and the budget's bound
(``worst_case``) agree on what an image block is; both would otherwise count a 3 MB
picture as millions of tokens, and compact or refuse a conversation that fits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["IMAGE_ESTIMATE_CHARS", "IMAGE_TOKENS_BOUND", "base64_images"]

IMAGE_TOKENS_BOUND = 10_000
"""The most tokens one image can be billed. The API scales an image down before the model
reads it (to 1568 pixels a side and about 1.15 megapixels: some 1,600 tokens; models that
read larger images, some 4,800), so this holds with room to spare."""
IMAGE_ESTIMATE_CHARS = 6_400
"""What an image counts as in the context estimate: some 1,600 tokens, written as the
characters of text that weigh as much (four to a token)."""


def base64_images(value: Any) -> tuple[int, int]:
    """How many base64 image blocks ``value`` holds anywhere in it (a message, a tool
    result's content), and the characters of their data."""
    if isinstance(value, Mapping):
        source = value.get("source")
        if value.get("type") == "image" and isinstance(source, Mapping):
            data = source.get("data")
            if source.get("type") == "base64" and isinstance(data, str):
                return 1, len(data)
        found = [base64_images(item) for item in value.values()]
    elif isinstance(value, list | tuple):
        found = [base64_images(item) for item in value]
    else:
        return 0, 0
    return sum(count for count, _ in found), sum(chars for _, chars in found)
