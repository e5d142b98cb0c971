"""Permission rules: how a rule reads, and what it matches of a command or a path."""

from __future__ import annotations

import pytest

from conjure_kernel.conversation.rules import (
    Rule,
    escape_pattern,
    rules_allowing,
    split_rules,
)
from conjure_kernel.conversation.shell_commands.parse import parse_command

R = Rule.parse


@pytest.mark.parametrize(
    ("text", "rule", "shown"),
    [
        ("view", Rule("view"), "view(*)"),
        ("view(*)", Rule("view"), "view(*)"),
        ("bash_tool(git status*)", Rule("bash_tool", "git status*"), "bash_tool(git status*)"),
        (" create_file( docs/** ) ", Rule("create_file", "docs/**"), "create_file(docs/**)"),
        ("inventory_*(count)", Rule("inventory_*", "count"), "inventory_*(count)"),
        ("bash_tool(echo (x))", Rule("bash_tool", "echo (x)"), "bash_tool(echo (x))"),
    ],
)
def test_a_rule_reads_as_tool_and_pattern_and_prints_back(text, rule, shown):
    assert R(text) == rule
    assert str(R(text)) == shown
    assert R(shown) == rule


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "write TOOL or TOOL(PATTERN)"),
        ("(ls)", "write TOOL or TOOL(PATTERN)"),
        ("two words(ls)", "write TOOL or TOOL(PATTERN)"),
        ("bash_tool(ls", "no closing ')'"),
    ],
)
def test_a_malformed_rule_says_what_is_wrong(text, problem):
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        R(text)


def test_rules_split_at_commas_outside_their_patterns():
    assert split_rules("bash_tool(echo a,b), view(*),create_file(docs/**)") == [
        "bash_tool(echo a,b)",
        "view(*)",
        "create_file(docs/**)",
    ]


def test_a_denying_rule_sees_every_piece_even_inside_substitutions():
    assert R("bash_tool(rm:*)").denies_command("echo $(rm -rf /)")
    assert R("bash_tool(rm:*)").denies_command("ls; rm x")
    assert R("bash_tool(rm:*)").denies_command("cat <(rm x) > out")
    assert not R("bash_tool(rm:*)").denies_command("ls -l rmdir")
    assert R("bash_tool(sudo:*)").denies_command("ls && sudo rm x")  # the wrapper as written


READ_RULES = [R("bash_tool(ls:*)"), R("bash_tool(grep *)"), R("bash_tool(git status*)")]


@pytest.mark.parametrize(
    ("command", "allowed"),
    [
        ("ls", True),
        ("ls   -la", True),
        ("lsof", False),  # a prefix rule ends at a word
        ("git status --short", True),
        ("ls | grep x", True),  # each piece has a rule of its own
        ("ls; rm x", False),  # one piece has none
        ("ls && $(rm x)", False),
        ("ls $(grep -l x .)", True),  # a substitution's commands are commands like any other
        ("xargs grep -l x", True),  # grep * allows the arguments xargs adds
        ("xargs ls -l", True),
        ("find . | xargs git status", False),  # find has no rule
        ("$cmd", False),  # opaque: only an exact rule
        ("ls > listing.txt", False),  # a redirection writes: a pattern cannot allow it
        ("echo hi", False),
        ("", False),
    ],
)
def test_a_chained_command_is_allowed_only_when_every_piece_is(command, allowed):
    assert (rules_allowing(READ_RULES, command) is not None) is allowed


def test_a_command_no_pattern_can_see_is_allowed_by_a_rule_naming_it_exactly():
    exact = R(f"bash_tool({escape_pattern('echo $(date) > now.txt')})")
    assert rules_allowing([exact], "echo $(date)  > now.txt") == [exact]
    assert rules_allowing([R("bash_tool(echo *)")], "echo $(date) > now.txt") is None
    assert rules_allowing([R("bash_tool")], "echo $(date) > now.txt") == [R("bash_tool")]


def test_an_escaped_wildcard_is_literal():
    rule = R(f"bash_tool({escape_pattern('ls *.py')})")
    assert str(rule) == r"bash_tool(ls \*.py)"
    assert rule.allows_piece(parse_command("ls '*.py'").commands[0])
    assert not rule.allows_piece(parse_command("ls a.py").commands[0])


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("docs/**", "/w/docs/a/b.md", True),
        ("docs/**", "/w/docs", True),
        ("docs/**", "/w/docsx/a", False),
        ("*.py", "/w/a.py", True),
        ("*.py", "/w/pkg/a.py", False),  # * stays within a folder
        ("**/*.py", "/w/pkg/a.py", True),
        ("**/*.py", "/w/a.py", True),
        ("/etc/**", "/etc/passwd", True),
        ("../up/*", "/up/x", True),  # relative to the workspace, .. included
    ],
)
def test_a_path_pattern_is_a_glob_relative_to_the_workspace(pattern, path, matches):
    assert R(f"create_file({pattern})").allows_path(path, "/w") is matches


def test_a_denying_path_rule_matches_any_spelling_of_the_path():
    rule = R("create_file(/etc/**)")
    assert rule.denies_path(("/w/link/passwd", "/etc/passwd"), "/w")
    assert not rule.denies_path(("/w/a", "/w/a"), "/w")
