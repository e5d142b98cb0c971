"""Approvals answered with the widget trace's buttons, in real kernels, while the turn waits.

The client opens the widget manager's control comm as JupyterLab does, reads the widgets
the kernel opens from iopub, and clicks and types as the frontend sends them
(``tests/widget_frontend.py``): to the main shell, or to a subshell as JupyterLab 4.4
and later do. Cells run with no stdin allowed, so an answer can only come from a
button: a question asked on stdin would be denied as a headless run.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from pathlib import Path

import ipywidgets as widgets
import pytest
from fakeapi import FakeMessagesAPI, replies
from kernel_harness import (
    CellResult,
    RunningKernel,
    assert_every_tool_use_answered,
    tool_results_of,
)
from test_widgets import displayed, find  # noqa: F401 (displayed is a fixture)
from view_feed import ViewFeed
from widget_frontend import (
    WidgetModels,
    click,
    create_subshell,
    open_widget_manager,
    type_into,
)

from conjure_kernel.conversation.rules import Rule
from conjure_kernel.conversation.session_gate import ApprovalRequest
from conjure_kernel.conversation.turn import ApprovalEntry
from conjure_kernel.events import ApprovalAsked, TurnStarted
from conjure_kernel.notebook.widgets import TraceWidget
from conjure_kernel.tools.values import ToolCall

KEY = "sk-test-key-123"
SIX_TIMES_SEVEN = {"command": "echo $((6*7))"}

Act = Callable[[RunningKernel, WidgetModels], None]


@pytest.fixture(scope="module")
def api():
    with FakeMessagesAPI() as server:
        yield server


@pytest.fixture(scope="module")
def kernel(api, tmp_path_factory):
    """Unsandboxed, where the local backend asks before each command."""
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url}
    with RunningKernel("conjure", cwd=tmp_path_factory.mktemp("ask"), env=env) as running:
        open_widget_manager(running.client)
        assert running.run("%backend local sandbox=off").status == "ok"
        yield running


@pytest.fixture(autouse=True)
def fresh(kernel, api):
    assert kernel.run("%permissions reset").status == "ok"
    yield
    assert api.pending == 0, "the test left scripted replies unused"


def run_acting(kernel: RunningKernel, code: str, *acts: Act) -> tuple[CellResult, WidgetModels]:
    """Run ``code``; as each question's buttons show, do the next of ``acts`` to them."""
    client = kernel.client
    msg_id = client.execute(code, allow_stdin=False)
    models, messages, answered = WidgetModels(), [], set()
    pending = list(acts)
    while True:
        try:
            message = client.get_iopub_msg(timeout=120)
        except queue.Empty:
            raise AssertionError(f"the cell never finished; {len(pending)} act(s) left") from None
        models.follow(message)
        shown = [
            button
            for button in models.open_ones("ButtonModel", description="Allow once")
            if button not in answered and models.shown_in(button, "conjure-trace")
        ]
        if shown and pending:
            answered.add(shown[0])
            pending.pop(0)(kernel, models)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            break
        messages.append(message)
    while (reply := client.get_shell_msg(timeout=60))["parent_header"].get("msg_id") != msg_id:
        pass
    assert not pending, "fewer questions were shown than expected"
    return CellResult(reply, messages), models


def clicking(description: str, *, subshell: bool = False) -> Act:
    def act(kernel: RunningKernel, models: WidgetModels) -> None:
        (button,) = models.open_ones("ButtonModel", description=description)
        on = create_subshell(kernel.client) if subshell else None
        click(kernel.client, button, subshell_id=on)

    return act


def denying_because(reason: str) -> Act:
    def act(kernel: RunningKernel, models: WidgetModels) -> None:
        (box,) = models.open_ones("TextModel")
        (deny,) = models.open_ones("ButtonModel", description="Deny")
        type_into(kernel.client, box, reason)
        click(kernel.client, deny)

    return act


def interrupting(kernel: RunningKernel, models: WidgetModels) -> None:
    kernel.manager.interrupt_kernel()


def approval_of(result: CellResult) -> ApprovalEntry:
    (entry,) = [e for e in result.record().timeline.entries if isinstance(e, ApprovalEntry)]
    return entry


def sent_result(api: FakeMessagesAPI) -> dict:
    (result,) = tool_results_of(api.requests[-1].body["messages"][-1])
    return result


@pytest.mark.parametrize("subshell", [False, True], ids=["main shell", "jupyterlab subshell"])
def test_allow_once_runs_the_call_while_the_turn_waits(api, kernel, subshell):
    api.script(replies.tool_use("bash_tool", SIX_TIMES_SEVEN), replies.text("42."))
    result, models = run_acting(kernel, "compute", clicking("Allow once", subshell=subshell))
    assert result.status == "ok", result.error
    assert "42" in sent_result(api)["content"]
    assert (approval_of(result).allowed, approval_of(result).reason) == (True, "by the person")
    assert not models.open_ones("ButtonModel"), "the buttons go once answered"


def test_always_adds_the_rule_the_stdin_answer_adds(api, kernel):
    api.script(replies.tool_use("bash_tool", SIX_TIMES_SEVEN), replies.text("42."))
    result, _ = run_acting(kernel, "compute", clicking("Always"))
    assert approval_of(result).reason == (
        "by the person, always: bash_tool `echo $((6*7))` is allowed from now on"
    )
    shown = kernel.run("%permissions").text()
    assert "allow: bash_tool(echo $((6\\*7)))" in shown  # the rule: its * is no wildcard
    api.script(replies.tool_use("bash_tool", SIX_TIMES_SEVEN), replies.text("Again 42."))
    again = kernel.run("compute again")  # no stdin, no buttons: the rule allows it
    assert "42" in sent_result(api)["content"]
    assert approval_of(again).reason == "by the rule bash_tool(echo $((6\\*7)))"
    assert not approval_of(again).prompt, "allowed without a question"


def test_deny_with_a_reason_tells_the_model_why(api, kernel, tmp_path):
    api.script(replies.tool_use("bash_tool", SIX_TIMES_SEVEN), replies.text("Understood."))
    result, _ = run_acting(kernel, "compute", denying_because("use Python instead"))
    assert sent_result(api)["is_error"]
    assert sent_result(api)["content"] == "denied by the user: use Python instead"
    assert approval_of(result).reason == "by the person: use Python instead"


def test_each_question_of_a_step_gets_its_own_buttons(api, kernel):
    api.script(
        replies.tool_uses(
            [("bash_tool", {"command": "echo one"}), ("bash_tool", {"command": "echo two"})]
        ),
        replies.text("Done."),
    )
    result, models = run_acting(
        kernel, "Do two things", clicking("Allow once"), denying_because("enough")
    )
    decisions = [
        (e.allowed, e.reason)
        for e in result.record().timeline.entries
        if isinstance(e, ApprovalEntry)
    ]
    assert decisions == [(True, "by the person"), (False, "by the person: enough")]
    assert not models.open_ones("ButtonModel")


def test_an_interrupt_while_the_buttons_wait_leaves_a_valid_history(api, kernel):
    api.script(replies.tool_use("bash_tool", SIX_TIMES_SEVEN))
    result, models = run_acting(kernel, "compute", interrupting)
    assert result.reply["content"]["ename"] == "TurnInterrupted"
    assert result.record().timeline.tools == []  # nothing started
    assert not models.open_ones("ButtonModel"), "the buttons go with the question"
    api.script(replies.text("Back."))
    assert kernel.run("Still there?").status == "ok"
    assert_every_tool_use_answered(api.requests[-1].body["messages"])


def test_without_a_widget_manager_the_question_is_asked_on_stdin(api, tmp_path: Path):
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url}
    with RunningKernel("conjure", cwd=tmp_path, env=env) as plain:
        assert plain.run("%backend local sandbox=off").status == "ok"
        api.script(replies.tool_use("bash_tool", SIX_TIMES_SEVEN), replies.text("42."))
        result, prompts = plain.run_answering("compute", ["y"])
    assert "42" in sent_result(api)["content"]
    assert not [m for m in result.messages if m["msg_type"] == "comm_open"]
    assert prompts == [
        "Allow bash_tool to run `echo $((6*7))` on the local backend? y = yes · a = always, "
        "allowing bash_tool `echo $((6*7))` · n = no (n: REASON tells Claude why) "
    ]


@pytest.mark.usefixtures("displayed")  # the trace's display calls are kept, not sent
def test_where_a_click_cannot_reach_the_running_cell_no_buttons_show():
    """Outside a kernel with subshells (here: none at all) the trace leaves the question
    to the stdin channel rather than show buttons that would never answer."""
    call = ToolCall("t1", "bash_tool", SIX_TIMES_SEVEN)
    trace = TraceWidget(str)
    tell = ViewFeed(trace)
    tell(TurnStarted("compute", "local", "claude-test"))
    tell(ApprovalAsked(call, "run `echo $((6*7))` on the local backend"))
    request = ApprovalRequest(call, "", Rule("bash_tool", "echo"), "bash_tool `echo`")
    assert trace.ask(request) is None
    assert not find(trace.widget, widgets.Button)
