"""Permissions in real kernels: questions over the stdin channel, modes, rules, headless runs
and replay, against the local Messages API, as a person meets them in JupyterLab.

The harness answers input requests as a frontend does (``run_answering``); ``run`` allows
no stdin, as nbclient and papermill do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from fakeapi import FakeMessagesAPI, replies
from kernel_harness import TURN_MIME, RunningKernel, assert_every_tool_use_answered
from nbclient import NotebookClient

from conjure_kernel.conversation.session_gate import HEADLESS
from conjure_kernel.conversation.turn import ApprovalEntry
from conjure_kernel.notebook.kernelspec import NOTEBOOK_KERNELSPEC

KEY = "sk-test-key-123"


@pytest.fixture(scope="module")
def api():
    with FakeMessagesAPI() as server:
        yield server


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """The kernel's folder: its workspace is ``work``, and ``outside`` is beside it."""
    root = tmp_path_factory.mktemp("perm")
    (root / "work").mkdir()
    (root / "outside").mkdir()
    return root


@pytest.fixture(scope="module")
def kernel(api, home):
    """Unsandboxed, where the local backend asks by default (sandboxed, it runs the calls:
    ``test_the_sandboxed_local_backend_runs_without_asking``)."""
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url}
    with RunningKernel("conjure", cwd=home / "work", env=env) as running:
        assert running.run("%backend local sandbox=off").status == "ok"
        yield running


@pytest.fixture(autouse=True)
def fresh(kernel, api):
    """Each test starts from the configured permissions and an empty script."""
    assert kernel.run("%permissions reset").status == "ok"
    yield
    assert api.pending == 0, "the test left scripted replies unused"


def results_sent(api) -> dict[str, dict]:
    """The tool_result blocks of the last request, by the name of the call they answer."""
    body = api.requests[-1].body
    calls = {
        block["id"]: block["name"]
        for message in body["messages"]
        if message["role"] == "assistant"
        for block in message["content"]
        if block.get("type") == "tool_use"
    }
    last = body["messages"][-1]["content"]
    return {calls[b["tool_use_id"]]: b for b in last if b.get("type") == "tool_result"}


def approvals(result) -> list[ApprovalEntry]:
    return [e for e in result.record().timeline.entries if isinstance(e, ApprovalEntry)]


def test_a_question_answered_no_keeps_the_file_and_tells_the_model_why(api, kernel, home):
    victim = home / "outside" / "victim.txt"
    victim.write_text("keep me\n")
    api.script(
        replies.tool_use("bash_tool", {"command": f"rm {victim}"}), replies.text("I left it.")
    )
    result, prompts = kernel.run_answering("Delete the victim file", ["n: I still need it"])
    assert result.status == "ok", result.error
    [prompt] = prompts
    assert prompt.startswith(f"Allow bash_tool to run `rm {victim}` on the local backend? ")
    assert "y = yes · a = always, allowing bash_tool `rm " in prompt and "n = no" in prompt
    assert victim.read_text() == "keep me\n"
    sent = results_sent(api)["bash_tool"]
    assert (sent["content"], sent["is_error"]) == ("denied by the user: I still need it", True)
    record = result.record()
    assert [tool.state for tool in record.timeline.tools] == ["denied"]
    plain = result.bundles()[-1]["text/plain"]
    assert "· denied (by the person: I still need it)]" in plain


def test_a_question_answered_yes_runs_the_call_without_the_api_key(api, kernel):
    api.script(
        replies.tool_use("bash_tool", {"command": "echo key=$ANTHROPIC_API_KEY"}),
        replies.text("Printed."),
    )
    result, prompts = kernel.run_answering("Print the key", ["y"])
    assert result.status == "ok", result.error
    assert len(prompts) == 1
    assert results_sent(api)["bash_tool"]["content"].startswith("key=\n")
    assert KEY not in json.dumps(result.turn())


def test_always_allows_the_same_command_for_the_rest_of_the_session(api, kernel):
    echo = {"command": "echo again"}
    api.script(
        replies.tool_use("bash_tool", echo), replies.tool_use("bash_tool", echo), replies.text("ok")
    )
    result, prompts = kernel.run_answering("Echo twice", ["a"])
    assert result.status == "ok", result.error
    assert len(prompts) == 1  # the second call ran under the rule the answer added
    reasons = [entry.reason for entry in approvals(result)]
    assert reasons == [
        "by the person, always: bash_tool `echo again` is allowed from now on",
        "by the rule bash_tool(echo again)",
    ]
    assert "allow: bash_tool(echo again)" in kernel.run("%permissions").text()


def test_a_write_outside_the_workspace_is_asked_about(api, kernel, home):
    api.script(
        replies.tool_use("create_file", {"path": "../outside/made.txt", "file_text": "hi\n"}),
        replies.text("Written."),
    )
    result, [prompt] = kernel.run_answering("Write next door", ["y"])
    assert result.status == "ok", result.error
    target = home / "outside" / "made.txt"
    assert f"write {target} on the local backend, outside the workspace {home / 'work'}?" in prompt
    assert target.read_text() == "hi\n"


def test_views_in_the_workspace_run_without_a_question(api, kernel, home):
    (home / "work" / "notes.txt").write_text("alpha\n")
    api.script(replies.tool_use("view", {"path": "notes.txt"}), replies.text("It says alpha."))
    result, prompts = kernel.run_answering("Read my notes", [])
    assert result.status == "ok", result.error
    assert prompts == [] and "alpha" in results_sent(api)["view"]["content"]
    assert approvals(result) == []


def test_read_only_runs_reads_inside_asks_about_reads_outside_and_denies_writes(api, kernel, home):
    victim = home / "outside" / "keep.txt"
    victim.write_text("x")
    (home / "work" / "notes.txt").write_text("mine")
    assert kernel.run("%permissions read-only").status == "ok"
    api.script(
        replies.tool_uses(
            [
                ("view", {"path": "notes.txt"}),
                ("bash_tool", {"command": "ls -a | grep ."}),
                ("bash_tool", {"command": f"cat {victim}"}),
                ("create_file", {"path": "new.txt", "file_text": "x"}),
                ("bash_tool", {"command": f"rm {victim}"}),
            ]
        ),
        replies.text("Some were refused."),
    )
    result, prompts = kernel.run_answering("Try five things", ["n"])
    assert result.status == "ok", result.error
    assert len(prompts) == 1
    assert f"it reads outside the workspace and the skills: {victim}" in prompts[0]
    states = [tool.state for tool in result.record().timeline.tools]
    assert states == ["ok", "ok", "denied", "denied", "denied"]
    assert victim.exists() and not (home / "work" / "new.txt").exists()
    body = api.requests[-1].body["messages"][-1]["content"]
    assert body[3]["content"] == "denied: the permission mode is read-only, and create_file writes"


def test_deny_runs_no_tool(api, kernel, home):
    assert kernel.run("%permissions deny").status == "ok"
    api.script(replies.tool_use("view", {"path": "notes.txt"}), replies.text("Nothing ran."))
    result = kernel.run("Read my notes")
    assert result.status == "ok", result.error
    sent = results_sent(api)["view"]
    assert sent["content"] == "denied: the permission mode is deny, so no tool runs"


def test_an_allow_rule_runs_without_a_question_and_a_deny_rule_wins_over_it(api, kernel):
    shown = kernel.run("%permissions allow=bash_tool(ls*),view(*) deny=bash_tool(ls -R*)").text()
    assert "allow: bash_tool(ls*), view(*)" in shown and "deny: bash_tool(ls -R*)" in shown
    api.script(
        replies.tool_uses(
            [("bash_tool", {"command": "ls -a"}), ("bash_tool", {"command": "ls -R /"})]
        ),
        replies.text("Listed."),
    )
    result, prompts = kernel.run_answering("List files", [])
    assert result.status == "ok", result.error
    assert prompts == []
    allowed, denied = api.requests[-1].body["messages"][-1]["content"]
    assert not allowed["is_error"]
    assert denied["content"] == "denied by the rule bash_tool(ls -R*): this call may not run"


def test_permissions_shows_the_mode_its_origin_and_every_backends_default(kernel, home):
    text = kernel.run("%permissions").text()
    assert text.startswith("permissions: ask (the local backend's default): asks before")
    assert f"workspace: {home / 'work'}" in text
    assert "local auto" in text and "native auto" in text  # local's with its default settings
    assert "tools never see: ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN or %secret variables" in text
    error = kernel.run("%permissions sometimes").error
    assert error.startswith("UsageError: 'sometimes' is not a mode (ask, auto, read-only, deny")


def test_a_skills_allowed_tools_show_in_the_question_and_can_be_trusted(api, kernel, home):
    folder = home / "skills" / "greeter"
    (folder / "scripts").mkdir(parents=True)
    (folder / "SKILL.md").write_text(
        "---\nname: greeter\ndescription: Greets people. Use to greet.\n"
        "allowed-tools: Bash(python3:*) WebFetch\n---\nRun scripts/greet.py NAME.\n"
    )
    (folder / "scripts" / "greet.py").write_text("import sys\nprint(f'Hello, {sys.argv[1]}!')\n")
    assert kernel.run(f"%skills {folder.parent}").status == "ok"
    greet = {"command": f"python3 {folder}/scripts/greet.py Ada"}
    api.script(replies.tool_use("bash_tool", greet), replies.text("Not greeted."))
    _, [prompt] = kernel.run_answering("Greet Ada", ["n"])
    assert "it uses the skill greeter, which pre-approves: Bash(python3:*) WebFetch?" in prompt
    trusted = kernel.run("%permissions trust-skills")
    assert "greeter: no tool here for WebFetch; left out" in trusted.text()
    assert "allow: bash_tool(python3:*)" in trusted.text()
    api.script(replies.tool_use("bash_tool", greet), replies.text("Greeted."))
    _, prompts = kernel.run_answering("Greet Ada now", [])
    assert prompts == [] and "Hello, Ada!" in results_sent(api)["bash_tool"]["content"]


def test_an_interrupt_while_the_question_waits_leaves_a_valid_history(api, kernel):
    api.script(
        replies.tool_uses(
            [("bash_tool", {"command": "echo one"}), ("view", {"path": "/etc/hostname"})]
        )
    )
    msg_id = kernel.client.execute("Do two things", allow_stdin=True)
    request = kernel.client.get_stdin_msg(timeout=30)
    assert request["content"]["prompt"].startswith("Allow bash_tool to run `echo one`")
    kernel.manager.interrupt_kernel()
    result = kernel.wait_for(msg_id, timeout=30)
    assert result.reply["content"]["ename"] == "TurnInterrupted"
    assert result.record().timeline.tools == []  # nothing started
    api.script(replies.text("Back."))
    assert kernel.run("Still there?").status == "ok"
    history = api.requests[-1].body["messages"]
    assert [m["role"] for m in history][-4:] == ["user", "assistant", "user", "user"]
    assert_every_tool_use_answered(history)


# -- headless runs and replay ------------------------------------------------------------------


def conjure_notebook(*sources: str) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = dict(NOTEBOOK_KERNELSPEC)
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    return notebook


def test_a_headless_run_never_waits_it_denies_and_says_so_in_the_cell(tmp_path, monkeypatch):
    target = tmp_path / "outside.txt"
    (tmp_path / "work").mkdir()
    with FakeMessagesAPI() as api:
        api.script(
            replies.tool_use("create_file", {"path": str(target), "file_text": "x"}),
            replies.text("It was refused."),
        )
        notebook = conjure_notebook("%permissions ask", "Write a file outside the workspace")
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        NotebookClient(
            notebook, timeout=60, resources={"metadata": {"path": str(tmp_path / "work")}}
        ).execute()
        sent = api.requests[-1].body["messages"][-1]["content"][0]
    assert not target.exists()
    assert (sent["content"], sent["is_error"]) == (HEADLESS, True)
    [output] = [o for o in notebook.cells[1].outputs if TURN_MIME in o.get("data", {})]
    plain = output["data"]["text/plain"]
    assert f"[approval for create_file {target}: write {target} on the local backend" in plain
    assert "· denied (no one could be asked: a headless run)]" in plain


def test_a_denied_call_stays_denied_on_replay_and_an_approved_one_runs_again(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    with FakeMessagesAPI() as api:
        api.script(
            replies.tool_uses(
                [
                    ("bash_tool", {"command": "touch denied.txt"}),
                    ("bash_tool", {"command": "touch approved.txt"}),
                ]
            ),
            replies.text("One of two."),
        )
        env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url}
        with RunningKernel("conjure", cwd=work, env=env) as kernel:
            assert kernel.run("%permissions ask").status == "ok"
            recorded, prompts = kernel.run_answering("Touch two files", ["n: not that one", "y"])
    assert recorded.status == "ok" and len(prompts) == 2
    assert (work / "approved.txt").exists() and not (work / "denied.txt").exists()
    (work / "approved.txt").unlink()
    notebook = conjure_notebook("%permissions ask", "Touch two files")  # asked as recorded
    notebook.cells[1].outputs = [
        nbformat.v4.new_output("display_data", data=recorded.bundles()[-1])
    ]
    nbformat.write(notebook, work / "session.ipynb")

    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    command = ["replay", "session.ipynb", "--strict", "--output", "out.ipynb"]
    done = subprocess.run(
        [sys.executable, "-m", "conjure_kernel", *command],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "same as recorded" in done.stdout and "errors: 0 cell(s)" in done.stdout
    assert (work / "approved.txt").exists() and not (work / "denied.txt").exists()
    replayed = nbformat.read(work / "out.ipynb", as_version=4)
    [output] = [o for o in replayed.cells[1].outputs if TURN_MIME in o.get("data", {})]
    plain = output["data"]["text/plain"]
    assert "· denied (as recorded: denied when the notebook was recorded)]" in plain
    assert (
        "[approval for bash_tool touch approved.txt · allowed (as recorded: it ran when recorded)]"
        in plain
    )


def test_configuration_sets_the_mode_and_a_change_applies_from_the_next_turn(api, kernel):
    assert kernel.run("%config GuardMagics.permission_mode = 'deny'").status == "ok"
    try:
        assert kernel.run("%permissions").text().startswith("permissions: deny (set for this")
        api.script(replies.tool_use("view", {"path": "notes.txt"}), replies.text("Refused."))
        assert kernel.run("Read my notes").status == "ok"
        assert results_sent(api)["view"]["content"].startswith(
            "denied: the permission mode is deny"
        )
        bad = kernel.run("%config GuardMagics.allow_rules = ['bash_tool(ls']").text()
        assert "allow_rules: 'bash_tool(ls' is not a rule: its pattern has no closing ')'" in bad
        assert kernel.run("%config GuardMagics.allow_rules").text().strip() == "[]"
    finally:
        assert kernel.run("%config GuardMagics.permission_mode = ''").status == "ok"
    assert kernel.run("%permissions").text().startswith("permissions: ask (the local backend's")


def test_the_sandboxed_local_backend_runs_without_asking(api, kernel, home):
    """In the sandbox a command reaches only the workspace and its own /tmp: no question.
    With the network on, the questions come back."""
    try:
        assert "sandbox" in kernel.run("%backend local").text()
        assert (
            kernel.run("%permissions")
            .text()
            .startswith("permissions: auto (the local backend's default)")
        )
        api.script(
            replies.tool_use("bash_tool", {"command": "touch made.txt"}), replies.text("Done.")
        )
        result, prompts = kernel.run_answering("Make a file", [])
        assert result.status == "ok" and prompts == [] and (home / "work" / "made.txt").exists()
        assert kernel.run("%backend local network=on").status == "ok"
        assert kernel.run("%permissions").text().startswith("permissions: ask (the local")
    finally:
        assert kernel.run("%backend local sandbox=off").status == "ok"
