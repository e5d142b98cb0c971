"""A runaway model for the budget tests: every answer is as long as its request allows.

Used as the local Messages API's responder. Each reply is a ``create_file`` call whose
input fills the request's whole ``max_tokens`` (as the fake API counts output tokens:
one per four characters of the content's JSON), so every step costs all it may and makes
the next prompt longer by as much: the model a single call of which could blow through a
limit, if the call were sent as asked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fakeapi import replies

__all__ = ["model_requests", "runaway"]


def runaway(body: Mapping[str, Any]) -> replies.MessageReply:
    """A tool call exactly ``max_tokens`` long."""
    call = replies.tool_use("create_file", {"path": "runaway.txt", "file_text": ""})
    block = call.content[0]
    padding = 4 * (int(body["max_tokens"]) - 1) - len(json.dumps([block]))
    filled = {**block, "input": {**block["input"], "file_text": "x" * max(0, padding)}}
    return replies.MessageReply((filled,), "tool_use")


def model_requests(api: Any) -> list[Any]:
    """The Messages API requests the fake server received (token counts left out)."""
    return [r for r in api.requests if (r.method, r.path) == ("POST", "/v1/messages")]
