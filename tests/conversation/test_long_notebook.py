"""A notebook never dies of its length: 300 turns whose tool results add up to many
times the model's window, against the fake Messages API, which enforces the window
(a 400 past it), applies context edits as the API does and verifies what comes back.

The session reads what it knows of the model from the Models API's list, as the
kernel does: a small window, with or without the API's context editing. Each turn
views a 2,500-character file, so a few dozen turns fill the window; the requests
must all be accepted, every turn must answer, the session must keep every message,
and a replay of the records must make the same edits at the same turns, with no
drift.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakeapi import FakeMessagesAPI, replies
from fakeapi.models import capabilities, model_info

from conjure_kernel.clients.anthropic_client import AnthropicClient
from conjure_kernel.clients.model_cache import ModelListCache
from conjure_kernel.clients.model_facts import ModelFacts, Supports
from conjure_kernel.clients.models import ModelCatalog
from conjure_kernel.clients.replay import Replay
from conjure_kernel.conversation.session import Session
from conjure_kernel.conversation.transcript import TurnRecord
from conjure_kernel.events import Notice, TurnFailed

TURNS = 300
WINDOW = 20_000
"""Tokens, as the fake API counts them (a quarter of each block's JSON length)."""


def answer(body: dict[str, Any]) -> replies.Reply:
    """A turn: think, view the file, then say so; the model's side of every turn alike.
    The thinking comes back signed, and must go back unchanged or not at all."""
    last = body["messages"][-1]["content"]
    if isinstance(last, list) and any(b.get("type") == "tool_result" for b in last):
        return replies.text("I read it: a long page of the letter x.")
    view = {"path": "page.txt", "description": "read the page"}
    use = {"type": "tool_use", "id": replies.new_tool_use_id(), "name": "view", "input": view}
    return replies.message(replies.thinking("The page again."), use, stop_reason="tool_use")


@pytest.fixture
def api() -> Iterator[FakeMessagesAPI]:
    with FakeMessagesAPI(responder=answer) as server:
        yield server


def session_for(
    api: FakeMessagesAPI, workdir: Path, model: str, *, replay: Replay | None = None
) -> Session:
    client = AnthropicClient(api_key="test-key", base_url=api.url)
    session = Session(
        client=client,
        account=client,
        model=model,
        settings={"workdir": str(workdir)},
        replay=replay,
    )
    catalog = ModelCatalog(ModelListCache(workdir.parent / "models.json"))
    listed = session.runner.run(catalog.get(client))
    found = listed.find(model)
    assert found is not None and found.context_window == WINDOW
    session.context.facts = lambda name: ModelFacts(found.context_window, found.supports)
    return session


def run(session: Session, message: str) -> list:
    async def collect() -> list:
        return [event async for event in session.chat(message)]

    return session.runner.run(asyncio.wait_for(collect(), 60))


def notices(record: TurnRecord) -> list[str]:
    return [
        entry.text for entry in record.timeline.entries if type(entry).__name__ == "NoticeEntry"
    ]


@pytest.mark.parametrize("editing", [False, True], ids=["by the kernel", "by the API"])
def test_three_hundred_turns_past_the_window_keep_answering_and_replay(api, tmp_path, editing):
    model = "claude-small-1"
    api.models.models.append(
        model_info(model, "Claude Small 1", context=WINDOW, caps=capabilities(editing=editing))
    )
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "page.txt").write_text(("x" * 99 + "\n") * 25)
    session = session_for(api, workdir, model)
    try:
        for turn in range(TURNS):
            events = run(session, f"Read the page again ({turn}).")
            failed = [event for event in events if isinstance(event, TurnFailed)]
            assert not failed, f"turn {turn}: {failed[0].error}"
        assert len(session.transcript) == TURNS
        assert all(record.ok and record.answer for record in session.transcript)
        tool_results = sum(len(str(record.tool_calls)) for record in session.transcript)
        assert tool_results > 5 * 4 * WINDOW  # several windows' worth, counted in characters
        said = [text for record in session.transcript for text in notices(record)]
        if editing:
            assert any(text.startswith("the API cleared ") for text in said)
            assert any("the API compacted" in text for text in said)
        else:
            assert any(text.startswith("cleared ") for text in said)
            assert any(text.startswith("compacted ") for text in said)
        records = [TurnRecord.from_json(record.to_json()) for record in session.transcript]
    finally:
        session.close()

    replay = Replay([record.to_replay_turn() for record in records])
    again = session_for(api, workdir, model, replay=replay)
    sent_before = len(api.requests_to("POST", "/v1/messages"))
    try:
        for turn in range(TURNS):
            run(again, f"Read the page again ({turn}).")
        assert len(api.requests_to("POST", "/v1/messages")) == sent_before  # nothing re-sent
        for recorded, replayed in zip(records, again.transcript, strict=True):
            assert replayed.ok and not replayed.drift
            assert notices(replayed) == notices(recorded)
    finally:
        again.close()


def compacting_session(api: FakeMessagesAPI, workdir: Path) -> Session:
    """A session on claude-a-1 (the API's editing) after the API compacted its turns;
    claude-b-1 edits too, claude-c-1 does not."""
    for name, editing in (("claude-a-1", True), ("claude-b-1", True), ("claude-c-1", False)):
        caps = capabilities(editing=editing)
        api.models.models.append(model_info(name, name, context=WINDOW, caps=caps))
    api.responder = lambda body: replies.message(
        replies.thinking("Hmm."), {"type": "text", "text": "ok"}
    )
    client = AnthropicClient(api_key="test-key", base_url=api.url)
    session = Session(client=client, model="claude-a-1", settings={"workdir": str(workdir)})
    listed = session.runner.run(ModelCatalog(ModelListCache(workdir / "m.json")).get(client))
    session.context.facts = lambda name: ModelFacts(
        listed.find(name).context_window, listed.find(name).supports
    )
    for turn in range(40):
        said = [e.text for e in run(session, f"turn {turn} " + "y" * 3000) if isinstance(e, Notice)]
        if "the API compacted the earlier conversation into a summary" in said:
            return session
    raise AssertionError("the API never compacted")


@pytest.mark.parametrize("model", ["claude-b-1", "claude-c-1"])
def test_after_the_api_compacted_another_model_gets_its_summary_as_text(api, tmp_path, model):
    session = compacting_session(api, tmp_path)
    try:
        session.model = model
        events = run(session, "and now?")
        assert not [event for event in events if isinstance(event, TurnFailed)]
        said = [event.text for event in events if isinstance(event, Notice)]
        assert any(
            "the API's summary of the earlier conversation goes on as text" in t for t in said
        )
        sent = api.requests_to("POST", "/v1/messages")[-1].body["messages"]
        assert "[The API's summary of the earlier conversation:]" in sent[0]["content"][0]["text"]
        assert not any(
            block.get("type") == "compaction"
            for message in sent
            if isinstance(message["content"], list)
            for block in message["content"]
        )
    finally:
        session.close()


def test_after_a_restore_a_compacted_conversation_goes_on(api, tmp_path):
    session = compacting_session(api, tmp_path)
    try:
        session.restore([TurnRecord.from_json(r.to_json()) for r in session.transcript])
        # as a new kernel that has not read the API's list: the model is not known to edit
        session.context.facts = lambda name: ModelFacts(None, Supports())
        for turn in range(3):
            events = run(session, f"after the restart {turn}")
            assert not [event for event in events if isinstance(event, TurnFailed)]
    finally:
        session.close()
