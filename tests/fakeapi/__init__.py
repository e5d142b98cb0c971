"""A local Messages API server for tests: real HTTP and real SSE, scripted replies.

::

    from fakeapi import FakeMessagesAPI, replies

    with FakeMessagesAPI() as api:
        api.script(replies.text("Hello!"))
        client = anthropic.Anthropic(api_key="test-key", base_url=api.url)

Run ``python -m tests.fakeapi --help`` for a foreground server to try the kernel by hand.
"""

from . import replies
from .replies import Reply
from .server import FakeMessagesAPI, PromptCache, RecordedRequest

__all__ = ["FakeMessagesAPI", "PromptCache", "RecordedRequest", "Reply", "replies"]
