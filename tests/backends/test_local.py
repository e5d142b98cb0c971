import asyncio
import os
import re
import resource
import time
from pathlib import Path

import pytest
from scripted_client import ScriptedClient, text_reply, tool_use_reply

from conjure_kernel.backends.base import SessionOptions, TurnOptions
from conjure_kernel.backends.local import LocalBackend, LocalSession, LocalWorkspace
from conjure_kernel.errors import BackendError
from conjure_kernel.events import ToolCallFinished, TurnEnded
from conjure_kernel.skills.skill import Skill, SkillMetadata
from conjure_kernel.tools.values import ToolCall, ToolResult
from conjure_kernel.tools.workspace import WorkspaceTools

HANG_GUARD = 60.0
"""Seconds after which a cancelled call counts as hung; generous, it measures no speed."""


def local_tools(workdir: Path, timeout: float = 30, max_output_chars: int = 2000) -> WorkspaceTools:
    return WorkspaceTools(
        LocalWorkspace(workdir), timeout=timeout, max_output_chars=max_output_chars
    )


@pytest.fixture
def executor(tmp_path: Path) -> WorkspaceTools:
    return local_tools(tmp_path)


def run(executor: WorkspaceTools, name: str, **arguments) -> ToolResult:
    return asyncio.run(executor.run(ToolCall("toolu_1", name, arguments)))


def is_alive(pid: int) -> bool:
    """A zombie counts as dead: it no longer runs, it only waits for its parent."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def wait_until_dead(pids: list[int], seconds: float = 5.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (alive := [pid for pid in pids if is_alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.02)
    return alive


def read_pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()]


# view


def test_view_numbers_lines_like_cat_n(executor, tmp_path):
    (tmp_path / "notes.txt").write_text("alpha\nbeta\n")
    result = run(executor, "view", path="notes.txt")
    assert not result.is_error
    assert result.content == "     1\talpha\n     2\tbeta"


def test_view_range_selects_lines_and_minus_one_means_the_end(executor, tmp_path):
    (tmp_path / "f.txt").write_text("".join(f"line {n}\n" for n in range(1, 11)))
    assert run(executor, "view", path="f.txt", view_range=[3, 4]).content == (
        "     3\tline 3\n     4\tline 4"
    )
    assert run(executor, "view", path="f.txt", view_range=[9, -1]).content == (
        "     9\tline 9\n    10\tline 10"
    )


def test_view_range_outside_the_file_is_an_error(executor, tmp_path):
    (tmp_path / "f.txt").write_text("one\ntwo\n")
    result = run(executor, "view", path="f.txt", view_range=[5, 6])
    assert result.is_error and "2 lines" in result.content


def test_view_lists_a_directory_two_levels_deep_without_hidden_entries(executor, tmp_path):
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c" / "deep.txt").write_text("x")
    (tmp_path / "a" / "top.txt").write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / "node_modules" / "pkg").mkdir(parents=True)
    result = run(executor, "view", path=".")
    assert not result.is_error
    assert result.content.splitlines()[1:] == ["a/", "a/b/", "a/top.txt"]
    assert str(tmp_path) in result.content.splitlines()[0]


def test_view_of_a_missing_path_is_an_error(executor, tmp_path):
    result = run(executor, "view", path="nope.txt")
    assert result.is_error and str(tmp_path / "nope.txt") in result.content


def test_view_of_a_binary_file_is_an_error_saying_so(executor, tmp_path):
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    result = run(executor, "view", path="image.png")
    assert result.is_error and "binary" in result.content


def test_view_of_a_large_file_keeps_head_and_tail(executor, tmp_path):
    (tmp_path / "big.txt").write_text("".join(f"row {n}\n" for n in range(1, 5001)))
    content = run(executor, "view", path="big.txt").content
    assert content.startswith("     1\trow 1\n")
    assert content.endswith("  5000\trow 5000")
    assert re.search(r"\n\[\.\.\. lines \d+-4,\d+ of 5,000 cut; view them with view_range", content)
    assert len(content) <= 2000


def test_view_range_of_a_large_file_shows_those_lines(executor, tmp_path):
    (tmp_path / "big.txt").write_text("".join(f"row {n}\n" for n in range(1, 5001)))
    assert run(executor, "view", path="big.txt", view_range=[2500, 2501]).content == (
        "  2500\trow 2500\n  2501\trow 2501"
    )


def test_absolute_paths_are_used_as_given(executor, tmp_path):
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("here\n")
    assert run(executor, "view", path=str(outside)).content == "     1\there"


# create_file


def test_create_file_creates_parents_relative_to_the_workdir(executor, tmp_path):
    result = run(executor, "create_file", path="out/deep/hello.txt", file_text="héllo\n")
    assert not result.is_error
    assert (tmp_path / "out/deep/hello.txt").read_text() == "héllo\n"
    assert result.content == f"created {tmp_path / 'out/deep/hello.txt'} (7 bytes)"


def test_create_file_says_when_it_overwrote(executor, tmp_path):
    (tmp_path / "f.txt").write_text("old")
    result = run(executor, "create_file", path="f.txt", file_text="new")
    assert result.content.startswith("overwrote ") and (tmp_path / "f.txt").read_text() == "new"


def test_create_file_onto_a_directory_is_an_error(executor, tmp_path):
    (tmp_path / "folder").mkdir()
    assert run(executor, "create_file", path="folder", file_text="x").is_error


# str_replace


def test_str_replace_edits_unique_text_and_shows_the_lines_around_it(executor, tmp_path):
    (tmp_path / "f.py").write_text("".join(f"line {n}\n" for n in range(1, 11)))
    result = run(executor, "str_replace", path="f.py", old_str="line 5\n", new_str="five\nFIVE\n")
    assert not result.is_error
    assert "line 5" not in (tmp_path / "f.py").read_text()
    assert "     5\tfive\n     6\tFIVE\n" in result.content
    assert "     2\tline 2" in result.content and "     1\t" not in result.content


def test_str_replace_of_missing_text_is_an_error(executor, tmp_path):
    (tmp_path / "f.txt").write_text("abc")
    result = run(executor, "str_replace", path="f.txt", old_str="xyz", new_str="")
    assert result.is_error and "not found" in result.content


def test_str_replace_of_ambiguous_text_names_the_count(executor, tmp_path):
    (tmp_path / "f.txt").write_text("x = 1\nx = 1\nx = 1\n")
    result = run(executor, "str_replace", path="f.txt", old_str="x = 1", new_str="x = 2")
    assert result.is_error and "3 times" in result.content and "more" in result.content
    assert (tmp_path / "f.txt").read_text() == "x = 1\nx = 1\nx = 1\n"


def test_str_replace_without_new_str_deletes(executor, tmp_path):
    (tmp_path / "f.txt").write_text("keep drop keep")
    assert not run(executor, "str_replace", path="f.txt", old_str=" drop").is_error
    assert (tmp_path / "f.txt").read_text() == "keep keep"


# input validation


@pytest.mark.parametrize(
    ("tool", "arguments", "missing"),
    [
        ("view", {}, "path"),
        ("bash_tool", {}, "command"),
        ("create_file", {"path": "f"}, "file_text"),
        ("str_replace", {"path": "f"}, "old_str"),
    ],
)
def test_missing_input_is_an_error_naming_the_key(executor, tool, arguments, missing):
    result = run(executor, tool, **arguments)
    assert result.is_error and repr(missing) in result.content


def test_input_of_the_wrong_type_is_an_error(executor):
    result = run(executor, "bash_tool", command=["ls"])
    assert result.is_error and "'command' must be of type string" in result.content


# bash_tool


def test_bash_runs_in_the_workdir(executor, tmp_path):
    result = run(executor, "bash_tool", command="pwd")
    assert result == ToolResult("toolu_1", f"{tmp_path}\nexit code: 0", exit_code=0)


def test_nonzero_exit_is_an_error_with_stderr(executor):
    result = run(executor, "bash_tool", command="echo out; echo oops >&2; exit 3")
    assert result.is_error and result.exit_code == 3
    assert result.content == "out\nstderr:\noops\nexit code: 3"


def test_output_is_capped_while_it_is_read(executor):
    """A command printing 50 MB reaches the model as head, note and tail; memory stays flat."""
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run(executor, "bash_tool", command="yes | head -c 50000000")
    growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_kb) / 1024
    assert not result.is_error and len(result.content) < 2000 + 200
    assert result.content.startswith("y\ny\n") and result.content.endswith("y\nexit code: 0")
    note = re.search(
        r"\(([\d,]+) lines\) cut; the output was 50,000,000 characters", result.content
    )
    assert note, result.content
    shown = result.content.count("\n") - 1  # less the break after the note
    assert int(note[1].replace(",", "")) + shown == 25_000_000
    assert growth_mb < 40  # holding the whole output would take 50 MB at least


def test_timeout_kills_the_whole_process_group(tmp_path):
    executor = local_tools(tmp_path, timeout=0.5)
    command = "echo started; sleep 100 & echo $! >> pids; sleep 100 & echo $! >> pids; wait"
    result = run(executor, "bash_tool", command=command)
    assert result.is_error and "timed out after 0.5 s" in result.content
    assert result.content.startswith("started\n")
    assert wait_until_dead(read_pids(tmp_path / "pids")) == []


def test_cancelling_a_command_kills_its_process_group_promptly(executor, tmp_path):
    pids = tmp_path / "pids"

    async def scenario() -> None:
        call = ToolCall("toolu_1", "bash_tool", {"command": "sleep 30 & echo $! > pids; wait"})
        task = asyncio.ensure_future(executor.run(call))
        while not pids.exists() or not pids.read_text():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, HANG_GUARD)  # a hang fails; no speed is asserted

    asyncio.run(scenario())
    assert wait_until_dead(read_pids(pids)) == []


@pytest.mark.parametrize("steps", range(6))
def test_cancelling_during_start_up_still_kills_the_group_promptly(executor, tmp_path, steps):
    """Each step lands the cancel at another point of asyncio's process start-up."""
    pids = tmp_path / "pids"

    async def scenario() -> None:
        call = ToolCall("toolu_1", "bash_tool", {"command": "sleep 30 & echo $! > pids; wait"})
        task = asyncio.ensure_future(executor.run(call))
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, HANG_GUARD)  # a hang fails; no speed is asserted

    asyncio.run(scenario())
    assert wait_until_dead(read_pids(pids) if pids.exists() else []) == []


def test_a_process_that_left_the_group_cannot_hang_the_call(tmp_path):
    executor = local_tools(tmp_path, timeout=0.3)
    command = "setsid sleep 30 & echo $! > pids; sleep 30"
    try:
        result = run(executor, "bash_tool", command=command)
        assert result.is_error and "timed out" in result.content
    finally:
        os.kill(read_pids(tmp_path / "pids")[0], 9)


def test_aclose_kills_running_commands(executor, tmp_path):
    async def scenario() -> ToolResult:
        call = ToolCall("toolu_1", "bash_tool", {"command": "echo $$ > pids; sleep 30"})
        task = asyncio.ensure_future(executor.run(call))
        while not (tmp_path / "pids").exists():
            await asyncio.sleep(0.01)
        await executor.aclose()
        return await task

    result = asyncio.run(scenario())
    assert result.is_error and "SIGKILL" in result.content


@pytest.mark.parametrize("steps", range(4))
def test_aclose_during_start_up_still_kills_the_command(executor, steps):
    """aclose cannot see a command still starting; the command kills itself once it sees."""

    async def scenario() -> ToolResult:
        call = ToolCall("toolu_1", "bash_tool", {"command": "sleep 30"})
        task = asyncio.ensure_future(executor.run(call))
        for _ in range(steps):
            await asyncio.sleep(0)
        await executor.aclose()
        return await asyncio.wait_for(task, HANG_GUARD)  # a hang fails; no speed is asserted

    result = asyncio.run(scenario())
    assert result.is_error and "SIGKILL" in result.content


# the backend


def make_skill(root: Path) -> Skill:
    root.mkdir(parents=True)
    (root / "SKILL.md").write_text("---\nname: pdf\ndescription: Work with PDFs.\n---\nBody\n")
    return Skill(SkillMetadata("pdf", "Work with PDFs."), root)


def test_new_session_defaults_to_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    session = asyncio.run(
        LocalBackend().open_session([make_skill(tmp_path / "skills/pdf")], SessionOptions())
    )
    assert isinstance(session, LocalSession) and session.workdir == tmp_path
    assert session.describe() == f"local: bash on this machine in {tmp_path} (timeout=300 s)"
    assert f"<location>{tmp_path / 'skills/pdf/SKILL.md'}</location>" in session.system_prompt
    assert f"in the working directory {tmp_path}." in session.system_prompt


def test_new_session_in_a_missing_folder_is_a_backend_error(tmp_path):
    with pytest.raises(BackendError, match="does not exist"):
        asyncio.run(
            LocalBackend().open_session([], SessionOptions({"workdir": str(tmp_path / "missing")}))
        )


def test_chat_runs_a_tool_call_and_sends_its_result_back(tmp_path):
    backend = LocalBackend()
    session = asyncio.run(backend.open_session([], SessionOptions({"workdir": str(tmp_path)})))
    client = ScriptedClient(
        [
            tool_use_reply(("toolu_1", "bash_tool", {"command": "echo hello"})),
            text_reply("It said hello."),
        ]
    )
    history: list = []

    async def scenario() -> list:
        turn = backend.chat(session, "say hello", client, TurnOptions(model="m", history=history))
        return [event async for event in turn]

    events = asyncio.run(scenario())
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert finished[0].result.content == "hello\nexit code: 0"
    assert isinstance(events[-1], TurnEnded) and events[-1].text == "It said hello."
    second = client.requests[1]
    assert second.system == session.system_prompt
    assert {tool["name"] for tool in second.tools} == {
        "view",
        "bash_tool",
        "create_file",
        "str_replace",
    }
    assert second.messages[-1]["content"][0]["content"] == "hello\nexit code: 0"


def test_interrupt_mid_tool_leaves_history_valid(tmp_path):
    backend = LocalBackend()
    session = asyncio.run(backend.open_session([], SessionOptions({"workdir": str(tmp_path)})))
    command = "sleep 30 & echo $! > pids; wait"
    client = ScriptedClient([tool_use_reply(("toolu_1", "bash_tool", {"command": command}))])
    history: list = []

    async def scenario() -> None:
        async def consume() -> None:
            async for _ in backend.chat(session, "wait", client, TurnOptions("m", history)):
                pass

        task = asyncio.ensure_future(consume())
        while not (tmp_path / "pids").exists() or not (tmp_path / "pids").read_text():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, HANG_GUARD)  # a hang fails; no speed is asserted

    asyncio.run(scenario())
    assert [message["role"] for message in history] == ["user", "assistant", "user"]
    answer = history[-1]["content"][0]
    assert answer["tool_use_id"] == "toolu_1" and answer["is_error"]
    assert wait_until_dead(read_pids(tmp_path / "pids")) == []
    asyncio.run(backend.close(session))
