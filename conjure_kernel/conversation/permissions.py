"""Permissions: which tool calls run, which are denied, and which the person approves first.

A session's ``Permissions`` are a mode (or None for the backend's own default) and rules
(``rules.py``). ``decide`` turns them, with the places a call may touch (``places.py``),
into a verdict, and is pure: no one is asked and nothing runs; ``SessionGate``
(``session_gate.py``) asks the person what it leaves open. Deny rules win over allow
rules, in every mode.

In ``ask`` mode a view inside the workspace or a skill's folder runs; commands, writes
and reads elsewhere are asked about. ``read-only`` runs views and the commands its
read-only rules (or allow rules) name, asks about what they would read outside the
workspace and the skills (``command_reads``), and denies the rest; ``auto`` runs
everything and ``deny`` nothing. A file with several hard links counts as outside for
reading: it may be a file outside under another name.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..backends.gate import MODES, OPEN, PermissionMode, Verdict
from ..skills.skill import Skill
from ..tools.values import ToolCall
from .command_reads import line_folders, outside_read, shared_file
from .git_config import configured_programs
from .places import Places
from .rules import COMMAND_TOOL, FILE_TOOLS, Rule, rules_allowing
from .shell_commands.parse import parse_command

__all__ = [
    "READ_ONLY_COMMANDS",
    "Permissions",
    "decide",
    "denied",
    "rules_from_allowed_tools",
]

READ_ONLY_COMMANDS: tuple[Rule, ...] = tuple(
    Rule(COMMAND_TOOL, pattern)
    for pattern in (
        *("ls:*", "pwd", "cd:*", "echo:*", "true", "cat:*", "head:*", "tail:*", "wc:*", "grep:*"),
        *("find:*", "sort:*", "uniq:*", "cut:*", "tr:*", "diff:*", "stat:*", "du:*"),
        *("basename:*", "dirname:*", "realpath:*", "which:*"),
    )
)
"""Commands that only read, run in ``read-only`` mode. Each was checked for the ways it
can write or run a program, and the rules refuse those uses (``rules_allowing``'s
``read_only``): ``find -delete``/``-fprint`` and its ``-exec``'d program (checked as a
command of its own), ``sort -o``/``--compress-program``, ``uniq IN OUT``, any argument
known only when it runs, and redirections to files. Left out, as they write or run
code by design or configuration: ``git`` (hooks, ``core.fsmonitor``, pagers, aliases,
filters), ``sed`` (``-i``, ``w``, ``e``), ``awk`` (``system``, ``>``), ``less``/``more``
(``!``, ``LESSOPEN``), ``tee`` and ``xargs``' shells."""
_CLAUDE_CODE_TOOLS = {
    "Bash": COMMAND_TOOL,
    "Read": "view",
    "Write": "create_file",
    "Edit": "str_replace",
}


@dataclass(frozen=True)
class Permissions:
    """What a session lets tools do; frozen, so a change is a new value."""

    mode: PermissionMode | None = None
    """None: the backend's default (``local`` asks, ``native`` runs)."""
    allow: tuple[Rule, ...] = ()
    deny: tuple[Rule, ...] = ()
    read_only: tuple[Rule, ...] = READ_ONLY_COMMANDS

    @classmethod
    def parse(
        cls,
        mode: str | None = None,
        allow: Iterable[str] = (),
        deny: Iterable[str] = (),
        read_only: Iterable[str] | None = None,
    ) -> Permissions:
        """From text (configuration, a magic); ``ValueError`` naming what is wrong.
        ``read_only`` None keeps the built-in read-only commands."""
        if mode and mode not in MODES:
            raise ValueError(f"unknown permission mode {mode!r}; choose one of {', '.join(MODES)}")
        return cls(
            mode or None,  # type: ignore[arg-type]
            tuple(map(Rule.parse, allow)),
            tuple(map(Rule.parse, deny)),
            READ_ONLY_COMMANDS if read_only is None else tuple(map(Rule.parse, read_only)),
        )

    def adding(self, allow: Iterable[Rule] = (), deny: Iterable[Rule] = ()) -> Permissions:
        """These rules and the new ones, each once, in the order first given."""
        return Permissions(
            self.mode,
            tuple(dict.fromkeys([*self.allow, *allow])),
            tuple(dict.fromkeys([*self.deny, *deny])),
            self.read_only,
        )


def decide(
    call: ToolCall, mode: PermissionMode, permissions: Permissions, places: Places, backend: str
) -> Verdict:
    """The verdict on ``call`` that needs no one; ``allowed=None`` with a prompt to ask.
    A verdict that rests on what the call names is fixed to it: a file tool's to where
    its path led, a command's to a new shell (``tools.decisions``)."""
    verdict = _decided(call, mode, permissions, places, backend)
    path = call.input.get("path")
    if mode == "auto" and not any(rule.names(call.name) for rule in permissions.deny):
        return verdict  # nothing rested on what the call names
    if call.name in FILE_TOOLS and isinstance(path, str):
        return dataclasses.replace(verdict, pinned=places.real(path))
    if call.name == COMMAND_TOOL:
        return dataclasses.replace(verdict, fresh_shell=True)
    return verdict


def _decided(
    call: ToolCall, mode: PermissionMode, permissions: Permissions, places: Places, backend: str
) -> Verdict:
    denial = _denied_by_rule(call, permissions.deny, places)
    if denial is not None:
        return denial
    kind = _kind(call.name)
    if mode == "deny":
        return denied("the mode is deny", "denied: the permission mode is deny, so no tool runs")
    if mode == "read-only" and kind == "write":
        return denied(
            f"read-only mode: {call.name} writes",
            f"denied: the permission mode is read-only, and {call.name} writes",
        )
    allowing = _allowed_by(call, permissions.allow, places)
    if allowing and mode != "auto" and (configured := _configured_git(call, places)):
        return Verdict(None, prompt=f"{_question(call, places, backend)} ({configured})")
    if allowing:
        return Verdict(True, f"by the rule {', '.join(map(str, allowing))}")
    if mode == "auto":
        return _unseen_by_deny_rules(call, permissions.deny, places, backend) or OPEN
    path = call.input.get("path")
    if kind == "read" and isinstance(path, str) and places.readable(places.real(path)):
        return OPEN
    if mode == "read-only":
        return _read_only(call, kind, permissions, places, backend)
    return Verdict(None, prompt=_question(call, places, backend))


def _denied_by_rule(call: ToolCall, rules: Sequence[Rule], places: Places) -> Verdict | None:
    path = call.input.get("path")
    for rule in (rule for rule in rules if rule.names(call.name)):
        if call.name in FILE_TOOLS and isinstance(path, str):
            hit = rule.denies_path((places.lexical(path), places.real(path)), places.workdir)
        elif call.name == COMMAND_TOOL:
            hit = rule.denies_command(str(call.input.get("command", "")))
        else:
            hit = rule.matches_text(call)
        if hit:
            return denied(
                f"by the rule {rule}", f"denied by the rule {rule}: this call may not run"
            )
    return None


def _unseen_by_deny_rules(
    call: ToolCall, rules: Sequence[Rule], places: Places, backend: str
) -> Verdict | None:
    """In ``auto``, a command whose parts the deny rules cannot see (``eval "$x"``) is
    asked about: it may be one they deny."""
    if call.name != COMMAND_TOOL or not any(rule.names(call.name) for rule in rules):
        return None
    if not parse_command(str(call.input.get("command", ""))).opaque:
        return None
    return Verdict(None, prompt=_question(call, places, backend))


def _allowed_by(call: ToolCall, rules: Sequence[Rule], places: Places) -> list[Rule] | None:
    rules = [rule for rule in rules if rule.names(call.name)]
    path = call.input.get("path")
    if call.name in FILE_TOOLS and isinstance(path, str):
        real = places.real(path)
        return next(([rule] for rule in rules if rule.allows_path(real, places.workdir)), None)
    if call.name == COMMAND_TOOL:
        return rules_allowing(rules, str(call.input.get("command", "")))
    return next(([rule] for rule in rules if rule.matches_text(call)), None)


def _read_only(
    call: ToolCall, kind: str, permissions: Permissions, places: Places, backend: str
) -> Verdict:
    """A view or a read-only command, asked about when it reads outside the workspace and
    the skills; anything else denied."""
    if kind == "read":
        return Verdict(None, prompt=_question(call, places, backend))
    if kind == "command":
        command = str(call.input.get("command", ""))
        if rules_allowing(permissions.allow, command, permissions.read_only):
            outside = _read_outside(command, permissions, places)
            if outside is None:
                return Verdict(True, "a read-only command")
            return Verdict(None, prompt=_question(call, places, backend, reads=outside))
        why = "this command is not one of its read-only commands"
    else:
        why = f"{call.name} is not a read-only tool"
    return denied(f"read-only mode: {why}", f"denied: the permission mode is read-only, and {why}")


def _read_outside(command: str, permissions: Permissions, places: Places) -> str | None:
    """What a read-only command reads outside the workspace and the skills; the pieces an
    allow rule names (or the whole line, named exactly) may read anywhere."""
    if any(rule.names_exactly(command) for rule in permissions.allow):
        return None
    line = parse_command(command)
    built_in = [
        piece
        for piece in line.commands
        if not any(r.allows_piece(piece) for r in permissions.allow)
    ]
    return outside_read(line, built_in, places.workdir, places.readable)


def _configured_git(call: ToolCall, places: Places) -> str | None:
    """Why an allowed git command may run a program its repository configures, if it may:
    the rule trusts git, not the repository (``git_config``)."""
    if call.name != COMMAND_TOOL:
        return None
    line = parse_command(str(call.input.get("command", "")))
    gits = [piece.words[1:] for piece in line.commands if piece.words[0] == "git"]
    if not gits:
        return None
    folders = line_folders(line, places.host_workdir)
    if isinstance(folders, str):
        return f"git may run in {folders}"
    for arguments in gits:
        for at, word in enumerate(arguments):
            if word.startswith(("--git-dir", "--work-tree", "--namespace")):
                return f"git is pointed at another repository ({word})"
            if word == "-C" and at + 1 < len(arguments):
                folders += [os.path.join(folder, arguments[at + 1]) for folder in list(folders)]
    return configured_programs(folders)


def _kind(name: str) -> str:
    """``read``, ``write``, ``command`` or ``other`` (a native skill's method, a plug-in's tool)."""
    return FILE_TOOLS.get(name) or ("command" if name == COMMAND_TOOL else "other")


def denied(reason: str, message: str) -> Verdict:
    """A verdict that denies the call: ``reason`` for the record, ``message`` for the model."""
    return Verdict(False, reason, message)


def _question(call: ToolCall, places: Places, backend: str, *, reads: str = "") -> str:
    """What the person is asked: the tool's action, its command or path, the backend, and
    the skill whose files it uses with what that skill pre-approves."""
    where = f"on the {backend} backend"
    path = call.input.get("path")
    if call.name == COMMAND_TOOL:
        text = f"run `{call.input.get('command', '')}` {where}"
        unseen = parse_command(str(call.input.get("command", ""))).opaque
        text += f" (the rules cannot see all it runs: {unseen[0]})" if unseen else ""
        text += f" (it reads outside the workspace and the skills: {reads})" if reads else ""
    elif call.name in FILE_TOOLS and isinstance(path, str):
        verb = {"view": "read", "create_file": "write", "str_replace": "edit"}[call.name]
        real = places.real(path)
        outside = "" if places.in_workspace(real) else f", outside the workspace {places.workdir}"
        if links := shared_file(real):
            outside += f", a file with {links} hard links (it may be a file outside)"
        text = f"{verb} {places.lexical(path)} {where}{outside}"
    else:
        text = f"run with {json.dumps(call.input, ensure_ascii=False)} {where}"
    skill = places.skill_of(call)
    if skill is not None:
        allows = " ".join(skill.allowed_tools) or "nothing (no allowed-tools field)"
        text += f"; it uses the skill {skill.name}, which pre-approves: {allows}"
    return text


def rules_from_allowed_tools(skill: Skill) -> tuple[list[Rule], list[str]]:
    """A skill's ``allowed-tools`` as rules (``Bash(git:*)`` → ``bash_tool(git:*)``,
    ``Read`` → ``view``), and the entries that name no tool of this kernel."""
    rules, unknown = [], []
    for entry in skill.metadata.allowed_tools:
        name, _, rest = entry.partition("(")
        tool = _CLAUDE_CODE_TOOLS.get(name, name)
        try:
            if tool not in (*FILE_TOOLS, COMMAND_TOOL):
                raise ValueError(entry)
            rules.append(Rule.parse(f"{tool}({rest}" if rest else tool))
        except ValueError:
            unknown.append(entry)
    return rules, unknown
