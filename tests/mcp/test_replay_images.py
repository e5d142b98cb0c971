"""A recorded MCP result's images are served again on replay, with no server."""

from __future__ import annotations

import asyncio
import shutil
import sys

from backends.scripted_client import ScriptedClient, text_reply, tool_use_reply
from mcp_servers import DEMO

from conjure_kernel.clients.replay import Replay
from conjure_kernel.conversation.session import Session
from conjure_kernel.conversation.transcript import TurnRecord
from conjure_kernel.events import ToolCallFinished
from conjure_kernel.mcp.servers import StdioServer


def chat(session: Session, message: str) -> list:
    async def collect() -> list:
        return [event async for event in session.chat(message)]

    return asyncio.run(asyncio.wait_for(collect(), 60))


def session_in(workdir, replies, **kwargs) -> Session:
    settings = {"workdir": str(workdir)}
    return Session(client=ScriptedClient(replies), model="claude-test", settings=settings, **kwargs)


def test_a_replayed_mcp_result_keeps_its_images(tmp_path):
    shutil.copy(DEMO, tmp_path / "demo.py")
    replies = [tool_use_reply(("toolu_1", "mcp__demo__pixel", {})), text_reply("A pixel.")]
    recording = session_in(tmp_path, replies)
    try:
        recording.mcp.add(StdioServer("demo", sys.executable, (str(tmp_path / "demo.py"),)))
        chat(recording, "show the pixel")
        saved = recording.transcript[0].to_json()
    finally:
        recording.close()
    [(_, recorded)] = TurnRecord.from_json(saved).tool_calls
    assert [image["source"]["media_type"] for image in recorded.images] == ["image/png"]

    replay = Replay([TurnRecord.from_json(saved).to_replay_turn()])
    replaying = session_in(tmp_path, [], replay=replay)  # no server defined
    try:
        events = chat(replaying, "show the pixel")
    finally:
        replaying.close()
    [done] = [event for event in events if isinstance(event, ToolCallFinished)]
    assert done.result.images == recorded.images
    [sent] = replaying.messages[2]["content"]  # what the model would read
    assert [block["type"] for block in sent["content"]] == ["text", "image"]
    [(_, replayed)] = replaying.transcript[0].tool_calls
    assert replayed.images == recorded.images  # and a notebook saved again keeps them
