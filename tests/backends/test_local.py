import asyncio
import os
import re
import resource
import time
from pathlib import Path

import pytest
from scripted_client import ScriptedClient, text_reply, tool_use_reply

from conjure_kernel.backends import process_groups
from conjure_kernel.backends.base import SessionOptions, TurnOptions
from conjure_kernel.backends.host_versions import describe_programs, host_versions
from conjure_kernel.backends.local import LocalBackend, LocalSession
from conjure_kernel.backends.local_settings import LocalSettings
from conjure_kernel.backends.local_workspace import LocalWorkspace
from conjure_kernel.backends.settings import describe_settings
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


# bash_tool: what a command leaves running in the background

BACKGROUND_NOTE = (
    "1 background process is still running (pid {pid}: {command}); it is stopped when the "
    "session resets or ends, and its output is discarded (redirect it to a file to read it)"
)


async def appears(path: Path) -> None:
    while not path.exists() or not path.read_text():
        await asyncio.sleep(0.01)


async def bash(executor: WorkspaceTools, command: str) -> ToolResult:
    """One bash_tool call; a hang fails the test rather than stalling it."""
    call = ToolCall("toolu_1", "bash_tool", {"command": command})
    return await asyncio.wait_for(executor.run(call), HANG_GUARD)


@pytest.fixture(params=["/proc", "ps"])
def listing(request, tmp_path, monkeypatch) -> None:
    """Processes are listed from /proc, or by ``ps`` where there is none (macOS)."""
    if request.param == "ps":
        monkeypatch.setattr(process_groups, "_PROC", tmp_path / "no-proc")


def test_a_background_job_neither_holds_the_call_nor_dies_with_it(executor, tmp_path, listing):
    """The call ends with bash and names the job; the job runs on until aclose.

    The job holds the output pipes: waiting for them to close, the call would run into
    its timeout (30 s here), fail, and take the job with it.
    """

    async def scenario() -> tuple[ToolResult, bool]:
        result = await bash(executor, "sleep 300 & echo $! > pids; echo started")
        alive_after_the_call = is_alive(read_pids(tmp_path / "pids")[0])
        await executor.aclose()
        return result, alive_after_the_call

    result, alive_after_the_call = asyncio.run(scenario())
    [pid] = read_pids(tmp_path / "pids")
    assert not result.is_error and result.exit_code == 0
    note = BACKGROUND_NOTE.format(pid=pid, command="sleep 300")
    assert result.content == f"started\nexit code: 0\n{note}"
    assert alive_after_the_call
    assert wait_until_dead([pid]) == []


def test_a_background_job_that_prints_is_read_until_aclose_not_cut_off(executor, tmp_path):
    """5 MB printed once the call has ended: with nobody reading, the job would block on
    the full pipe; with the pipe closed, SIGPIPE would kill it (status 141)."""
    command = (
        "(until [ -e go ]; do sleep 0.01; done; head -c 5000000 /dev/zero; echo $? > status;"
        " sleep 300) & echo $! > pids"
    )

    async def scenario() -> ToolResult:
        result = await bash(executor, command)
        (tmp_path / "go").touch()
        await asyncio.wait_for(appears(tmp_path / "status"), HANG_GUARD)
        assert is_alive(read_pids(tmp_path / "pids")[0])
        await executor.aclose()
        return result

    result = asyncio.run(scenario())
    assert not result.is_error and "background process" in result.content
    assert (tmp_path / "status").read_text() == "0\n"
    assert wait_until_dead(read_pids(tmp_path / "pids")) == []


def test_the_output_is_complete_though_a_background_job_floods_the_other_stream(tmp_path):
    """What the command printed is all in the pipe when bash exits, and is all read; what
    the job keeps printing (to stderr, without end) is not waited for."""
    executor = local_tools(tmp_path, max_output_chars=2000)
    printed = "".join(f"{n}\n" for n in range(1, 200_001))

    async def scenario() -> ToolResult:
        result = await bash(executor, "yes flood >&2 & echo $! > pids; seq 200000")
        await executor.aclose()
        return result

    content = asyncio.run(scenario()).content
    stdout = content.split("\nstderr:\n")[0]
    assert f"cut; the output was {len(printed):,} characters ...]" in stdout
    assert stdout.startswith("1\n2\n3\n") and stdout.endswith("\n199999\n200000")
    assert re.search(r"\n1 background process is still running \(pid \d+: yes flood\)", content)
    assert wait_until_dead(read_pids(tmp_path / "pids")) == []


def test_an_orphan_that_ended_is_not_reported_as_running(executor, tmp_path, listing):
    """Where nothing reaps orphans (a container without an init), one that ended stays a
    zombie in the group; it runs no more, so it is not listed."""
    command = (
        "(true & echo $! > pid); "  # the subshell exits at once: true is an orphan
        'while s=$(ps -o stat= -p "$(cat pid)") && [ "${s#Z}" = "$s" ]; do sleep 0.01; done; '
        "echo done"
    )
    result = run(executor, "bash_tool", command=command)
    assert result.content == "done\nexit code: 0"


def test_a_foreground_timeout_still_kills_the_background_jobs(tmp_path):
    executor = local_tools(tmp_path, timeout=0.5)
    result = run(executor, "bash_tool", command="sleep 300 & echo $! > pids; sleep 300")
    assert result.is_error and "timed out after 0.5 s" in result.content
    assert "background" not in result.content
    assert wait_until_dead(read_pids(tmp_path / "pids")) == []


# the environment the commands see


def environment_names(session: LocalSession) -> set[str]:
    result = asyncio.run(session.executor.run(ToolCall("toolu_1", "bash_tool", {"command": "env"})))
    assert not result.is_error and "cut;" not in result.content
    return {line.split("=", 1)[0] for line in result.content.splitlines()}


@pytest.fixture
def open_local():
    """Opens sandboxed local sessions, and closes them (their private /tmp goes) at the end."""
    opened: list[LocalSession] = []

    def open_session(tmp_path: Path, secret_env_vars=frozenset(), **settings: str) -> LocalSession:
        options = SessionOptions(
            LocalSettings.parse({"workdir": str(tmp_path), **settings}),
            secret_env_vars=secret_env_vars,
        )
        opened.append(asyncio.run(LocalBackend().open_session([], options)))
        return opened[-1]

    yield open_session
    for session in opened:
        asyncio.run(LocalBackend().close(session))


@pytest.fixture
def secrets(monkeypatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "MY_TOKEN", "LATER_TOKEN"):
        monkeypatch.setenv(name, f"value-of-{name}")
    monkeypatch.setenv("ORDINARY", "plain")


def test_commands_see_neither_the_api_credentials_nor_marked_secrets(tmp_path, secrets, open_local):
    names = environment_names(open_local(tmp_path, secret_env_vars={"MY_TOKEN"}))
    assert "ORDINARY" in names and "LATER_TOKEN" in names
    assert not names & {"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "MY_TOKEN"}


def test_a_secret_marked_after_the_session_opened_is_hidden_from_the_next_command(
    tmp_path, secrets, open_local
):
    hidden: set[str] = set()  # the live set: the API credentials are hidden even when empty
    session = open_local(tmp_path, secret_env_vars=hidden)
    before = environment_names(session)
    hidden.add("LATER_TOKEN")
    after = environment_names(session)
    assert "LATER_TOKEN" in before and "LATER_TOKEN" not in after and "ORDINARY" in after
    assert not (before | after) & {"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"}


@pytest.mark.parametrize("sandbox", ["on", "off"])
def test_pass_env_lets_named_secrets_through(tmp_path, secrets, open_local, sandbox):
    session = open_local(
        tmp_path,
        secret_env_vars={"MY_TOKEN"},
        pass_env=" MY_TOKEN,ANTHROPIC_API_KEY",
        sandbox=sandbox,
    )
    names = environment_names(session)
    assert {"MY_TOKEN", "ANTHROPIC_API_KEY"} <= names and "ANTHROPIC_AUTH_TOKEN" not in names
    assert "(timeout=300 s, pass_env=ANTHROPIC_API_KEY,MY_TOKEN, " in session.describe()


def test_the_settings_help_lists_pass_env():
    assert (
        "  pass_env=text  comma-separated environment variables the tools may see "
        "even though they are secret"
    ) in describe_settings(LocalBackend.settings_class.declared())


# the backend


def make_skill(root: Path) -> Skill:
    root.mkdir(parents=True)
    (root / "SKILL.md").write_text("---\nname: pdf\ndescription: Work with PDFs.\n---\nBody\n")
    return Skill(SkillMetadata("pdf", "Work with PDFs."), root)


def test_new_session_defaults_to_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    backend = LocalBackend()
    session = asyncio.run(
        backend.open_session([make_skill(tmp_path / "skills/pdf")], SessionOptions())
    )
    assert isinstance(session, LocalSession) and session.workdir == tmp_path
    assert session.describe().startswith(
        f"local: bash in a bubblewrap sandbox on this machine, in {tmp_path} "
        "(timeout=300 s, network=off)\n"
    )
    assert f"<location>{tmp_path / 'skills/pdf/SKILL.md'}</location>" in session.system_prompt
    assert f"in the working directory {tmp_path}." in session.system_prompt
    assert describe_programs(host_versions()) in session.system_prompt  # what is here, and not
    asyncio.run(backend.close(session))


def test_the_system_prompt_names_the_programs_skills_use_that_are_missing():
    versions = {"system": "Linux x86_64", "python3": "3.11.2", "soffice": "present"}
    assert describe_programs(versions) == (
        "Installed here: python3 3.11.2, soffice (LibreOffice). "
        "Not installed: node, pandoc, poppler (pdftotext, pdftoppm), qpdf."
    )


def test_new_session_in_a_missing_folder_is_a_backend_error(tmp_path):
    with pytest.raises(BackendError, match="does not exist"):
        asyncio.run(
            LocalBackend().open_session(
                [], SessionOptions(LocalSettings.parse({"workdir": str(tmp_path / "missing")}))
            )
        )


def test_chat_runs_a_tool_call_and_sends_its_result_back(tmp_path):
    backend = LocalBackend()
    session = asyncio.run(
        backend.open_session([], SessionOptions(LocalSettings.parse({"workdir": str(tmp_path)})))
    )
    client = ScriptedClient(
        [
            tool_use_reply(("toolu_1", "bash_tool", {"command": "echo hello"})),
            text_reply("It said hello."),
        ]
    )
    history: list = []

    async def scenario() -> list:
        turn = backend.chat(session, "say hello", client, TurnOptions(model="m", messages=history))
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
    asyncio.run(backend.close(session))


def test_interrupt_mid_tool_leaves_history_valid(tmp_path):
    """Unsandboxed: the pids the command writes are this machine's (tests/backends/
    test_local_sandbox.py interrupts a sandboxed one)."""
    backend = LocalBackend()
    options = SessionOptions(LocalSettings.parse({"workdir": str(tmp_path), "sandbox": "off"}))
    session = asyncio.run(backend.open_session([], options))
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
