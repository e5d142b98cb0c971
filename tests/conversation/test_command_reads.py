"""``read-only`` reads the workspace and the skills only: what its commands would read
elsewhere (a path, a link out, a hard link, a ``cd``, a glob, a redirection) is asked
about, and denied where no one can be asked; reads inside raise no question."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from conjure_kernel.conversation.command_reads import WALK_LIMIT
from conjure_kernel.conversation.permissions import Permissions, decide
from conjure_kernel.conversation.places import Places
from conjure_kernel.conversation.session_gate import HEADLESS, SessionGate
from conjure_kernel.tools.values import ToolCall

INSIDE = [
    "cat a.txt",
    "cat sub/b.txt",
    "cat a.txt | grep x",
    "head -n 3 a.txt",
    "tail -n +2 a.txt",
    "wc -l a.txt sub/b.txt",
    "grep -rn foo sub",
    "grep -e /etc/passwd a.txt",
    "grep /etc/passwd a.txt",
    "grep -c -- /etc a.txt",
    "cut -d / -f 1 a.txt",
    "sort -t / -k 2 a.txt",
    "find sub -name '*.txt'",
    "find sub -name '*.txt' -exec grep -l x {} +",
    "ls",
    "ls -la sub",
    "ls traps",
    "ls -d */",
    "cat *.txt",
    "cat sub/*",
    "cd sub && cat b.txt",
    "du -sh sub",
    "diff a.txt sub/b.txt",
    "echo /etc/shadow",
    "basename /etc/shadow",
    "which python3",
    "stat a.txt",
    "realpath a.txt",
    "cat < a.txt",
    "cat SKILL/SKILL.md",
    "grep -r name SKILL",
    "tr a-z A-Z < a.txt",
    "pwd",
    "find . -type f",  # find, du and ls -R list names and sizes, and follow no link
    "du .",
    "ls -R",
    "ls -laR sub traps",
]
"""Commands that read only the workspace and the skill: no question."""

OUTSIDE = [
    "cat /etc/hostname",
    "head -n1 /etc/passwd",
    "cat ~/.bashrc",
    "ls ~",
    "ls /",
    "ls -- /etc",
    "cat ../outside/secret",
    "cat sub/../../outside/secret",
    "cd .. && cat outside/secret",
    "cd /etc && cat hostname",
    "cd sub && cd ../.. && ls",
    "cd sub; cat ../a.txt",  # a `cd` that fails leaves it in the workspace: ../a.txt is outside
    "cd; cat .bashrc",
    "cd - ; ls",
    "cat traps/out/secret",
    "cat traps/out/../outside/secret",
    "cat traps/hard",
    "cat traps/*",
    "cat t*/h*",
    "grep -r foo traps",
    "grep -R foo .",
    "grep foo -r",
    "grep --directories=recurse foo .",
    "find -L . -name x",
    "find sub -newer /etc/hostname",
    "diff a.txt /etc/hostname",
    "diff -r sub traps",
    "cat $HOME/x",
    'cat "$(echo /etc/hostname)"',
    "cat `echo /etc/hostname`",
    "cat < /etc/hostname",
    "wc -l < ../outside/secret",
    "grep -f /etc/hostname a.txt",
    "grep --file=/etc/hostname a.txt",
    "grep -f/etc/hostname a.txt",
    "wc --files0-from=/etc/hostname",
    "sort -k1 /etc/hostname",
    "stat /etc/shadow",
    "realpath ../outside",
    "echo x | xargs cat",
    "cat a.txt; cat /etc/hostname",
    "cat a.txt <(cat /etc/hostname)",
    "cat {a,../outside/secret}.txt",
    "ls .*",
    "cat ~+/../outside/secret",
    "cd sub; cat ~-/../../outside/secret",
    "ls ~+/..",
    "cd ~+/..; cat outside/secret",
    "cd sub; cd ~-/..; cat ../outside/secret",
    "sort --files0-from=list.txt",
    "wc --files0-from=-",
    "du -L .",
    "ls -RL traps",
    "find . -follow -name x",
    "cat .*/outside/secret",
]
"""Commands that read somewhere else: asked about in ``read-only``."""


@pytest.fixture
def places(tmp_path) -> Places:
    """A workspace with plain files, a link out and a hard link to a file outside, and a
    skill's folder beside it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("the secret\n")
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "a.txt").write_text("foo\nx\n")
    (work / "sub" / "b.txt").write_text("foo\n")
    (work / "traps").mkdir()
    (work / "traps" / "out").symlink_to(outside)
    os.link(outside / "secret", work / "traps" / "hard")
    skill = tmp_path / "skills" / "greeter"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text("---\nname: greeter\ndescription: hi\n---\n")
    return Places.of({"workdir": str(work), "skill:greeter": str(skill)})


def decision(command: str, places: Places, allow: list[str] | None = None) -> str:
    if "SKILL" in command:
        command = command.replace("SKILL", places.skills[0].root)
    the_call = ToolCall("t", "bash_tool", {"command": command})
    permissions = Permissions.parse("read-only", allow or [])
    verdict = decide(the_call, "read-only", permissions, places, "local")
    return {True: "run", False: "deny", None: "ask"}[verdict.allowed]


def test_the_tables_hold_enough_cases():
    assert len(INSIDE) + len(OUTSIDE) >= 80 and not set(INSIDE) & set(OUTSIDE)


@pytest.mark.parametrize("command", INSIDE)
def test_a_read_inside_the_workspace_and_the_skills_raises_no_question(command, places):
    assert decision(command, places) == "run"


@pytest.mark.parametrize("command", OUTSIDE)
def test_a_read_outside_is_asked_about(command, places):
    assert decision(command, places) == "ask"


def test_the_question_names_what_is_read_outside(places):
    the_call = ToolCall("t", "bash_tool", {"command": "cat traps/out/secret"})
    verdict = decide(the_call, "read-only", Permissions.parse("read-only"), places, "local")
    real = os.path.realpath(Path(places.workdir).parent / "outside" / "secret")
    assert f"it reads outside the workspace and the skills: {real}" in verdict.prompt


def test_headless_a_read_outside_is_denied(places):
    gate = SessionGate(Permissions.parse("read-only"), "read-only", places, "local")
    for the_call in (
        ToolCall("t1", "bash_tool", {"command": "cat /etc/hostname"}),
        ToolCall("t2", "view", {"path": "/etc/hostname"}),
    ):
        question = gate.check(the_call)
        assert question.allowed is None
        denied = asyncio.run(gate.ask(the_call, question))
        assert denied.allowed is False and denied.message == HEADLESS


@pytest.mark.parametrize("mode", ["ask", "read-only"])
def test_a_view_of_a_hard_link_to_a_file_outside_is_asked_about(mode, places):
    the_call = ToolCall("t", "view", {"path": "traps/hard"})
    verdict = decide(the_call, mode, Permissions.parse(mode), places, "local")  # type: ignore[arg-type]
    assert verdict.allowed is None and "2 hard links" in verdict.prompt
    plain = ToolCall("t", "view", {"path": "a.txt"})
    assert decide(plain, mode, Permissions.parse(mode), places, "local").allowed is True  # type: ignore[arg-type]


def test_an_allow_rule_lets_its_command_read_anywhere(places):
    assert decision("cat /etc/hostname", places, allow=["bash_tool(cat /etc/hostname)"]) == "run"
    assert decision("cat /etc/hostname | wc -l", places, allow=["bash_tool(cat:*)"]) == "run"
    assert decision("cat a.txt | head /etc/hostname", places, allow=["bash_tool(cat:*)"]) == "ask"


def test_a_folder_too_large_to_walk_is_asked_about(places, monkeypatch):
    for name in ("c", "d", "e"):
        (Path(places.workdir) / "sub" / name).write_text("foo\n")
    assert decision("grep -r foo sub", places) == "run"
    monkeypatch.setattr("conjure_kernel.conversation.command_reads.WALK_LIMIT", 3)
    assert decision("grep -r foo sub", places) == "ask"
    assert WALK_LIMIT >= 10_000


def test_a_link_out_that_a_walk_does_not_follow_raises_no_question(tmp_path):
    """A project's virtualenv links to the system's Python: walking past it is no read."""
    work = tmp_path / "project"
    (work / ".venv" / "bin").mkdir(parents=True)
    (work / ".venv" / "bin" / "python").symlink_to("/usr/bin/python3")
    (work / "lib").symlink_to("/usr/lib")
    (work / "app.py").write_text("foo\n")
    places = Places.of({"workdir": str(work)})
    plain = ["grep -rn foo .", "find . -name '*.py'", "du -sh .", "ls -R", "find . -type f"]
    assert [command for command in plain if decision(command, places) != "run"] == []
    following = ["grep -Rn foo .", "find -L . -name x", "du -L .", "diff -r . /tmp"]
    assert [command for command in following if decision(command, places) != "ask"] == []
