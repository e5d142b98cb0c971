"""Recording and replay: a notebook records its turns, replays with no key, reports drift."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from fakeapi import FakeMessagesAPI, replies
from kernel_harness import TURN_MIME, RunningKernel
from nbclient import NotebookClient

from conjure_kernel.backends.host_versions import host_versions
from conjure_kernel.conversation.transcript import TURN_SCHEMA, TurnRecord
from conjure_kernel.events import TextDelta, ToolCallFinished, ToolCallStarted
from conjure_kernel.notebook.kernelspec import NOTEBOOK_KERNELSPEC
from conjure_kernel.notebook.recording import export_markdown, export_notebook
from conjure_kernel.tools.values import ToolCall, ToolResult

COUNTER = "echo run-$(cat counter.txt)"
RUN_TOOLS = ["--GuardMagics.permission_mode=auto"]
"""Kernel arguments for a recording run: its tools run without asking, since nbclient
allows no stdin and the local backend would deny each command (replays need none: what
ran when recorded runs again)."""


def conjure_notebook(*sources: str) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = dict(NOTEBOOK_KERNELSPEC)
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    return notebook


def execute(
    notebook: nbformat.NotebookNode, folder: Path, env: dict[str, str], **kwargs
) -> nbformat.NotebookNode:
    """Run a notebook in a real kernel with exactly the given Anthropic settings."""
    saved = {
        name: os.environ.pop(name, None)
        for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "CONJURE_REPLAY")
    }
    os.environ.update(env)
    try:
        NotebookClient(
            notebook, timeout=120, resources={"metadata": {"path": str(folder)}}, **kwargs
        ).execute()
    finally:
        for name in env:
            os.environ.pop(name, None)
        os.environ.update({name: value for name, value in saved.items() if value is not None})
    return notebook


def turns_of(notebook: nbformat.NotebookNode) -> list[dict]:
    return [
        o["data"][TURN_MIME]
        for c in notebook.cells
        for o in c.get("outputs", [])
        if TURN_MIME in o.get("data", {})
    ]


def records_of(notebook: nbformat.NotebookNode) -> list[TurnRecord]:
    return [TurnRecord.from_json(turn) for turn in turns_of(notebook)]


@pytest.fixture
def recorded(tmp_path) -> Path:
    """A two-turn session recorded against the scripted API, saved as recorded.ipynb."""
    (tmp_path / "counter.txt").write_text("1\n")
    with FakeMessagesAPI() as api:
        api.script(
            replies.tool_use("bash_tool", {"command": COUNTER}),
            replies.text("The counter says run-1."),
            replies.tool_use("create_file", {"path": "out.txt", "file_text": "hello\n"}),
            replies.text("Wrote out.txt."),
        )
        notebook = conjure_notebook("Read the counter", "Write out.txt")
        execute(
            notebook,
            tmp_path,
            {"ANTHROPIC_API_KEY": "sk-record-secret", "ANTHROPIC_BASE_URL": api.url},
            extra_arguments=RUN_TOOLS,
        )
    path = tmp_path / "recorded.ipynb"
    nbformat.write(notebook, path)
    (tmp_path / "out.txt").unlink()
    return path


def test_turn_output_holds_the_full_recording_and_no_secret(recorded):
    text = recorded.read_text()
    assert "sk-record-secret" not in text
    first, second = turns_of(nbformat.read(recorded, as_version=4))
    assert first["schema"] == TURN_SCHEMA and first["version"]
    assert first["backend"] == "local" and first["model"]
    assert [s["stop_reason"] for s in first["steps"]] == ["tool_use", "end_turn"]
    [tool] = [entry for entry in first["timeline"] if entry["type"] == "tool"]
    assert tool["state"] == "ok" and tool["result"]["content"].startswith("run-1")
    assert TurnRecord.from_json(second).tool_calls[0][0].name == "create_file"


def test_replay_without_key_or_server_reruns_tools_and_gives_the_same_answers(recorded):
    notebook = nbformat.read(recorded, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell("%replay recorded.ipynb"))
    execute(notebook, recorded.parent, {})
    first, second = records_of(notebook)
    assert first.answer == "The counter says run-1." and second.answer == "Wrote out.txt."
    assert first.replayed and not first.drift and not second.drift
    assert (recorded.parent / "out.txt").read_text() == "hello\n"  # the tool really ran again


def test_changed_tool_output_is_reported_as_drift(recorded):
    (recorded.parent / "counter.txt").write_text("2\n")
    notebook = nbformat.read(recorded, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell("%replay recorded.ipynb"))
    execute(notebook, recorded.parent, {})
    drift = turns_of(notebook)[0]["drift"]
    assert [d["name"] for d in drift] == ["bash_tool"]
    assert "-run-1" in drift[0]["diff"] and "+run-2" in drift[0]["diff"]
    html = next(
        o["data"]["text/html"] for o in notebook.cells[1].outputs if TURN_MIME in o.get("data", {})
    )
    assert "drift in bash_tool" in html


def test_replay_command_prints_a_drift_report_and_fails_under_strict(recorded):
    command = [sys.executable, "-m", "conjure_kernel", "replay", str(recorded)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    clean = subprocess.run(
        [*command, "--strict"], capture_output=True, text=True, env=env, timeout=300
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "drift: 0 of 2 turn(s)" in clean.stdout
    assert "same as recorded" in clean.stdout
    (recorded.parent / "counter.txt").write_text("3\n")
    (recorded.parent / "out.txt").unlink()
    lenient = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    (recorded.parent / "out.txt").unlink()
    strict = subprocess.run(
        [*command, "--strict"], capture_output=True, text=True, env=env, timeout=300
    )
    assert lenient.returncode == 0 and strict.returncode == 1
    assert "+run-3" in strict.stdout and "drift: 1 of 2 turn(s)" in strict.stdout


def test_edited_message_is_reported_as_no_longer_matching(recorded):
    notebook = nbformat.read(recorded, as_version=4)
    notebook.cells[0].source = "Read the counter, please"
    notebook.cells.insert(0, nbformat.v4.new_code_cell("%replay recorded.ipynb"))
    execute(notebook, recorded.parent, {}, allow_errors=True)
    error = next(o for o in notebook.cells[1].outputs if o["output_type"] == "error")
    assert error["ename"] == "RecordingMismatch"
    assert "Read the counter, please" in error["evalue"]
    assert any("record it afresh" in line for line in error["traceback"])


def test_hand_edited_recording_gives_a_clear_error(recorded):
    notebook = nbformat.read(recorded, as_version=4)
    for output in notebook.cells[0].outputs:
        if TURN_MIME in output.get("data", {}):
            del output["data"][TURN_MIME]["steps"]
    nbformat.write(notebook, recorded)
    with RunningKernel("conjure", cwd=recorded.parent, env={}) as kernel:
        result = kernel.run("%replay recorded.ipynb")
    assert result.status == "error"
    assert result.reply["content"]["ename"] == "RecordingError"
    assert (
        "cell 1" in result.reply["content"]["evalue"]
        and "malformed" in result.reply["content"]["evalue"]
    )
    assert len(result.reply["content"]["traceback"]) <= 2


def test_history_restore_after_restart_continues_the_conversation(recorded):
    with (
        FakeMessagesAPI() as api,
        RunningKernel(
            "conjure",
            cwd=recorded.parent,
            env={"ANTHROPIC_API_KEY": "sk-x", "ANTHROPIC_BASE_URL": api.url},
        ) as kernel,
    ):
        restored = kernel.run("%history restore recorded.ipynb")
        assert restored.status == "ok", restored.error
        assert "restored 2 turn(s), 8 message(s)" in restored.text()
        api.script(replies.text("You asked about the counter and out.txt."))
        assert kernel.run("What did I ask before?").status == "ok"
        messages = api.requests[-1].body["messages"]
    assert messages[0]["content"] == "Read the counter"
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"] * 2 + [
        "user"
    ]


def test_history_export_writes_markdown_and_a_clean_notebook(recorded, tmp_path):
    with RunningKernel("conjure", cwd=recorded.parent, env={}) as kernel:
        kernel.run("%history restore recorded.ipynb")
        assert kernel.run("%history export session.md").status == "ok"
        assert kernel.run("%history export session.ipynb").status == "ok"
    markdown = (recorded.parent / "session.md").read_text()
    assert "> Read the counter" in markdown and "Wrote out.txt." in markdown
    exported = nbformat.read(recorded.parent / "session.ipynb", as_version=4)
    assert [c.source for c in exported.cells] == ["Read the counter", "Write out.txt"]
    assert records_of(exported)[1].answer == "Wrote out.txt."


def test_values_marked_secret_never_reach_the_saved_notebook(tmp_path):
    with FakeMessagesAPI() as api:
        api.script(
            replies.tool_use("bash_tool", {"command": "echo $SERVICE_TOKEN"}), replies.text("done")
        )
        notebook = conjure_notebook("%secret SERVICE_TOKEN", "Is tok-very-private-42 my token?")
        os.environ["SERVICE_TOKEN"] = "tok-very-private-42"
        try:
            execute(
                notebook,
                tmp_path,
                {"ANTHROPIC_API_KEY": "sk-a", "ANTHROPIC_BASE_URL": api.url},
                extra_arguments=RUN_TOOLS,
            )
        finally:
            del os.environ["SERVICE_TOKEN"]
    saved = json.dumps([cell.get("outputs", []) for cell in notebook.cells], ensure_ascii=False)
    assert "tok-very-private-42" not in saved
    assert "[secret SERVICE_TOKEN]" in saved
    assert "$SERVICE_TOKEN · exit 0" in saved  # the tool itself never saw the value


def test_a_turn_saved_without_its_recording_still_shows_its_tool_calls(tmp_path):
    """``record = False`` leaves out the model's steps only; every rendering keeps the calls."""
    with FakeMessagesAPI() as api:
        api.script(replies.tool_use("bash_tool", {"command": "echo hi"}), replies.text("Said hi."))
        notebook = conjure_notebook("%config ConjureMagics.record = False", "Say hi")
        env = {"ANTHROPIC_API_KEY": "sk-a", "ANTHROPIC_BASE_URL": api.url}
        execute(notebook, tmp_path, env, extra_arguments=RUN_TOOLS)
    [output] = [o for o in notebook.cells[1].outputs if TURN_MIME in o.get("data", {})]
    [record] = records_of(notebook)
    assert output["data"][TURN_MIME]["steps"] == [] and record.answer == "Said hi."
    [(call, result)] = record.tool_calls
    assert call.input["command"] == "echo hi" and result.content.startswith("hi")
    for mime in ("text/html", "text/markdown", "text/plain"):
        assert "bash_tool echo hi · exit 0" in output["data"][mime], mime


SECRET = "tok-export-secret-99"


def a_turn_with_the_secret() -> TurnRecord:
    call = ToolCall("t1", "bash_tool", {"command": f"echo {SECRET}"})
    record = TurnRecord(f"show {SECRET}", "local", "m")
    for event in [
        TextDelta(f"It is {SECRET}."),
        ToolCallStarted(call),
        ToolCallFinished(call, ToolResult("t1", SECRET, False, 0, 0.1)),
    ]:
        record.timeline.add(event)
    return record


@pytest.mark.parametrize("writer", [export_markdown, export_notebook], ids=["md", "ipynb"])
def test_exports_are_redacted_like_saved_cells(tmp_path, writer):
    target = tmp_path / f"session.{'md' if writer is export_markdown else 'ipynb'}"
    writer([a_turn_with_the_secret()], target, redact=lambda t: t.replace(SECRET, "[secret X]"))
    text = target.read_text()
    assert SECRET not in text and "[secret X]" in text


@pytest.mark.parametrize("writer", [export_markdown, export_notebook], ids=["md", "ipynb"])
def test_exports_without_a_redactor_still_remove_the_api_key(tmp_path, monkeypatch, writer):
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    target = tmp_path / f"session.{'md' if writer is export_markdown else 'ipynb'}"
    writer([a_turn_with_the_secret()], target)
    assert SECRET not in target.read_text()


def test_a_relative_notebook_is_read_next_to_the_running_one_then_in_the_cwd(tmp_path, monkeypatch):
    from conjure_kernel.errors import RecordingError
    from conjure_kernel.notebook.recording import resolve_notebook

    (tmp_path / "project").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "project" / "recorded.ipynb").write_text("{}")
    (tmp_path / "elsewhere" / "only-here.ipynb").write_text("{}")
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    vscode = {"__vsc_ipynb_file__": str(tmp_path / "project" / "running.ipynb")}
    assert resolve_notebook("recorded.ipynb", vscode) == tmp_path / "project" / "recorded.ipynb"
    assert resolve_notebook("only-here.ipynb", vscode) == tmp_path / "elsewhere" / "only-here.ipynb"
    with pytest.raises(RecordingError) as raised:
        resolve_notebook("missing.ipynb", vscode)
    assert str(raised.value) == (
        f"missing.ipynb: no such notebook (looked for {tmp_path / 'project' / 'missing.ipynb'}"
        f" or {tmp_path / 'elsewhere' / 'missing.ipynb'})"
    )


def test_a_notebook_with_an_interrupted_turn_replays_as_it_was(tmp_path):
    """The interrupted command is not started again, and the report says where replay stopped."""
    command = "touch started; sleep 120"
    with FakeMessagesAPI() as api:
        api.script(replies.tool_use("bash_tool", {"command": command}, text="Waiting."))
        env = {"ANTHROPIC_API_KEY": "sk-a", "ANTHROPIC_BASE_URL": api.url}
        with RunningKernel("conjure", cwd=tmp_path, env=env) as kernel:
            assert kernel.run("%permissions auto").status == "ok"
            msg_id = kernel.start("Wait for it")
            for _ in range(600):  # a hang guard of 30 s; no speed is asserted
                if (tmp_path / "started").exists():
                    break
                time.sleep(0.05)
            kernel.manager.interrupt_kernel()
            result = kernel.wait_for(msg_id, timeout=30)
    assert result.reply["content"]["ename"] == "TurnInterrupted"
    saved = [b for b in result.bundles() if TURN_MIME in b][-1]
    error = next(m["content"] for m in result.messages if m["msg_type"] == "error")
    notebook = conjure_notebook("Wait for it")
    notebook.cells[0].outputs = [
        nbformat.v4.new_output("display_data", data=saved),
        nbformat.v4.new_output("error", **{k: error[k] for k in ("ename", "evalue", "traceback")}),
    ]
    nbformat.write(notebook, tmp_path / "interrupted.ipynb")
    (tmp_path / "started").unlink()

    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    command_line = [
        sys.executable,
        "-m",
        "conjure_kernel",
        "replay",
        "interrupted.ipynb",
        "--strict",
    ]
    done = subprocess.run(
        command_line, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "this turn was interrupted when it was recorded" in done.stdout
    assert "errors: 0 cell(s)" in done.stdout
    assert not (tmp_path / "started").exists()  # the interrupted command did not run again


def test_each_turn_records_what_its_tools_ran_on_and_replay_says_what_differs(recorded):
    notebook = nbformat.read(recorded, as_version=4)
    first, second = records_of(notebook)
    assert first.environment == second.environment == host_versions()
    assert "python3" in first.environment
    for cell in notebook.cells:  # as if recorded on a machine with another python3
        for output in cell.get("outputs", []):
            if TURN_MIME in output.get("data", {}):
                output["data"][TURN_MIME]["environment"]["python3"] = "2.7.18"
    nbformat.write(notebook, recorded)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    command = [sys.executable, "-m", "conjure_kernel", "replay", str(recorded)]
    report = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert report.returncode == 0, report.stdout + report.stderr
    changed = f"python3: 2.7.18 → {host_versions()['python3']}"
    assert f"the tools run on another environment than recorded: {changed}" in report.stdout
    assert "drift: 0 of 2 turn(s)" in report.stdout  # the tools' results did not change


SHOUTER = """%%python
from conjure_kernel import NativeSkill

class Shouter(NativeSkill):
    name = "shouter"
    description = "Shouts a command back."

    def execute(self, command, context):
        return command.upper()
"""


def replay_command(notebook: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """``python -m conjure_kernel replay`` with no key in its environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    command = [sys.executable, "-m", "conjure_kernel", "replay", str(notebook), *arguments]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def test_replay_on_an_asked_backend_overrides_the_notebooks_switches_and_names_each_turns(
    tmp_path,
):
    """Recorded on local, then native; replayed on native, the local turn's command meets a
    backend without bash, which --strict must catch, and the report says where each ran."""
    with FakeMessagesAPI() as api:
        api.script(
            replies.tool_use("bash_tool", {"command": "echo hello"}),
            replies.text("It said hello."),
            replies.tool_use("shouter_execute", {"command": "hey"}),
            replies.text("It shouted."),
        )
        notebook = conjure_notebook(
            SHOUTER, "%backend local", "Say hello", "%backend native", "Shout hey"
        )
        env = {"ANTHROPIC_API_KEY": "sk-record", "ANTHROPIC_BASE_URL": api.url}
        execute(notebook, tmp_path, env, extra_arguments=RUN_TOOLS)
    path = tmp_path / "switching.ipynb"
    nbformat.write(notebook, path)
    assert [record.backend for record in records_of(notebook)] == ["local", "native"]

    as_recorded = replay_command(path, "--strict", "--quiet")
    assert as_recorded.returncode == 0, as_recorded.stdout + as_recorded.stderr
    assert "cell 3: 'Say hello': 1 tool call(s), same as recorded, on local\n" in as_recorded.stdout
    assert "cell 5: 'Shout hey': 1 tool call(s), same as recorded, on native\n" in (
        as_recorded.stdout
    )

    on_native = replay_command(path, "--backend", "native", "--strict")
    assert on_native.returncode == 1, on_native.stdout + on_native.stderr
    overridden = (
        "replaying on native as asked: the notebook's `%backend local` cells are overridden"
    )
    assert on_native.stdout.count(overridden) == 2  # in the turn, and once in the report
    assert "cell 3: 'Say hello': 1 tool call(s), 1 drifted, on native (recorded on local)" in (
        on_native.stdout
    )
    assert "+unknown tool 'bash_tool'" in on_native.stdout
    assert "cell 5: 'Shout hey': 1 tool call(s), same as recorded, on native\n" in on_native.stdout

    in_kernel = nbformat.read(path, as_version=4)  # the magic does what the command does
    in_kernel.cells.insert(1, nbformat.v4.new_code_cell("%replay switching.ipynb --backend native"))
    said_hello, shouted = records_of(execute(in_kernel, tmp_path, {}))
    assert (said_hello.backend, shouted.backend) == ("native", "native")
    assert said_hello.drift and not shouted.drift
    entries = said_hello.timeline.entries
    assert overridden in [e.text for e in entries if type(e).__name__ == "NoticeEntry"]


def test_replay_on_an_unknown_backend_is_one_line_before_anything_runs(recorded):
    done = replay_command(recorded, "--backend", "nope")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: unknown backend 'nope'; available backends: ")


def test_replay_on_docker_runs_the_local_turns_tools_in_the_sandbox(tmp_path):
    from docker_support import engine_with_image

    engine_with_image()
    where = "echo host=$(cat /proc/sys/kernel/hostname)"  # a sandbox has its own
    with FakeMessagesAPI() as api:
        api.script(replies.tool_use("bash_tool", {"command": where}), replies.text("Found it."))
        notebook = conjure_notebook("%backend local", "Where do you run?")
        env = {"ANTHROPIC_API_KEY": "sk-record", "ANTHROPIC_BASE_URL": api.url}
        execute(notebook, tmp_path, env, extra_arguments=RUN_TOOLS)
    path = tmp_path / "where.ipynb"
    nbformat.write(notebook, path)
    done = replay_command(path, "--backend", "docker", "--strict", "--quiet")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 drifted, on docker (recorded on local)" in done.stdout
    assert f"-host={socket.gethostname()}" in done.stdout and "+host=" in done.stdout
