"""The question's one line and how an answer reads, without a kernel."""

from __future__ import annotations

import pytest

from conjure_kernel.conversation.rules import Rule
from conjure_kernel.conversation.session_gate import Approval, ApprovalRequest
from conjure_kernel.notebook.guard_magics import parse_answer, prompt_line
from conjure_kernel.tools.values import ToolCall


@pytest.mark.parametrize(
    ("typed", "approval"),
    [
        ("y", Approval(True)),
        (" Yes ", Approval(True)),
        ("a", Approval(True, always=True)),
        ("always", Approval(True, always=True)),
        ("n", Approval(False)),
        ("no", Approval(False)),
        ("n: keep my notes", Approval(False, reason="keep my notes")),
        ("No, the build is mine", Approval(False, reason="the build is mine")),
        ("nope, not today", Approval(False, reason="nope, not today")),
        ("", Approval(False)),  # an empty answer is not a yes
        ("maybe later", Approval(False, reason="maybe later")),
    ],
)
def test_an_answer_is_yes_always_or_no_with_its_reason(typed, approval):
    assert parse_answer(typed) == approval


def test_the_question_names_the_tool_what_it_does_the_backend_and_the_choices():
    call = ToolCall("t1", "bash_tool", {"command": "rm -rf build"})
    request = ApprovalRequest(
        call,
        "run `rm -rf build` on the local backend",
        Rule("bash_tool", "rm -rf build"),
        "bash_tool `rm -rf build`",
    )
    assert prompt_line(request) == (
        "Allow bash_tool to run `rm -rf build` on the local backend? y = yes · a = always, "
        "allowing bash_tool `rm -rf build` · n = no (n: REASON tells Claude why) "
    )
