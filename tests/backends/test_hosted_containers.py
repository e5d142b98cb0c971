"""A hosted container the API will not run any more: dropped once, with a notice, never in a loop.

The API has answered a days-old container with a plain 500, or a not-found, instead of
``container_expired`` (tests/backends/test_anthropic.py covers that one). Either way the
step is sent once more without the container, the trace says its files and Python state
are gone, and a second failure ends the turn with the messages still sendable.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from backends.test_anthropic import (  # noqa: F401 (isolated is an autouse fixture)
    Hosted,
    assert_sendable,
    finish,
    isolated,
    messages_requests,
)
from fakeapi import FakeMessagesAPI, replies

from conjure_kernel.clients.api_errors import ContainerExpired
from conjure_kernel.errors import ModelError
from conjure_kernel.events import TurnEnded

GONE = "a new one is started, without the files and Python state of the old one"


@pytest.fixture
def api() -> Iterator[FakeMessagesAPI]:
    with FakeMessagesAPI() as server:
        yield server


@pytest.fixture
def workdir(tmp_path) -> Path:
    return tmp_path


@pytest.mark.parametrize(
    ("status", "why"),
    [
        (500, "the API failed with 500 on a request naming it, as it does for a stale container"),
        (404, "the API no longer knows it"),
    ],
    ids=["plain-500", "not-found"],
)
def test_a_stale_container_is_dropped_once_with_a_notice_and_the_turn_goes_on(
    api, workdir, status, why
):
    api.script(finish(text="First."), finish(text="Second."))
    conversation = Hosted(api, workdir, skills="anthropic:xlsx")
    conversation.turn()
    old = conversation.session.container["id"]
    api.hosted.stale_container(old, status=status)
    turn = conversation.turn("Go on.")
    assert turn.error is None and turn.of(TurnEnded)[0].text == "Second."
    reused, gone = turn.notices()
    assert reused.startswith(f"reusing container {old}")
    assert gone == f"container {old} is gone ({why}); {GONE}"
    refused, resent = messages_requests(api)[1:]  # the stale container was named only once
    assert refused["container"]["id"] == old and "id" not in resent["container"]
    assert resent["container"]["skills"] == refused["container"]["skills"]
    assert conversation.session.container["id"] not in (None, old)
    assert_sendable(conversation.messages)


def test_a_second_failure_without_the_container_ends_the_turn_and_is_not_a_loop(api, workdir):
    api.script(finish(text="First."))
    conversation = Hosted(api, workdir)
    conversation.turn()
    old = conversation.session.container["id"]
    api.hosted.stale_container(old)
    down = replies.error(500, "api_error", "Internal server error", retry_after=0.01)
    api.script(down, down, down, replies.text("never asked"))
    turn = conversation.turn("Go on.")
    assert isinstance(turn.error, ModelError) and not isinstance(turn.error, ContainerExpired)
    assert str(turn.error).startswith("the Messages API answered 500 api_error")
    assert "already retried 2 times" in turn.error.hint
    _, gone, *waits = turn.notices()
    assert gone.startswith(f"container {old} is gone") and gone.endswith(GONE)
    assert [wait.startswith("waiting for the API: 500 api_error") for wait in waits] == [True] * 2
    sent = messages_requests(api)[1:]
    assert [r.get("container", {}).get("id") for r in sent] == [old, None, None, None]
    assert api.pending == 1 and conversation.session.container is None
    assert [m["role"] for m in conversation.messages] == ["user", "assistant"]  # turn taken back
    assert_sendable(conversation.messages)
