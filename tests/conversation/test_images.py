"""An image block weighs its pixels' tokens in the estimate and the budget's bound, not the
length of its base64."""

from __future__ import annotations

from conjure_kernel.clients.base import ModelRequest, Usage
from conjure_kernel.conversation.context_edits import json_chars
from conjure_kernel.conversation.images import (
    IMAGE_ESTIMATE_CHARS,
    IMAGE_TOKENS_BOUND,
    base64_images,
)
from conjure_kernel.conversation.worst_case import PromptLedger

IMAGE = {
    "type": "image",
    "source": {"type": "base64", "media_type": "image/png", "data": "A" * 900_000},
}
MESSAGE = {
    "role": "user",
    "content": [
        {
            "type": "tool_result",
            "tool_use_id": "t1",
            "content": [IMAGE, {"type": "text", "text": "x"}],
        },
        IMAGE,
    ],
}


def test_images_are_found_anywhere_in_a_message():
    assert base64_images(MESSAGE) == (2, 1_800_000)
    assert base64_images({"type": "image", "source": {"type": "url", "url": "u"}}) == (0, 0)


def test_the_estimate_counts_each_image_as_a_fixed_weight():
    plain = json_chars({**MESSAGE, "content": [MESSAGE["content"][0]["content"][1]]})
    assert 2 * IMAGE_ESTIMATE_CHARS < json_chars(MESSAGE) < plain + 2 * IMAGE_ESTIMATE_CHARS + 300


def test_the_budgets_bound_counts_each_image_as_its_most_tokens():
    request = ModelRequest("claude-sonnet-5-5", "", [MESSAGE], [], 1000)
    ledger = PromptLedger()
    ledger.record(ModelRequest("claude-sonnet-5-5", "", [], [], 1000), Usage())
    assert 2 * IMAGE_TOKENS_BOUND < ledger.bound(request) < 2 * IMAGE_TOKENS_BOUND + 1_000
