"""What a permission decision allowed is what runs: a file tool's path is pinned to where
it led when decided, so a link swapped in between the decision and the call (by a
command of the same step, or any process) cannot redirect it into a denied place."""

from __future__ import annotations

import asyncio
from pathlib import Path

from backends.scripted_client import ScriptedClient, text_reply, tool_use_reply

from conjure_kernel.backends.gate import Verdict
from conjure_kernel.backends.local_workspace import LocalWorkspace
from conjure_kernel.backends.loop import run_tool_loop
from conjure_kernel.conversation.permissions import Permissions
from conjure_kernel.conversation.places import Places
from conjure_kernel.conversation.session_gate import SessionGate
from conjure_kernel.events import ToolCallFinished
from conjure_kernel.tools.values import ToolCall
from conjure_kernel.tools.workspace import WorkspaceTools


class SwappingGate(SessionGate):
    """A session gate, with a racer that swaps ``docs`` for a link to ``secret`` right
    after each decision: the worst moment for the call."""

    def check(self, call: ToolCall) -> Verdict:
        verdict = super().check(call)
        docs = Path(self.places.workdir) / "docs"
        if docs.is_dir() and not docs.is_symlink():
            docs.rename(docs.with_name("docs-before"))
            docs.symlink_to("secret")
        return verdict


def run(workdir: Path, mode: str, calls: list[tuple[str, str, dict]], deny=()) -> list[str]:
    """Run one step of ``calls`` under ``mode`` with the racing gate; each call's result."""
    workspace = LocalWorkspace(workdir)
    tools = WorkspaceTools(workspace, timeout=10, max_output_chars=10_000)
    permissions = Permissions.parse(mode, ["create_file(docs/**)", "view(docs/**)"], deny)
    places = Places.of({"workdir": str(workdir)}, leads_to=workspace.leads_to)
    gate = SwappingGate(permissions, mode, places, "local")  # type: ignore[arg-type]
    client = ScriptedClient([tool_use_reply(*calls), text_reply("done")])

    async def turn() -> list[str]:
        try:
            events = run_tool_loop(
                "go", client, tools, system="", model="m", messages=[], gate=gate
            )
            return [e.result.content async for e in events if isinstance(e, ToolCallFinished)]
        finally:
            await tools.aclose()

    return asyncio.run(turn())


def workspace(tmp_path: Path) -> Path:
    for folder in ("docs", "secret"):
        (tmp_path / folder).mkdir()
    (tmp_path / "secret" / "keys.txt").write_text("the keys")
    return tmp_path


def test_an_allowed_write_is_not_redirected_by_a_link_swapped_in_after_the_decision(tmp_path):
    work = workspace(tmp_path)
    [result] = run(work, "ask", [("w", "create_file", {"path": "docs/a.txt", "file_text": "x"})])
    assert "a link now leads it to" in result and str(work / "secret" / "a.txt") in result
    assert sorted(p.name for p in (work / "secret").iterdir()) == ["keys.txt"]


def test_a_deny_rule_in_auto_mode_is_not_bypassed_by_a_swapped_link(tmp_path):
    work = workspace(tmp_path)
    calls = [
        ("w", "create_file", {"path": "docs/keys.txt", "file_text": "overwritten"}),
    ]
    [result] = run(work, "auto", calls, deny=["create_file(secret/**)"])
    assert "a link now leads it to" in result
    assert (work / "secret" / "keys.txt").read_text() == "the keys"


def test_an_allowed_view_does_not_read_through_a_swapped_link(tmp_path):
    work = workspace(tmp_path)
    (work / "docs" / "keys.txt").write_text("public")
    [result] = run(work, "ask", [("v", "view", {"path": "docs/keys.txt"})])
    assert "the keys" not in result and "a link now leads it to" in result


def test_a_link_there_when_decided_is_followed(tmp_path):
    work = workspace(tmp_path)
    (work / "docs").rmdir()
    (work / "docs").symlink_to("secret")  # no swap left for the racer: docs is a link
    [result] = run(work, "ask", [("v", "view", {"path": "docs/keys.txt"})])
    assert "the keys" in result
