"""Permissions: the pure decision on a call, and the gate that asks, remembers and replays."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from conjure_kernel.backends.gate import Verdict
from conjure_kernel.conversation.permissions import Permissions, decide, rules_from_allowed_tools
from conjure_kernel.conversation.places import Places
from conjure_kernel.conversation.rules import Rule
from conjure_kernel.conversation.session_gate import (
    HEADLESS,
    Approval,
    ApprovalRequest,
    SessionGate,
)
from conjure_kernel.skills.discovery import load_skill
from conjure_kernel.tools.values import ToolCall


@pytest.fixture
def places(tmp_path) -> Places:
    workspace = tmp_path / "work"
    workspace.mkdir()
    skill = tmp_path / "skills" / "greeter"
    skill.mkdir(parents=True)
    return Places.of({"workdir": str(workspace), "skill:greeter": str(skill)})


def call(name: str, **arguments: object) -> ToolCall:
    return ToolCall(f"t-{name}", name, dict(arguments))


def verdict(mode: str, the_call: ToolCall, places: Places, **rules: list[str]) -> Verdict:
    permissions = Permissions.parse(mode, rules.get("allow", ()), rules.get("deny", ()))
    return decide(the_call, mode, permissions, places, "local")  # type: ignore[arg-type]


def test_ask_runs_views_in_the_workspace_and_the_skills_folders_without_asking(places):
    assert verdict("ask", call("view", path="notes.txt"), places).allowed is True
    skill_md = os.path.join(places.skills[0].root, "SKILL.md")
    assert verdict("ask", call("view", path=skill_md), places).allowed is True


@pytest.mark.parametrize(
    ("the_call", "question"),
    [
        (
            call("view", path="/etc/passwd"),
            "read /etc/passwd on the local backend, outside the workspace",
        ),
        (call("create_file", path="../../x", file_text="x"), "write "),
        (call("create_file", path="notes.txt", file_text="x"), "write "),
        (call("str_replace", path="a.txt", old_str="a", new_str="b"), "edit "),
        (call("bash_tool", command="rm -rf build"), "run `rm -rf build` on the local backend"),
        (call("inventory_execute", command="count"), 'run with {"command": "count"} on the local'),
    ],
)
def test_ask_asks_before_commands_writes_and_reads_outside(places, the_call, question):
    decided = verdict("ask", the_call, places)
    assert decided.allowed is None
    assert question in decided.prompt


def test_a_write_outside_the_workspace_says_so_and_one_inside_does_not(places):
    outside = verdict("ask", call("create_file", path="../../x", file_text="x"), places).prompt
    inside = verdict("ask", call("create_file", path="notes.txt", file_text="x"), places).prompt
    assert f"outside the workspace {places.workdir}" in outside
    assert (
        "outside the workspace" not in inside
        and os.path.join(places.workdir, "notes.txt") in inside
    )


def test_a_symbolic_link_out_of_the_workspace_counts_as_outside(places, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", Path(places.workdir) / "link")
    assert verdict("ask", call("view", path="link/secret"), places).allowed is None
    allowing = {"allow": ["create_file(**)"]}
    assert verdict("ask", call("create_file", path="inside.txt"), places, **allowing).allowed
    escape = call("create_file", path="link/x", file_text="x")
    assert verdict("ask", escape, places, **allowing).allowed is None


def test_an_allow_rule_runs_the_call_and_names_itself(places):
    decided = verdict(
        "ask", call("bash_tool", command="git status -s"), places, allow=["bash_tool(git status*)"]
    )
    assert (decided.allowed, decided.reason, decided.fresh_shell) == (
        True,
        "by the rule bash_tool(git status*)",
        True,
    )


def test_deny_rules_win_over_allow_rules_in_every_mode(places):
    rm = call("bash_tool", command="rm -rf build")
    for mode in ("ask", "auto", "read-only"):
        decided = verdict(mode, rm, places, allow=["bash_tool"], deny=["bash_tool(rm:*)"])
        assert decided.allowed is False, mode
        assert decided.message == "denied by the rule bash_tool(rm:*): this call may not run"


def test_auto_asks_about_a_command_its_deny_rules_cannot_see_through(places):
    hidden = verdict(
        "auto", call("bash_tool", command='eval "$X"'), places, deny=["bash_tool(rm:*)"]
    )
    assert hidden.allowed is None and "the rules cannot see all it runs" in hidden.prompt
    assert verdict("auto", call("bash_tool", command='eval "$X"'), places) == Verdict(True)


def test_auto_runs_everything_and_deny_runs_nothing(places):
    rm = call("bash_tool", command="rm -rf build")
    assert verdict("auto", rm, places) == Verdict(True)
    denied = verdict("deny", call("view", path="a.txt"), places, allow=["view"])
    assert denied.allowed is False and "the permission mode is deny" in denied.message


@pytest.mark.parametrize(
    ("the_call", "allowed"),
    [
        (call("view", path="a.txt"), True),
        (call("bash_tool", command="ls -la | grep py"), True),
        (call("bash_tool", command="find . -name '*.py' -exec grep -l main {} +"), True),
        (call("bash_tool", command="git status"), False),  # git runs configured programs
        (call("bash_tool", command="find . -delete"), False),
        (call("bash_tool", command="ls #'\ntouch x #'"), False),
        (call("bash_tool", command="ls > listing.txt"), False),
        (call("bash_tool", command="rm x"), False),
        (call("create_file", path="a.txt", file_text="x"), False),
        (call("str_replace", path="a.txt", old_str="a", new_str="b"), False),
        (call("inventory_execute", command="count"), False),
    ],
)
def test_read_only_runs_reads_and_denies_the_rest_without_asking(places, the_call, allowed):
    decided = verdict("read-only", the_call, places)
    assert decided.allowed is allowed
    if not allowed:
        assert decided.message.startswith("denied: the permission mode is read-only")


def test_read_only_denies_writes_even_with_an_allow_rule(places):
    write = call("create_file", path="a.txt", file_text="x")
    assert verdict("read-only", write, places, allow=["create_file"]).allowed is False
    cleanup = call("bash_tool", command="make clean")
    assert verdict("read-only", cleanup, places, allow=["bash_tool(make clean)"]).allowed


def test_the_question_names_a_skills_allowed_tools_when_the_call_runs_its_files(tmp_path):
    folder = tmp_path / "skills" / "greeter"
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(
        "---\nname: greeter\ndescription: Greets.\nallowed-tools: Bash(python3:*) Read\n---\nBody\n"
    )
    skill = load_skill(folder)
    places = Places.of({"workdir": str(tmp_path), "skill:greeter": str(folder)}, [skill])
    command = call("bash_tool", command=f"cd {folder} && python3 scripts/greet.py Ada")
    prompt = verdict("ask", command, places).prompt
    assert prompt.endswith("it uses the skill greeter, which pre-approves: Bash(python3:*) Read")
    rules, unknown = rules_from_allowed_tools(skill)
    assert rules == [Rule("bash_tool", "python3:*"), Rule("view")] and unknown == []


def test_allowed_tools_without_a_tool_here_are_left_out(tmp_path):
    (tmp_path / "SKILL.md").write_text(
        f"---\nname: {tmp_path.name}\ndescription: d\nallowed-tools: Bash(git:*) WebFetch Edit\n---\n"
    )
    rules, unknown = rules_from_allowed_tools(load_skill(tmp_path))
    assert rules == [Rule("bash_tool", "git:*"), Rule("str_replace")] and unknown == ["WebFetch"]


# -- the gate --------------------------------------------------------------------------------


ASK = Permissions("ask")


def gate(
    places: Places,
    answers: list[Approval] | None,
    permissions: Permissions = ASK,
    **kwargs: object,
) -> SessionGate:
    """A gate whose person gives ``answers`` in turn (None: no one can be asked)."""
    asked: list[ApprovalRequest] = []

    async def asker(request: ApprovalRequest) -> Approval:
        asked.append(request)
        assert answers, f"unexpected question {request.question!r}"
        return answers.pop(0)

    made = SessionGate(
        permissions, "ask", places, "local", asker if answers is not None else None, **kwargs
    )
    made.asked = asked  # type: ignore[attr-defined]
    return made


def run_through(the_gate: SessionGate, the_call: ToolCall) -> Verdict:
    """What the loop does: check, and ask when the check says so."""
    checked = the_gate.check(the_call)
    if checked.allowed is None:
        return asyncio.run(the_gate.ask(the_call, checked))
    return checked


RM = call("bash_tool", command="rm notes.txt")


def test_no_one_to_ask_denies_at_once_and_says_so(places):
    decided = run_through(gate(places, None), RM)
    assert decided == Verdict(False, "no one could be asked: a headless run", HEADLESS)
    headless = run_through(gate(places, [Approval(False, asked=False)]), RM)
    assert headless.message == HEADLESS


def test_a_no_reaches_the_model_with_its_reason(places):
    decided = run_through(gate(places, [Approval(False, reason="keep my notes")]), RM)
    assert decided.allowed is False
    assert decided.message == "denied by the user: keep my notes"
    assert decided.reason == "by the person: keep my notes"
    assert run_through(gate(places, [Approval(False)]), RM).message == "denied by the user"


def test_always_allows_the_same_call_from_then_on_and_tells_the_session(places):
    remembered: list[Rule] = []
    the_gate = gate(places, [Approval(True, always=True)], remember=remembered.append)
    first = run_through(the_gate, RM)
    assert first.allowed and "bash_tool `rm notes.txt` is allowed from now on" in first.reason
    assert remembered == [Rule("bash_tool", "rm notes.txt")]
    again = run_through(the_gate, ToolCall("t2", "bash_tool", {"command": "rm notes.txt"}))
    assert (again.allowed, again.reason, again.fresh_shell) == (
        True,
        "by the rule bash_tool(rm notes.txt)",
        True,
    )
    other = run_through(gate(places, [Approval(True)], permissions=the_gate.permissions), RM)
    assert other.allowed  # the rule went with the permissions
    assert len(the_gate.asked) == 1  # type: ignore[attr-defined]


def test_always_for_a_call_without_input_allows_the_tool_whatever_it_is_given(places):
    """A question about a whole MCP server on the hosted backend names no input: "always"
    allows the server's tools, not only calls with an empty input."""
    remembered: list[Rule] = []
    the_gate = gate(places, [Approval(True, always=True)], remember=remembered.append)
    probe = ToolCall("mcp_server_web", "mcp__web__*", {})
    assert "mcp__web__* is allowed from now on" in run_through(the_gate, probe).reason
    assert remembered == [Rule("mcp__web__*")]
    later = ToolCall("t3", "mcp__web__shout", {"text": "hi"})
    assert run_through(gate(places, [], permissions=the_gate.permissions), later).allowed


def test_a_question_that_fails_denies_the_call_without_ending_the_turn(places):
    async def broken(request: ApprovalRequest) -> Approval:
        raise OSError("the frontend went away")

    the_gate = SessionGate(Permissions("ask"), "ask", places, "local", broken)
    decided = run_through(the_gate, RM)
    assert decided.allowed is False and "OSError: the frontend went away" in decided.reason


def test_replay_keeps_a_recorded_denial_and_reruns_what_ran_without_asking(places):
    recorded = {"t-denied": (False, "denied by the user: keep it"), "t-ran": (True, "ok")}
    the_gate = gate(places, [], recorded=recorded)
    denied = run_through(the_gate, ToolCall("t-denied", "bash_tool", {"command": "rm x"}))
    assert denied.allowed is False and denied.message == "denied by the user: keep it"
    ran = run_through(the_gate, ToolCall("t-ran", "bash_tool", {"command": "rm y"}))
    assert (ran.allowed, ran.reason, ran.fresh_shell) == (
        True,
        "as recorded: it ran when recorded",
        True,
    )
    auto = SessionGate(Permissions("auto"), "auto", places, "local", recorded=recorded)
    assert run_through(auto, ToolCall("t-denied", "view", {"path": "a"})).allowed is False


def test_on_replay_a_deny_rule_still_wins_over_what_ran(places):
    recorded = {"t-ran": (True, "ok")}
    the_gate = SessionGate(
        Permissions("ask", deny=(Rule("bash_tool", "rm:*"),)),
        "ask",
        places,
        "local",
        recorded=recorded,
    )
    assert (
        run_through(the_gate, ToolCall("t-ran", "bash_tool", {"command": "rm y"})).allowed is False
    )


def test_permissions_read_from_text_refuse_an_unknown_mode():
    with pytest.raises(ValueError, match="unknown permission mode 'yolo'; choose one of ask, auto"):
        Permissions.parse("yolo")
    assert Permissions.parse("", ["view"]).mode is None
