"""A command's output reaches the turn's events while the command still runs: on the local
backend and in a Docker sandbox, through the shared tool loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from scripted_client import ScriptedClient, text_reply, tool_use_reply

from conjure_kernel.backends import loop
from conjure_kernel.backends.local_workspace import LocalWorkspace
from conjure_kernel.backends.loop import run_tool_loop
from conjure_kernel.events import Event, ToolCallFinished, ToolOutput
from conjure_kernel.tools.workspace import Workspace, WorkspaceTools

GUARD = 60.0
"""Seconds after which a turn counts as hung; it measures no speed."""
WAITS = "echo first; while [ ! -e go ]; do sleep 0.02; done; echo second >&2"
"""Prints, then waits for a file only the test makes once it saw that print: the turn can
only end if the output was passed on while the command ran."""


def run_turn(workspace: Workspace, command: str, workdir: Path) -> list:
    """One bash call of ``command``; the file ``go`` appears once it printed ``first``."""

    async def on_event(event: Event) -> None:
        if isinstance(event, ToolOutput) and "first" in event.text:
            (workdir / "go").touch()

    reply = tool_use_reply(("t1", "bash_tool", {"command": command}))
    return run_script(workspace, [reply, text_reply("done")], on_event, max_output_chars=200_000)


def run_script(
    workspace: Workspace,
    replies: list,
    on_event: Callable[[Event], Awaitable[None]],
    *,
    max_output_chars: int,
    guard: float = GUARD,
) -> list:
    """The events of a turn whose model answers ``replies``, each event handed to
    ``on_event`` as it comes (a test acts on the sandbox between events)."""

    async def collect() -> list:
        tools = WorkspaceTools(workspace, timeout=GUARD, max_output_chars=max_output_chars)
        events = []
        try:
            turn = run_tool_loop(
                "go", ScriptedClient(replies), tools, system="s", model="m", messages=[]
            )
            async for event in turn:
                events.append(event)
                await on_event(event)
        finally:
            await tools.aclose()
        return events

    return asyncio.run(asyncio.wait_for(collect(), guard))


def printed(events: list) -> str:
    return "".join(event.text for event in events if isinstance(event, ToolOutput))


def test_local_output_streams_while_the_command_runs(tmp_path):
    events = run_turn(LocalWorkspace(tmp_path), WAITS, tmp_path)
    finished = next(e for e in events if isinstance(e, ToolCallFinished))
    assert not finished.result.is_error, finished.result.content
    assert printed(events) == "first\nsecond\n"
    outputs = [i for i, e in enumerate(events) if isinstance(e, ToolOutput)]
    assert max(outputs) < events.index(finished)


def test_a_flood_reaches_the_trace_only_up_to_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(loop, "LIVE_CHARS", 1000)
    events = run_turn(LocalWorkspace(tmp_path), "yes | head -c 5000000", tmp_path)
    pieces = [e for e in events if isinstance(e, ToolOutput)]
    assert len(printed(events)) == 1000
    assert pieces[-1].cut and not any(piece.cut for piece in pieces[:-1])


def test_docker_output_streams_while_the_command_runs(tmp_path):
    from docker_support import engine_with_image, spec_for

    from conjure_kernel.backends.docker.workspace import DockerWorkspace

    spec = spec_for(tmp_path)
    events = run_turn(DockerWorkspace(engine_with_image(), spec), WAITS, tmp_path)
    assert printed(events) == "first\nsecond\n"


def test_a_silent_command_streams_nothing(tmp_path):
    events = run_turn(LocalWorkspace(tmp_path), "true", tmp_path)
    assert printed(events) == ""


def test_a_sandbox_replaced_during_a_call_is_a_notice_inside_that_call(tmp_path):
    """The notice is an event of the call it happened in, between its start and its end,
    a file tool's as a command's: ``view`` of a path outside the mounts runs in the
    sandbox's shell, and it finds the container gone."""
    from docker_support import engine_with_image, spec_for, wait_until

    from conjure_kernel.backends.docker.workspace import DockerWorkspace
    from conjure_kernel.events import Notice, ToolCallStarted

    client = engine_with_image()
    workspace = DockerWorkspace(client, spec_for(tmp_path))

    def kill(workspace: DockerWorkspace) -> None:
        """Kill the container from outside, and wait until its shell's stream ended, so
        the next call finds it dead rather than dying under it."""
        shell = workspace._shell
        client.containers.get(workspace.container).kill()
        assert wait_until(lambda: shell is None or not shell.alive, timeout=GUARD)

    async def on_event(event: Event) -> None:
        if isinstance(event, ToolCallFinished) and event.call.id in ("t1", "t2", "t3"):
            await asyncio.to_thread(kill, workspace)

    replies = [
        tool_use_reply(("t1", "bash_tool", {"command": "echo one"})),
        tool_use_reply(("t2", "bash_tool", {"command": "echo two"})),
        tool_use_reply(("t3", "view", {"path": "/etc/hostname"})),
        tool_use_reply(("t4", "bash_tool", {"command": "echo four"})),
        text_reply("done"),
    ]
    events = run_script(workspace, replies, on_event, max_output_chars=10_000, guard=GUARD * 2)
    where = [
        e.call.id if isinstance(e, ToolCallStarted | ToolCallFinished) else "notice"
        for e in events
        if isinstance(e, ToolCallStarted | ToolCallFinished)
        or (isinstance(e, Notice) and "container stopped" in e.text)
    ]
    assert where == ["t1", "t1", "t2", "notice", "t2", "t3", "notice", "t3", "t4", "notice", "t4"]
    results = {e.call.id: e.result for e in events if isinstance(e, ToolCallFinished)}
    assert "two" in results["t2"].content and "four" in results["t4"].content
    assert not results["t3"].is_error, results["t3"].content
