"""A silent API through a real kernel: the cell ends with one clear line, says what was
kept, shows the retry it made, and the next cell works.

The fake API accepts each request and never answers (``replies.silence``), as a dead
server or a stuck proxy does; ``silence_timeout`` is set short in the kernel's config file.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakeapi import replies
from kernel_harness import RunningKernel

from conjure_kernel.conversation.turn import NoticeEntry

SILENCE = 1.0
"""The kernel client's silence_timeout here (45 s by default): short, as a silent server sends no pings."""
GUARD = 60.0
"""Seconds after which the cell counts as hung (two silences take about two seconds)."""


@pytest.fixture
def kernel(api, tmp_path) -> Iterator[RunningKernel]:
    """A conjure kernel whose ``ipython_kernel_config.py`` sets a short silence timeout."""
    ipython = tmp_path / "ipython"
    (ipython / "profile_default").mkdir(parents=True)
    (ipython / "profile_default" / "ipython_kernel_config.py").write_text(
        f"c.AnthropicClient.silence_timeout = {SILENCE}\n"
    )
    env = {"ANTHROPIC_API_KEY": "sk-test-key-123", "ANTHROPIC_BASE_URL": api.url}
    with RunningKernel("conjure", cwd=tmp_path, env={**env, "IPYTHONDIR": str(ipython)}) as running:
        yield running


def test_a_silent_api_ends_the_cell_with_one_clear_line_and_the_next_cell_works(api, kernel):
    api.script(replies.silence(), replies.silence())
    result = kernel.run("Is anyone there?", timeout=GUARD)
    assert result.status == "error"
    content = result.reply["content"]
    assert content["ename"] == "ConnectionSilent"
    assert content["traceback"] == [
        f"ConnectionSilent: the Messages API at {api.url} sent nothing, not even a ping, for "
        f"{SILENCE:g} s before the answer began (silence_timeout), so the connection was dropped",
        "hint: the unfinished answer was not kept: the conversation holds every finished step "
        "and stays valid; send the message again, or check the network and ANTHROPIC_BASE_URL",
    ]
    notices = [e.text for e in result.record().timeline.entries if isinstance(e, NoticeEntry)]
    assert len(notices) == 1 and notices[0].startswith(
        f"waiting for the API: silent for {SILENCE:g} s (silence_timeout), connection dropped, "
        "retry 1 of 2 in "
    )
    assert len(api.requests_to("POST", "/v1/messages")) == 2

    api.script(replies.text("Back again."))
    follow_up = kernel.run("Hello again", timeout=GUARD)
    assert follow_up.status == "ok", follow_up.error
    assert follow_up.record().answer == "Back again."
    sent = api.requests_to("POST", "/v1/messages")[-1].body["messages"]
    assert [m["role"] for m in sent] == ["user"]  # the silent turn left nothing behind
