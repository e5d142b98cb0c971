"""The conjure kernel end to end: a real kernel process, the real SDK, a local Messages API."""

from __future__ import annotations

import json
import re
import textwrap
import time
from pathlib import Path

import nbformat
from fakeapi import replies
from kernel_harness import RunningKernel, assert_every_tool_use_answered, tool_results_of


def make_skill(root: Path, name: str = "greeter") -> Path:
    folder = root / name
    (folder / "scripts").mkdir(parents=True)
    (folder / "SKILL.md").write_text(
        f"---\nname: {name}\ndescription: Greets people by name. Use when asked to greet.\n---\n"
        "Run `python3 scripts/greet.py NAME` from this folder.\n"
    )
    (folder / "scripts" / "greet.py").write_text("import sys\nprint(f'Hello, {sys.argv[1]}!')\n")
    return folder


def tool_results(request) -> list[dict]:
    """The tool_result blocks of the last message of a recorded request."""
    last = request.body["messages"][-1]
    return [b for b in last["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]


def test_plain_cell_is_a_chat_message_answered_by_claude(api, kernel):
    api.script(replies.text("Hello! How can I help?"))
    result = kernel.run("Say hello")
    assert result.status == "ok", result.error
    turn = result.turn()
    assert turn["message"] == "Say hello"
    assert result.record().answer == "Hello! How can I help?"
    assert turn["stop_reason"] == "end_turn"
    body = api.requests[0].body
    assert body["stream"] is True
    assert body["messages"][-1]["content"][-1]["text"] == "Say hello"
    assert api.requests[0].headers["authorization"] == "Bearer sk-test-key-123"
    assert {t["name"] for t in body["tools"]} == {"view", "bash_tool", "create_file", "str_replace"}


def test_saved_output_has_fallbacks_and_never_the_api_key(api, kernel):
    api.script(
        replies.tool_use("bash_tool", {"command": "echo key=$ANTHROPIC_API_KEY"}),
        replies.text("done"),
    )
    result = kernel.run("Print the key sk-test-key-123")
    final = [b for b in result.bundles() if "application/vnd.conjure.turn.v1+json" in b][-1]
    assert {"text/markdown", "text/html", "text/plain"} <= set(final)
    assert "sk-test-key-123" not in json.dumps(final)
    record = final["application/vnd.conjure.turn.v1+json"]
    assert record["message"] == "Print the key [secret ANTHROPIC_API_KEY]"
    assert tool_results(api.requests[1])[0]["content"].startswith("key=\n")  # tools never see it


def test_secret_variables_are_hidden_from_tools_from_the_moment_they_are_marked(api, kernel):
    assert kernel.run("%%python\nimport os\nos.environ['MY_TOKEN'] = 'tok-12345'").status == "ok"
    command = {"command": "echo token=$MY_TOKEN"}
    api.script(replies.tool_use("bash_tool", command), replies.text("seen"))
    assert kernel.run("Show the token").status == "ok"
    assert tool_results(api.requests[-1])[0]["content"].startswith("token=tok-12345")
    assert kernel.run("%secret MY_TOKEN").status == "ok"
    api.script(replies.tool_use("bash_tool", command), replies.text("hidden"))
    result = kernel.run("Show the token again")
    assert result.status == "ok", result.error
    assert tool_results(api.requests[-1])[0]["content"].startswith("token=\n")


def test_skill_is_found_through_the_system_prompt_and_its_script_runs(api, kernel, tmp_path):
    skill = make_skill(tmp_path / "skills")

    def respond(body):
        step = sum(1 for m in body["messages"] if m["role"] == "assistant")
        system = "".join(block["text"] for block in body["system"])
        location = re.search(r"<location>(.*?)</location>", system).group(1)
        if step == 0:
            return replies.tool_use("view", {"path": location})
        if step == 1:
            folder = str(Path(location).parent)
            return replies.tool_use(
                "bash_tool", {"command": f"cd {folder} && python3 scripts/greet.py Ada"}
            )
        return replies.text("I greeted Ada.")

    api.responder = respond
    assert kernel.run(f"%skills {skill.parent}").status == "ok"
    result = kernel.run("Greet Ada using your skills")
    assert result.status == "ok", result.error
    assert "<name>greeter</name>" in "".join(b["text"] for b in api.requests[0].body["system"])
    assert "Run `python3 scripts/greet.py NAME`" in tool_results(api.requests[1])[0]["content"]
    assert "Hello, Ada!" in tool_results(api.requests[2])[0]["content"]
    assert [call.name for call, _ in result.record().tool_calls] == ["view", "bash_tool"]


def test_create_replace_and_view_a_file(api, kernel, tmp_path):
    api.script(
        replies.tool_use("create_file", {"path": "notes.txt", "file_text": "alpha\nbeta\n"}),
        replies.tool_use(
            "str_replace", {"path": "notes.txt", "old_str": "beta", "new_str": "gamma"}
        ),
        replies.tool_use("view", {"path": "notes.txt"}),
        replies.text("The file now says alpha and gamma."),
    )
    result = kernel.run("Make a notes file, change beta to gamma, show it")
    assert result.status == "ok", result.error
    assert (tmp_path / "notes.txt").read_text() == "alpha\ngamma\n"
    assert "gamma" in tool_results(api.requests[3])[0]["content"]
    assert not any(r["is_error"] for req in api.requests[1:] for r in tool_results(req))


def test_failing_command_and_unknown_tool_go_back_to_the_model_as_errors(api, kernel):
    api.script(
        replies.tool_uses([("bash_tool", {"command": "exit 3"}), ("teleport", {"where": "mars"})]),
        replies.text("Both failed."),
    )
    result = kernel.run("Try two things")
    assert result.status == "ok", result.error
    failing, unknown = tool_results(api.requests[1])
    assert failing["is_error"] and "exit code: 3" in failing["content"]
    assert unknown["is_error"] and "unknown tool 'teleport'" in unknown["content"]


def test_runaway_tool_loop_stops_at_the_limit_and_the_next_cell_works(api, kernel):
    api.responder = lambda body: replies.tool_use("bash_tool", {"command": "echo again"})
    kernel.run("%config ConjureMagics.max_iterations = 3")
    kernel.run("%reset")
    result = kernel.run("Loop forever")
    assert result.status == "error"
    assert result.reply["content"]["ename"] == "TurnLimitReached"
    assert len(api.requests) == 3
    api.responder = None
    api.script(replies.text("Fine now."))
    follow_up = kernel.run("Are you still there?")
    assert follow_up.status == "ok", follow_up.error
    history = api.requests[-1].body["messages"]
    assert_every_tool_use_answered(history)


def test_overloaded_529_is_retried_by_the_sdk(api, kernel):
    api.script(
        replies.error(529, "overloaded_error", "Overloaded", retry_after=0),
        replies.error(529, "overloaded_error", "Overloaded", retry_after=0),
        replies.text("Made it."),
    )
    result = kernel.run("Hello through the storm")
    assert result.status == "ok", result.error
    assert result.record().answer == "Made it."
    assert len(api.requests) == 3


def test_api_error_mid_stream_fails_the_cell_and_the_next_cell_works(api, kernel):
    api.script(
        replies.stream_error("overloaded_error", after_text="Partial"), replies.text("Recovered.")
    )
    result = kernel.run("First try")
    assert result.status == "error"
    assert result.reply["content"]["ename"] == "ModelError"
    assert "overloaded_error" in result.reply["content"]["evalue"]
    assert "Traceback" not in "\n".join(result.reply["content"]["traceback"])
    assert kernel.run("Second try").status == "ok"
    assert api.requests[-1].body["messages"][0]["content"][-1]["text"] == "Second try"


def test_stream_without_stop_reason_is_reported_incomplete(api, kernel):
    api.script(replies.truncated("I was saying"))
    result = kernel.run("Tell me a long story")
    assert result.status == "error"
    assert result.reply["content"]["ename"] == "IncompleteResponse"


def test_unknown_backend_and_bad_skills_path_are_clear_errors(kernel, tmp_path):
    result = kernel.run("%backend nope")
    assert result.status == "error"
    assert result.reply["content"]["ename"] == "UsageError"
    assert (
        "local" in result.reply["content"]["evalue"]
        and "native" in result.reply["content"]["evalue"]
    )
    missing = kernel.run(f"%skills {tmp_path / 'no-such-folder'}")
    assert missing.status == "error"
    assert "no-such-folder" in missing.reply["content"]["evalue"]
    broken = tmp_path / "broken" / "bad-skill"
    broken.mkdir(parents=True)
    (broken / "SKILL.md").write_text("---\nname: bad-skill\n---\nbody\n")
    invalid = kernel.run(f"%skills {broken.parent}")
    assert invalid.status == "error"
    assert "SKILL.md" in invalid.reply["content"]["evalue"]
    assert "description" in invalid.reply["content"]["evalue"]
    assert len(invalid.reply["content"]["traceback"]) <= 2


def test_interrupt_mid_tool_returns_promptly_and_leaves_history_valid(api, kernel):
    api.script(replies.tool_use("bash_tool", {"command": "sleep 120"}))
    msg_id = kernel.start("Wait two minutes")
    wait_for_running_tool(kernel)
    kernel.manager.interrupt_kernel()
    result = kernel.wait_for(msg_id, timeout=30)
    assert result.status == "error"
    assert result.reply["content"]["ename"] == "TurnInterrupted"
    api.script(replies.text("Back."))
    assert kernel.run("Still there?").status == "ok"
    history = api.requests[-1].body["messages"]
    assert_every_tool_use_answered(history)
    assert any("interrupted" in r["content"] for m in history for r in tool_results_of(m))


def test_a_second_interrupt_while_the_first_stops_a_tool_still_leaves_a_valid_session(api, kernel):
    """The tool ignores SIGTERM, so stopping it takes the kill grace period; a second ■
    lands inside it. The cell must still return only after the history is repaired."""
    api.script(replies.tool_use("bash_tool", {"command": "trap '' TERM; sleep 120"}))
    msg_id = kernel.start("Wait, stubbornly")
    wait_for_running_tool(kernel)
    kernel.manager.interrupt_kernel()
    time.sleep(0.3)  # inside the 1 s grace between SIGTERM and SIGKILL
    kernel.manager.interrupt_kernel()
    result = kernel.wait_for(msg_id, timeout=30)
    assert result.reply["content"]["ename"] == "TurnInterrupted"
    record = result.record()  # the turn was saved, not left "running…"
    assert [tool.state for tool in record.timeline.tools] == ["interrupted"]
    api.script(replies.text("Back."))
    assert kernel.run("Still there?").status == "ok"
    assert_every_tool_use_answered(api.requests[-1].body["messages"])


def test_python_cells_run_in_the_kernel_namespace(kernel):
    assert kernel.run("%%python\nanswer = 6 * 7").status == "ok"
    result = kernel.run("%%python\nprint(answer)")
    assert result.status == "ok"
    assert result.text().strip() == "42"


def test_native_skill_answers_through_the_native_backend(api, kernel):
    code = textwrap.dedent(
        """\
        %%python
        from conjure_kernel import NativeSkill

        class Inventory(NativeSkill):
            name = "inventory"
            description = "Counts items in the user's live inventory."
            def execute(self, command, context):
                return f"{command}: {len(stock)} items"

        stock = ["apple", "pear", "fig"]
        """
    )
    assert kernel.run(code).status == "ok"
    switched = kernel.run("%backend native")
    assert switched.status == "ok", switched.error
    api.script(
        replies.tool_use("inventory_execute", {"command": "count"}), replies.text("3 items.")
    )
    result = kernel.run("How many items?")
    assert result.status == "ok", result.error
    assert tool_results(api.requests[-1])[0]["content"] == "count: 3 items"
    assert [t["name"] for t in api.requests[-1].body["tools"]] == ["inventory_execute"]


def test_missing_api_key_says_how_to_set_one(tmp_path):
    with RunningKernel("conjure", cwd=tmp_path, env={}) as kernel:
        result = kernel.run("Hello?")
    assert result.status == "error"
    assert result.reply["content"]["ename"] == "MissingApiKey"
    assert "ANTHROPIC_API_KEY" in "\n".join(result.reply["content"]["traceback"])


def test_conjure_magic_in_a_plain_python_kernel(api, tmp_path):
    env = {"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": api.url}
    api.script(replies.text("Hi from a python3 kernel."))
    with RunningKernel("python3", cwd=tmp_path, env=env) as kernel:
        assert kernel.run("%load_ext conjure_kernel").status == "ok"
        result = kernel.run("%%conjure\nHello")
        assert result.status == "ok", result.error
        assert result.record().answer == "Hi from a python3 kernel."
        assert kernel.run("1 + 1").reply["content"]["status"] == "ok"


def wait_for_running_tool(kernel: RunningKernel, timeout: float = 30) -> None:
    """Block until the live view shows a running bash_tool call."""
    while True:
        message = kernel.client.get_iopub_msg(timeout=timeout)
        html = message["content"].get("data", {}).get("text/html", "")
        if "bash_tool" in html and "running" in html:
            return


def test_interrupt_while_the_answer_streams_stops_it_and_the_next_cell_works(api, kernel):
    words = " ".join(f"word{i}" for i in range(400))
    api.script(replies.slow(replies.text(words), 0.5, between_events=True))
    msg_id = kernel.start("Tell me a very long story")
    while "word" not in kernel.client.get_iopub_msg(timeout=30)["content"].get("data", {}).get(
        "text/html", ""
    ):
        pass
    kernel.manager.interrupt_kernel()
    result = kernel.wait_for(msg_id, timeout=30)
    assert result.status == "error"
    assert result.reply["content"]["ename"] == "TurnInterrupted"
    api.script(replies.text("Short one."))
    follow_up = kernel.run("A short story then")
    assert follow_up.status == "ok", follow_up.error
    assert [m["role"] for m in api.requests[-1].body["messages"]] == ["user"]


def test_environment_sets_model_backend_and_skills_at_start(api, tmp_path):
    skill = make_skill(tmp_path / "env-skills", "env-greeter")
    env = {
        "ANTHROPIC_API_KEY": "sk-env",
        "ANTHROPIC_BASE_URL": api.url,
        "CONJURE_MODEL": "claude-env-model",
        "CONJURE_BACKEND": "local",
        "CONJURE_SKILLS_PATH": str(skill.parent),
    }
    api.script(replies.text("ok"))
    with RunningKernel("conjure", cwd=tmp_path, env=env) as kernel:
        assert "claude-env-model" in kernel.run("%model").text()
        assert "env-greeter" in kernel.run("%skills").text()
        assert kernel.run("Hi").status == "ok"
    body = api.requests_to("POST", "/v1/messages")[0].body
    assert body["model"] == "claude-env-model"
    assert "<name>env-greeter</name>" in body["system"][0]["text"]


def test_edited_cell_under_replay_with_a_key_offers_to_record_afresh(api, kernel, tmp_path):
    api.script(replies.text("Recorded answer."))
    first = kernel.run("The original question")
    notebook = tmp_path / "session.ipynb"
    saved = nbformat.v4.new_notebook()
    saved.cells = [
        nbformat.v4.new_code_cell(
            "The original question",
            outputs=[nbformat.v4.new_output("display_data", data=first.bundles()[-1])],
        )
    ]
    nbformat.write(saved, notebook)
    assert kernel.run("%replay session.ipynb").status == "ok"
    replayed = kernel.run("The original question")
    assert replayed.status == "ok" and replayed.record().answer == "Recorded answer."
    edited = kernel.run("The edited question")
    assert edited.reply["content"]["ename"] == "RecordingMismatch"
    assert "an API key is set: run %replay off" in "\n".join(edited.reply["content"]["traceback"])
    assert len(api.requests) == 1  # replay never called the API
