"""What a bash command line really runs, read with bash's own grammar (tree-sitter-bash).

Permission rules match programs, so they need the simple commands a line would run, not
its text: a scanner is fooled by what bash reads differently (a ``#'`` comment, a
``$'…'`` string, ``r\\⏎m``), and a rule on ``rm`` must also see ``/bin/rm``, ``\\rm``,
``command rm``, ``sudo rm`` or ``find -delete``. ``parse_command`` gives

- every simple command the line may run, wherever it sits (pipelines, lists, subshells,
  ``$(…)`` and backticks, process substitutions, heredocs, ``if``/``for``/``while``/
  ``case`` bodies, function bodies, ``bash -c 'literal'``, ``eval 'literal'``), each as
  its program and arguments with quoting removed, after peeling the wrappers that run
  another program (``env``, ``nice``, ``timeout``, ``sudo``, ``xargs``, ``find -exec``…);
- what the grammar cannot see through (``opaque``): ``source``, ``eval`` or ``sh -c`` of a
  non-literal string, a shell reading a script or its input, a shell started with
  ``BASH_ENV``/``PATH``…, a program that is a variable, a glob or a substitution, a call
  of a function the line defines, arithmetic on anything but numbers (``a[$(…)]`` in a
  value or a quoted string runs), names given to ``declare``/``read``/``printf -v``/
  ``[[ -v`` that hold a subscript, ``declare -n``, ``${!x}`` and ``${x@P}``, a heredoc
  the grammar may end elsewhere than bash, configuration that runs programs
  (``git -c``, ``PATH=…``), a parse error, and any line the parser fails to read;
- the files its redirections write, and per command what it does beyond reading
  (``effects``: ``sort -o``, ``tee``, ``git``'s configured programs…), which the
  read-only mode's built-in commands must not have.

``find … -delete`` is reported as a synthetic ``rm`` (with unknown arguments), so that a
rule on ``rm`` sees it. Tree-sitter is tolerant where bash is not: a line it cannot parse
cleanly is opaque, and its known slips are corrected here (line continuations, words
after a redirection, backticks in heredocs).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import pairwise

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

__all__ = ["CommandLine", "SimpleCommand", "Word", "parse_command"]

_PARSER = Parser(Language(tree_sitter_bash.language()))
_HARMLESS_FILES = {"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty"}
_WRITE_OPERATORS = {">", ">>", ">|", "&>", "&>>", "<>"}
_SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash"}
_UNSEEN = {
    "source": "it runs a file's commands",
    ".": "it runs a file's commands",
    "enable": "it can load builtins from a library",
    "hash": "it can map a name to another program",
    "fc": "it reruns history through an editor",
    "coproc": "it starts a coprocess",
    "let": "arithmetic on a variable can run commands",
    "mapfile": "its callback runs commands",
    "readarray": "its callback runs commands",
    **{
        name: "a declaration run as a command is not followed"
        for name in ("declare", "typeset", "local", "export", "readonly")
    },
}
"""Programs whose effect is in what they read or run later, beyond this line's text."""
_HARMLESS_VARIABLES = re.compile(
    r"LC_\w+|LANG|LANGUAGE|TZ|TERM|COLUMNS|LINES|NO_COLOR|[a-z_][a-z0-9_]*"
)
"""Assignments that change no program's code: locale, display, and shell-local names."""
_ARITHMETIC_TESTS = {"-eq", "-ne", "-lt", "-le", "-gt", "-ge"}
_BRACES = re.compile(r"(?<!\\)\{[^{}]*(,|\.\.)[^{}]*\}")
"""A brace expansion (``{a,b}``, ``{1..3}``): one word becomes several."""
_PAGERS = {"less", "more", "most", "pg", "man", "vi", "vim", "view", "nano", "emacs", "ed"}


@dataclass(frozen=True)
class Word:
    """One word after quote removal; ``literal`` False when bash expands part of it
    (a variable, a substitution, a glob, a brace or tilde), so its value is unknown."""

    text: str
    literal: bool = True


@dataclass(frozen=True)
class SimpleCommand:
    """One program the line runs, with its arguments, quoting removed."""

    words: tuple[str, ...]
    """The program's name (its basename when written as a path), then its arguments."""
    raw: str
    """As written in the line, for deny rules that name the text."""
    assignments: tuple[str, ...] = ()
    """``NAME=value`` given to it that may change what it runs (``PATH``, ``LD_PRELOAD``…)."""
    path: str = ""
    """The program as written when it is a path (``/bin/rm``); ``words[0]`` is its name."""
    via: str = ""
    """What ran it, when not the shell itself (``sudo``, ``xargs``, ``find -exec``)."""
    open_args: bool = False
    """More arguments come from input (``xargs``, ``find -delete``): a rule must allow any."""
    effects: tuple[str, ...] = ()
    """What it does beyond reading (``writes out.txt``, ``runs configured programs``)."""
    unknown: tuple[str, ...] = ()
    """Its arguments that bash expands when it runs (``$HOME/x``, ``*.txt``), as written."""

    @property
    def text(self) -> str:
        """What allow rules match: the assignments that matter, the program, its arguments."""
        return " ".join([*self.assignments, *self.words])


@dataclass(frozen=True)
class CommandLine:
    """What one command line runs, as far as its text shows."""

    commands: tuple[SimpleCommand, ...] = ()
    opaque: tuple[str, ...] = ()
    """Why some of what it runs cannot be seen (empty: everything is in ``commands``)."""
    writes: tuple[str, ...] = ()
    """Files its redirections write (``/dev/null`` and the standard streams left out)."""
    written: tuple[str, ...] = ()
    """Each simple command as written, wrappers included (``sudo rm x``, ``bash -c 'rm x'``)."""
    reads: tuple[Word, ...] = ()
    """Files its redirections read (``< in.txt``)."""


@lru_cache(maxsize=1024)
def parse_command(command: str) -> CommandLine:
    """The simple commands ``command`` runs, what hides from view, and what it writes.

    It never raises: a line it cannot read to the end keeps what was found so far (the
    deny rules still see it) and is opaque."""
    found = _Found()
    try:
        _read_line(command, found, depth=0)
    except _Unreadable as error:
        found.opaque.append(str(error))
    except Exception:  # a slip of the parser must not become a crash of decide()
        found.opaque.append("the rules cannot read this line")
    return CommandLine(
        tuple(found.commands),
        tuple(dict.fromkeys(found.opaque)),
        tuple(found.writes),
        tuple(found.written),
        tuple(found.reads),
    )


class _Unreadable(ValueError):
    """A line bash may read, but not in a way the rules can follow; the message says why."""


@dataclass
class _Found:
    commands: list[SimpleCommand] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    reads: list[Word] = field(default_factory=list)


def _read_line(command: str, found: _Found, depth: int) -> None:
    """Parse and walk one line (or a ``bash -c`` string within it)."""
    if depth > 5:
        found.opaque.append("commands nested too deeply to follow")
        return
    root = _parse(command)
    if root.has_error:
        found.opaque.append("bash's grammar does not parse it cleanly")
    _walk(root, found, depth)


def _parse(command: str) -> Node:
    """The syntax tree, with line continuations removed first: bash joins ``r\\⏎m`` into
    ``rm`` before it reads words, tree-sitter reads two words."""
    source = command.encode()
    root = _PARSER.parse(source).root_node
    kept = [
        (node.start_byte, node.end_byte)
        for node in _descendants(root, "raw_string", "ansi_c_string", "comment", "heredoc_body")
        if node.type != "heredoc_body" or _quoted_heredoc(node)
    ]
    joined, start = bytearray(), 0
    for match in re.finditer(rb"(?<!\\)(?:\\\\)*(\\\n)", source):
        at = match.start(1)
        if not any(low <= at < high for low, high in kept):
            joined += source[start:at]
            start = at + 2
    if not joined:
        return root
    return _PARSER.parse(bytes(joined + source[start:])).root_node


def _descendants(node: Node, *types: str) -> Iterator[Node]:
    for child in node.children:
        if child.type in types:
            yield child
        yield from _descendants(child, *types)


def _walk(node: Node, found: _Found, depth: int) -> None:
    """Every command in the tree, and the constructs around them that run or write."""
    kind = node.type
    if kind == "command":
        _command(node, (), found, depth)
        return
    if kind == "redirected_statement":
        body = node.child_by_field_name("body")
        extra = tuple(word for redirect in _redirects(node) for word in _extra_words(redirect))
        for redirect in _redirects(node):
            _redirect(redirect, found, depth)
        if body is not None and body.type == "command":
            _command(body, extra, found, depth)
        elif body is not None:
            if extra:
                found.opaque.append("words after a redirection of a compound command")
            _walk(body, found, depth)
        return
    if kind == "function_definition":
        found.opaque.append("it defines a function, whose calls the rules cannot follow")
    elif kind in ("arithmetic_expansion", "c_style_for_statement") or (
        kind == "compound_statement" and _text(node).startswith("((")
    ):
        _arithmetic(node.children, found)
    elif kind == "subscript":
        _subscript(node.child_by_field_name("index"), found)
    elif kind == "binary_expression" and _is_arithmetic_test(node):
        _arithmetic(node.children, found)
    elif kind == "unary_expression" and _text(node.children[0]) == "-v":
        _variables_named("-v", [], [_word(node.children[-1])], found)
    elif kind == "expansion":
        _expansion(node, found)
    elif kind == "unset_command":
        words = [_word(child) for child in node.children[1:] if child.is_named]
        _variables_named("unset", *_unset_names(words), found)
    elif kind == "heredoc_body" and not _quoted_heredoc(node):
        _heredoc(node, found)
    elif kind == "declaration_command":
        _declaration(node, found)
    elif kind == "variable_assignment":
        _assignment_alone(node, found)
    elif kind in ("file_redirect", "herestring_redirect", "heredoc_redirect"):
        _redirect(node, found, depth)
        return
    for child in node.children:
        _walk(child, found, depth)


def _command(node: Node, extra: tuple[Word, ...], found: _Found, depth: int) -> None:
    """One ``command`` node: its assignments, words and redirections, then the programs
    it runs once wrappers are peeled."""
    assignments: list[str] = []
    words: list[Word] = []
    for child in node.children:
        if child.type == "variable_assignment":
            assignments += _assignment(child, found)
            _walk(child, found, depth)
        elif child.type in ("file_redirect", "herestring_redirect", "heredoc_redirect"):
            _redirect(child, found, depth)
            words += _extra_words(child)
        elif child.is_named and child.type != "comment":
            words += [_word(child.children[0] if child.type == "command_name" else child)]
            _walk(child, found, depth)
    words += extra
    if not words:
        return
    start = SimpleCommand((), _text(node), tuple(assignments))
    found.written.append(start.raw)
    found.commands += _peel(words, start, found, depth)


def _peel(words: list[Word], base: SimpleCommand, found: _Found, depth: int) -> list[SimpleCommand]:
    """The commands that ``words`` run: wrappers give way to the program they start."""
    program = words[0]
    if not program.literal:
        found.opaque.append(f"the program `{program.text}` is known only when it runs")
        return [replace(base, words=tuple(w.text for w in words))]
    path, name = program.text, program.text.rsplit("/", 1)[-1] or program.text
    args = words[1:]
    command = replace(
        base,
        words=(name, *(w.text for w in args)),
        path=path if "/" in path else base.path,
        unknown=tuple(w.text for w in args if not w.literal),
    )
    peeler = _PEELERS.get(name)
    if peeler is not None:
        return peeler(args, command, found, depth)
    if name in _UNSEEN:
        found.opaque.append(f"`{name}`: {_UNSEEN[name]}")
    if name in _NAMERS:
        _variables_named(name, *_NAMERS[name](args), found)
    return [replace(command, effects=_effects(name, args, command))]


def _effects(name: str, args: list[Word], command: SimpleCommand) -> tuple[str, ...]:
    """What a program does beyond reading, as far as its arguments show; what cannot be
    shown (an argument known only when it runs) counts as an effect."""
    checker = _EFFECTS.get(name)
    if checker is None:
        return ()
    if command.open_args or not all(word.literal for word in args):
        return ("its arguments are known only when it runs",)
    return checker([word.text for word in args])


# -- builtins that name variables ---------------------------------------------------------------


def _variables_named(name: str, assigned: list[Word], inspected: list[Word], found: _Found) -> None:
    """A builtin that sets or looks up variables by name: ``a[$(cmd)]`` as a name runs cmd
    (the subscript is arithmetic), and setting ``PATH`` changes what runs after."""
    for word in [*assigned, *inspected]:
        if not word.literal:
            found.opaque.append(f"`{name}` names a variable known only when it runs")
        elif "[" in word.text:
            found.opaque.append(
                f"`{name}` names an array element, whose subscript can run commands"
            )
    for word in assigned:
        if word.literal and "[" not in word.text and _named(word.text, word.text):
            found.opaque.append(f"`{name}` sets {word.text}, which can change what runs")


def _read_names(args: list[Word]) -> tuple[list[Word], list[Word]]:
    options, index = _options(args, {"a", "d", "i", "n", "N", "p", "t", "u"})
    return [*filter(None, _given(options, "a")), *args[index:]], []


def _option_names(option: str):
    """A builtin that sets the variable its ``-X NAME`` option names (``printf -v``)."""

    def names(args: list[Word]) -> tuple[list[Word], list[Word]]:
        options, _ = _options(args, {option})
        return [word or Word("", literal=False) for word in _given(options, option)], []

    return names


def _getopts_names(args: list[Word]) -> tuple[list[Word], list[Word]]:
    return args[1:2], []


def _test_names(args: list[Word]) -> tuple[list[Word], list[Word]]:
    return [], [word for flag, word in pairwise(args) if flag.text == "-v"]


def _unset_names(args: list[Word]) -> tuple[list[Word], list[Word]]:
    return [], args[_skip_options(args, set()) :]


_NAMERS = {
    "read": _read_names,
    "printf": _option_names("v"),
    "wait": _option_names("p"),
    "getopts": _getopts_names,
    "test": _test_names,
    "[": _test_names,
    "unset": _unset_names,
}
"""Builtins that name variables, and the names each sets and looks up."""


# -- wrappers -------------------------------------------------------------------------------


def _skip_options(args: list[Word], with_value: set[str]) -> int:
    """Index of the first operand after options (``--`` ends them)."""
    return _options(args, with_value)[1]


def _options(args: list[Word], with_value: set[str]) -> tuple[list[tuple[str, Word | None]], int]:
    """The options before the first operand, each with its value, and that operand's index
    (``--`` ends them). ``with_value`` holds the options that take a value: short ones
    (``n``: ``-n 5``, ``-n5``, ``-rn 5``) and long ones (``--signal``: ``--signal KILL``,
    or ``--sig KILL`` as getopt takes an abbreviation; ``--signal=KILL`` needs no entry)."""
    options: list[tuple[str, Word | None]] = []
    index = 0
    while index < len(args) and args[index].text.startswith("-") and args[index].text != "-":
        word = args[index]
        index += 1
        if word.text == "--":
            break
        taken, index = _option_word(word, args, index, with_value)
        options += taken
    return options, index


def _option_word(
    word: Word, args: list[Word], index: int, with_value: set[str]
) -> tuple[list[tuple[str, Word | None]], int]:
    """The options in one word (``-rn``, ``--lines=5``), taking the next word as a value
    where one is due; and the index after what was taken."""
    text = word.text
    if text.startswith("--"):
        name, equals, value = text.partition("=")
        if equals:
            return [(name, Word(value, word.literal))], index
        takes = name in with_value or (
            len(name) > 3 and any(o.startswith(name) for o in with_value if o[:2] == "--")
        )
        if takes and index < len(args):
            return [(name, args[index])], index + 1
        return [(name, None)], index
    taken: list[tuple[str, Word | None]] = []
    for at, char in enumerate(text[1:], 1):
        if char not in with_value:
            taken.append((char, None))
        elif text[at + 1 :]:
            return [*taken, (char, Word(text[at + 1 :], word.literal))], index
        elif index < len(args):
            return [*taken, (char, args[index])], index + 1
        else:
            return [*taken, (char, None)], index
    return taken, index


def _permuted(
    args: list[Word], with_value: set[str]
) -> tuple[list[tuple[str, Word | None]], list[Word]]:
    """Options and operands where GNU getopt takes options anywhere (``su root -c x``)."""
    options: list[tuple[str, Word | None]] = []
    operands: list[Word] = []
    index = 0
    while index < len(args):
        word = args[index]
        index += 1
        if word.text == "--":
            operands += args[index:]
            break
        if word.text.startswith("-") and word.text != "-":
            taken, index = _option_word(word, args, index, with_value)
            options += taken
        else:
            operands.append(word)
    return options, operands


def _given(options: list[tuple[str, Word | None]], *names: str) -> list[Word | None]:
    """The values given to any of ``names`` (None for an option without one)."""
    return [value for name, value in options if name in names]


def _run_rest(
    args: list[Word],
    start: int,
    command: SimpleCommand,
    found: _Found,
    depth: int,
    *,
    via: str = "",
) -> list[SimpleCommand]:
    """The program a wrapper starts, from ``args[start:]``; the wrapper alone runs nothing."""
    rest = args[start:]
    if any(not word.literal for word in args[:start]):
        found.opaque.append(f"`{command.words[0]}` has options known only when it runs")
    if not rest:
        return [command]
    inner = replace(command, path="", via=via or command.via)
    return _peel(rest, inner, found, depth)


def _transparent(with_value: set[str]):
    """A wrapper that changes how, not what, its program runs (``nice -n 5 ls`` is ``ls``)."""

    def peel(args, command, found, depth):
        return _run_rest(args, _skip_options(args, with_value), command, found, depth)

    return peel


def _env(args, command, found, depth):
    """``env [-i] [-u NAME] [NAME=value…] prog``: the assignments go with the program."""
    index = _skip_options(args, {"u", "C", "--unset", "--chdir"})
    if any(word.text.startswith(("-S", "--split-string")) for word in args[:index]):
        found.opaque.append("`env -S` splits a string into a command")
        return [command]
    given = []
    while index < len(args) and "=" in args[index].text and not args[index].text.startswith("="):
        given += _named(args[index].text.split("=", 1)[0], args[index].text)
        index += 1
    inner = replace(command, assignments=(*command.assignments, *given))
    return _run_rest(args, index, inner, found, depth)


def _timeout(args, command, found, depth):
    """``timeout [options] DURATION prog``."""
    index = _skip_options(args, {"s", "k", "--signal", "--kill-after"})
    return _run_rest(args, index + 1, command, found, depth)


def _exec(args, command, found, depth):
    """``exec prog`` runs prog in place of the shell; ``exec`` alone rearranges file
    descriptors for what follows, which the rules do not follow."""
    index = _skip_options(args, {"a"})
    if index >= len(args):
        found.opaque.append("`exec` without a program redirects the rest of the line")
        return [command]
    return _run_rest(args, index, command, found, depth)


def _lookup(args, command, found, depth):
    """``command prog``/``builtin prog``; ``command -v prog`` only names it."""
    index = _skip_options(args, set())
    if any(word.text.startswith("-") and set(word.text[1:]) & {"v", "V"} for word in args[:index]):
        return [command]
    return _run_rest(args, index, command, found, depth)


def _runner(with_value: set[str], shell: set[str] | None = None):
    """A wrapper that runs its program as someone else (``sudo``): the wrapper is a
    command of its own, which a rule must allow too, and so is its program. Without a
    program, the ``shell`` options (all, when None) start a shell reading its input."""

    def peel(args, command, found, depth):
        options, index = _options(args, with_value)
        if index >= len(args):
            if shell is None or _given(options, *shell):
                _shell_reading_input(command, found)
            return [command]
        return [command, *_run_rest(args, index, command, found, depth, via=command.words[0])]

    return peel


def _shell_reading_input(command: SimpleCommand, found: _Found) -> None:
    found.opaque.append(f"`{command.words[0]}` starts a shell that reads commands from input")


def _chrt(args, command, found, depth):
    """``chrt [options] PRIORITY prog``; ``-p`` acts on a running process, ``-m`` shows
    the priorities."""
    options, index = _options(
        args, {"T", "P", "D", "--sched-runtime", "--sched-period", "--sched-deadline"}
    )
    if _given(options, "p", "--pid", "m", "--max"):
        return [command]
    return _run_rest(args, index + 1, command, found, depth)


def _taskset(args, command, found, depth):
    """``taskset [-c] MASK prog``; ``-p`` acts on a running process."""
    options, index = _options(args, set())
    if _given(options, "p", "--pid"):
        return [command]
    return _run_rest(args, index + 1, command, found, depth)


def _unshare(args, command, found, depth):
    """``unshare [options] prog``; without a program it starts the user's shell."""
    index = _skip_options(args, _UNSHARE_VALUES)
    if index >= len(args):
        _shell_reading_input(command, found)
    return _run_rest(args, index, command, found, depth)


_UNSHARE_VALUES = {"S", "G", "R", "w", "--setuid", "--setgid", "--root", "--wd"}
_UNSHARE_VALUES |= {"--propagation", "--setgroups", "--monotonic", "--boottime"}
_UNSHARE_VALUES |= {"--map-user", "--map-group", "--map-users", "--map-groups"}


def _switch_user(args, command, found, depth):
    """``su [-] [USER] [-c STRING]`` and ``runuser``: the string is a line for the user's
    shell; ``runuser -u USER prog`` runs prog; anything else starts a shell reading input
    (or, with words after the user, a shell given a script or options)."""
    options, operands = _permuted(args, _SWITCH_USER_VALUES)
    operands = [word for word in operands if word.text != "-"]
    strings = _given(options, "c", "--command", "--session-command")
    if _given(options, "s", "--shell"):
        found.opaque.append(f"`{command.words[0]} -s` runs a shell the rules do not know")
    if _given(options, "u", "--user"):
        if not operands:
            return [command]
        return [command, *_run_rest(operands, 0, command, found, depth, via=command.words[0])]
    if not strings or len(operands) > 1:
        _shell_reading_input(command, found)
    _read_strings(strings, command, found, depth)
    return [command]


_SWITCH_USER_VALUES = {"c", "g", "G", "s", "u", "w", "--command", "--session-command"}
_SWITCH_USER_VALUES |= {"--group", "--supp-group", "--shell", "--user", "--whitelist-environment"}


def _read_strings(
    strings: list[Word | None], command: SimpleCommand, found: _Found, depth: int
) -> None:
    """Each command string a wrapper hands to a shell, read as a line of its own."""
    for string in strings:
        if string is None or not string.literal:
            found.opaque.append(f"`{command.words[0]}` runs a string known only when it runs")
        else:
            _read_line(string.text, found, depth + 1)


def _script(args, command, found, depth):
    """``script [-c STRING] [FILE]``: the string is a shell line (without one, a shell
    reads input); it writes its typescript to FILE and its logs."""
    options, operands = _permuted(args, _SCRIPT_VALUES)
    strings = _given(options, "c", "--command")
    if not strings:
        _shell_reading_input(command, found)
    _read_strings(strings, command, found, depth)
    logs = _given(options, "I", "O", "B", "T", "--log-in", "--log-out", "--log-io", "--log-timing")
    for target in [*logs, *(operands[:1] or [Word("typescript")])]:
        if target is None or not (target.literal and target.text in _HARMLESS_FILES):
            found.writes.append("?" if target is None else target.text)
    return [command]


_SCRIPT_VALUES = {"c", "I", "O", "B", "T", "m", "E", "o", "--command", "--log-in", "--log-out"}
_SCRIPT_VALUES |= {"--log-io", "--log-timing", "--logging-format", "--echo", "--output-limit"}


def _watch(args, command, found, depth):
    """``watch [options] words…`` runs the words joined as a shell line (``-x``: as a
    program and its arguments)."""
    options, index = _options(args, {"n", "q", "--interval", "--equexit"})
    if _given(options, "x", "--exec"):
        return _run_rest(args, index, command, found, depth)
    if index >= len(args):
        return [command]
    return _eval(args[index:], command, found, depth)


def _flock(args, command, found, depth):
    """``flock [options] LOCKFILE prog…`` or ``flock [options] LOCKFILE -c STRING``."""
    index = _skip_options(args, {"w", "E", "--timeout", "--wait", "--conflict-exit-code"})
    rest = args[index + 1 :]
    if rest and rest[0].text in ("-c", "--command"):
        _read_strings([rest[1] if len(rest) > 1 else None], command, found, depth)
        return [command]
    if not rest:
        return [command]
    return [command, *_run_rest(args, index + 1, command, found, depth, via="flock")]


def _xargs(args, command, found, depth):
    """``xargs [options] prog args``: prog runs with more arguments read from input."""
    index = _skip_options(args, _XARGS_VALUES)
    rest = args[index:] or [Word("echo")]
    inner = replace(command, open_args=True, via="xargs")
    return _run_rest([*args[:index], *rest], index, inner, found, depth, via="xargs")


_XARGS_VALUES = {"a", "d", "E", "I", "L", "n", "P", "s", "--arg-file", "--delimiter"}
_XARGS_VALUES |= {"--max-args", "--max-procs", "--max-chars", "--process-slot-var"}


def _shell(args, command, found, depth):
    """``bash -c 'literal'`` runs what the literal says, parsed as a line of its own; a
    shell reading a script (a file, ``-s``, its input) runs what the rules cannot read,
    and so does one started with a variable that changes what it runs (``BASH_ENV``)."""
    index, has_c, startup = 0, False, False
    while (
        index < len(args) and args[index].text[:1] in "-+" and args[index].text not in ("-", "--")
    ):
        text = args[index].text
        index += 1
        if text in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
            index += 1
        has_c = has_c or (not text.startswith("--") and "c" in text)
        startup = (
            startup
            or text in ("--login", "--rcfile", "--init-file")
            or (not text.startswith("--") and bool(set(text) & {"i", "l"}))
        )
    index += index < len(args) and args[index].text == "--"
    if startup or not all(word.literal for word in args[:index]):
        found.opaque.append(
            f"`{command.words[0]}` reads start-up files or options known only when it runs"
        )
    if command.assignments:
        found.opaque.append(
            f"`{command.words[0]}` starts with {command.assignments[0].split('=')[0]} set,"
            " which changes what it runs"
        )
    if not has_c:
        if [word.text for word in args] not in (["--version"], ["--help"]):
            found.opaque.append(f"`{command.words[0]}` runs a script the rules cannot read")
        return [command]
    if index >= len(args) or not args[index].literal:
        found.opaque.append(f"`{command.words[0]} -c` runs a string known only when it runs")
        return [command]
    if command.open_args or "{}" in args[index].text:
        found.opaque.append(f"`{command.words[0]} -c` runs a string that input fills in")
    _read_line(args[index].text, found, depth + 1)
    return []


def _eval(args, command, found, depth):
    """``eval 'literal'`` runs the literal's words as a line; anything else is unseen."""
    args = args[1:] if args and args[0].text == "--" else args
    if not args or not all(word.literal for word in args):
        found.opaque.append("`eval` runs a string known only when it runs")
        return [command]
    _read_line(" ".join(word.text for word in args), found, depth + 1)
    return []


def _later(args, command, found, depth):
    """``trap 'cmd' SIG`` and ``alias name='cmd'`` run their string later, out of the
    rules' sight; what the string names still meets the deny rules."""
    found.opaque.append(f"`{command.words[0]}` sets commands that run later")
    strings = [word for word in args if word.literal and not word.text.startswith("-")]
    if command.words[0] == "alias":
        strings = [Word(word.text.split("=", 1)[1]) for word in strings if "=" in word.text]
    for word in strings[:1] if command.words[0] == "trap" else strings:
        _read_line(word.text, found, depth + 1)
    return [command]


def _find(args, command, found, depth):
    """``find``: ``-exec``/``-execdir``/``-ok``/``-okdir`` run a program per file;
    ``-delete`` removes files and is reported as an ``rm``."""
    if command.open_args or not all(word.literal for word in args):
        found.opaque.append("find's expression is known only when it runs")
    ran = [replace(command, effects=_effects("find", args, command))]
    index = 0
    while index < len(args):
        text = args[index].text
        index += 1
        if text == "-delete":
            ran.append(SimpleCommand(("rm",), command.raw, via="find -delete", open_args=True))
        elif text in ("-exec", "-execdir", "-ok", "-okdir"):
            end = next(
                (i for i in range(index, len(args)) if args[i].text in (";", "+")), len(args)
            )
            inner = args[index:end]
            if any("{}" in word.text and word.text != "{}" for word in inner):
                found.opaque.append("find substitutes file names into a program's argument")
            if inner:
                ran += _peel(inner, replace(command, path="", via=f"find {text}"), found, depth)
            index = end + 1
    return ran


def _git(args, command, found, depth):
    """``git -c``/``--config-env``/``--exec-path`` set what git runs: unseen."""
    index = 0
    while index < len(args) and args[index].text.startswith("-"):
        text = args[index].text
        index += 1
        if text in ("-c", "--config-env") or text.startswith(("--config-env=", "--exec-path")):
            found.opaque.append("`git -c` sets configuration, which can name programs to run")
        index += text in ("-C", "--git-dir", "--work-tree", "--namespace")
    return [
        replace(
            command, effects=("git runs configured programs (hooks, fsmonitor, pager, aliases)",)
        )
    ]


_SUDO_VALUES = {"u", "g", "C", "D", "h", "p", "r", "t", "U", "T", "--user", "--group"}
_SUDO_VALUES |= {"--close-from", "--chdir", "--chroot", "--host", "--prompt", "--role", "--type"}
_SUDO_VALUES |= {"--other-user", "--command-timeout"}

_PEELERS = {
    "command": _lookup,
    "builtin": _lookup,
    "exec": _exec,
    "env": _env,
    "nice": _transparent({"n", "--adjustment"}),
    "nohup": _transparent(set()),
    "time": _transparent({"f", "o", "--format", "--output"}),
    "stdbuf": _transparent({"i", "o", "e", "--input", "--output", "--error"}),
    "setsid": _transparent(set()),
    "busybox": _transparent(set()),
    "ionice": _transparent({"c", "n", "p", "P", "u", "--class", "--classdata", "--pid"}),
    "prlimit": _transparent({"p", "o", "--pid", "--output"}),
    "chrt": _chrt,
    "taskset": _taskset,
    "unshare": _unshare,
    "watch": _watch,
    "timeout": _timeout,
    "sudo": _runner(_SUDO_VALUES, shell={"s", "i", "--shell", "--login"}),
    "doas": _runner({"u", "C"}, shell={"s"}),
    "pkexec": _runner({"--user"}),
    "su": _switch_user,
    "runuser": _switch_user,
    "script": _script,
    "chroot": _runner(set()),
    "strace": _runner({"e", "o", "p", "s", "u", "E", "P"}, shell=set()),
    "ltrace": _runner({"e", "o", "p", "s", "u", "E"}, shell=set()),
    "flock": _flock,
    "xargs": _xargs,
    "eval": _eval,
    "trap": _later,
    "alias": _later,
    "find": _find,
    "git": _git,
    **{shell: _shell for shell in _SHELLS},
}


# -- what a read-only program may do beyond reading -------------------------------------------


def _option(args: list[str], short: str, long: str) -> bool:
    """Whether ``-X``/``-aX…`` or ``--long[=…]`` (or an abbreviation of it, as getopt takes)
    is among ``args``."""
    for arg in args:
        if arg == "--":
            return False
        if arg.startswith("--"):
            name = arg[2:].split("=", 1)[0]
            if name and long.startswith(name):
                return True
        elif arg.startswith("-") and short in arg[1:]:
            return True
    return False


def _sort_effects(args: list[str]) -> tuple[str, ...]:
    effects = ("writes its output to a file",) if _option(args, "o", "output") else ()
    if any(arg.startswith("--com") for arg in args):
        effects += ("runs a compress program",)
    return effects


def _uniq_effects(args: list[str]) -> tuple[str, ...]:
    index, operands = 0, []
    while index < len(args):
        arg = args[index]
        index += 1 + (arg in ("-f", "-s", "-w"))
        operands += [] if arg.startswith("-") and arg != "-" else [arg]
    return ("writes its second operand",) if len(operands) > 1 else ()


def _find_effects(args: list[str]) -> tuple[str, ...]:
    written = [b for a, b in pairwise(args) if a in ("-fprint", "-fprint0", "-fprintf", "-fls")]
    return tuple(f"writes {path}" for path in written)


def _sed_effects(args: list[str]) -> tuple[str, ...]:
    if _option(args, "i", "in-place"):
        return ("edits files in place",)
    script = " ".join(arg for arg in args if not arg.startswith("-"))
    return ("its script may write or run (w, e)",) if re.search(r"[wWe]", script) else ()


def _awk_effects(args: list[str]) -> tuple[str, ...]:
    script = " ".join(args)
    return ("its program may write or run",) if re.search(r"system|[|>]|getline|-f", script) else ()


_EFFECTS = {
    "sort": _sort_effects,
    "uniq": _uniq_effects,
    "find": _find_effects,
    "sed": _sed_effects,
    "awk": _awk_effects,
    "gawk": _awk_effects,
    "mawk": _awk_effects,
    "tee": lambda args: ("writes its files",),
    **{pager: (lambda args: ("an interactive program can run commands",)) for pager in _PAGERS},
}


# -- words, redirections, assignments ------------------------------------------------------


def _text(node: Node | None) -> str:
    return "" if node is None else node.text.decode(errors="replace")


def _word(node: Node) -> Word:
    """A word's value after quote removal, and whether bash would expand it further."""
    kind = node.type
    text = _text(node)
    if kind == "word":
        return _unquoted(text)
    if kind in ("number", "test_operator", "variable_name"):
        return _unquoted(text)
    if kind == "raw_string":
        return Word(text[1:-1])
    if kind == "ansi_c_string":
        return Word(_ansi_c(text[2:-1]))
    if kind == "translated_string":
        return _word(node.children[-1])
    if kind == "string":
        parts = [_word(child) for child in node.children if child.type not in ('"',)]
        return Word("".join(p.text for p in parts), all(p.literal for p in parts))
    if kind == "string_content":
        return Word(re.sub(r'\\([$`"\\\n])', lambda m: "" if m[1] == "\n" else m[1], text))
    if kind == "concatenation":
        parts = [_word(child) for child in node.children]
        bare = "".join(_text(c) if c.type == "word" else "\0" for c in node.children)
        braced = _BRACES.search(bare) is not None  # {a,b}.txt: tree-sitter splits the braces
        return Word("".join(p.text for p in parts), all(p.literal for p in parts) and not braced)
    return Word(text, literal=False)


def _unquoted(text: str) -> Word:
    """An unquoted word: backslashes quote the next character; unescaped glob, brace and
    tilde characters make bash expand it."""
    value, expands, index = [], False, 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            value.append(text[index + 1])
            index += 2
            continue
        expands = expands or char in "*?$"
        value.append(char)
        index += 1
    globbed = re.search(r"(?<!\\)\[.*\]", text) is not None or _BRACES.search(text) is not None
    return Word("".join(value), not (expands or globbed))


_ANSI_C = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}


def _ansi_c(body: str) -> str:
    """A ``$'…'`` string's value: its backslash escapes decoded as bash does, up to the
    first NUL (``\\0``, ``\\x00``, ``\\c@``), where bash's C string ends."""

    def decode(match: re.Match[str]) -> str:
        escape = match[1]
        if escape in ("x", "u", "U", "c"):  # no digits or character follow: kept as written
            return "\\" + escape
        if escape[0] in "xuU":
            point = int(escape[1:], 16)
            if point > sys.maxunicode:
                raise _Unreadable("a `$'…'` string names a character beyond Unicode")
            return chr(point)
        if escape[0].isdigit():
            return chr(int(escape, 8) & 0xFF)
        if escape[0] == "c":
            return chr(ord(escape[1].upper()) ^ 0x40)
        return _ANSI_C.get(escape, "\\" + escape)

    value = re.sub(
        r"\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[0-7]{1,3}|c.|.)",
        decode,
        body,
        flags=re.S,
    )
    return value.split("\0", 1)[0]


def _redirects(node: Node) -> list[Node]:
    return [child for child in node.children if child.type.endswith("redirect")]


def _extra_words(redirect: Node) -> list[Word]:
    """Tree-sitter hangs the words after ``2>x`` on the redirection; bash gives them to
    the command (``find . 2>/dev/null -delete`` deletes)."""
    targets = [
        child
        for child in redirect.children
        if redirect.field_name_for_child(_index(redirect, child)) == "destination"
    ]
    return [_word(node) for node in targets[1:]]


def _index(parent: Node, child: Node) -> int:
    return next(i for i, node in enumerate(parent.children) if node.id == child.id)


def _redirect(node: Node, found: _Found, depth: int) -> None:
    """A redirection that writes a file (``>``, ``>>``, ``&>``, ``>&file``, ``<>``)."""
    for child in node.children:
        _walk(child, found, depth)
    if node.type == "heredoc_redirect":
        _heredoc_extent(node, found)
    if node.type != "file_redirect":
        return
    operator = next((_text(c) for c in node.children if not c.is_named), "")
    target = node.child_by_field_name("destination")
    if target is None:
        return
    value = _word(target)
    writes = operator in _WRITE_OPERATORS or (
        operator == ">&" and not re.fullmatch(r"\d+-?|-", value.text)
    )
    if writes and not (value.literal and value.text in _HARMLESS_FILES):
        found.writes.append(value.text)
    elif operator == "<":
        found.reads.append(value)


def _heredoc(node: Node, found: _Found) -> None:
    """An unquoted heredoc expands its body as a double-quoted string would, but
    tree-sitter does not show `` `…` `` there, nor always ``$(…)`` or ``${…}`` (never in
    a ``<<-`` body): a substitution that is not one of the body's nodes is unseen."""
    text = _text(node)
    shown = {child.start_byte - node.start_byte for child in _descendants(node, *_SUBSTITUTIONS)}
    for match in re.finditer(r"(?<!\\)(?:\\\\)*(`|\$[({[])", text):
        if match[1] == "`" or match.start(1) not in shown:
            found.opaque.append("a heredoc substitutes commands the grammar does not show")
            return


def _quoted_heredoc(body: Node) -> bool:
    start = body.prev_named_sibling
    while start is not None and start.type != "heredoc_start":
        start = start.prev_named_sibling
    return start is not None and bool(re.search(r"['\"\\]", _text(start)))


_SUBSTITUTIONS = ("command_substitution", "expansion", "arithmetic_expansion")
_HEREDOC_DELIMITER = re.compile(r"(\w[\w.-]*)|'(\w[\w.-]*)'|\"(\w[\w.-]*)\"|\\(\w[\w.-]*)")


def _heredoc_extent(node: Node, found: _Found) -> None:
    """Bash ends a heredoc at the first line that is its delimiter after quote removal
    (tabs stripped first, for ``<<-``); tree-sitter reads some delimiters otherwise
    (``<<E'O'F``, ``<<$'EOF'``), and then what it reads as the body bash may run."""
    start = next((c for c in node.children if c.type == "heredoc_start"), None)
    end = next((c for c in node.children if c.type == "heredoc_end"), None)
    plain = _HEREDOC_DELIMITER.fullmatch(_text(start)) if start is not None else None
    if plain is None or end is None:
        found.opaque.append("a heredoc the grammar may end elsewhere than bash")
        return
    delimiter = next(group for group in plain.groups() if group)
    strip = "\t" if any(c.type == "<<-" for c in node.children) else ""
    source = node.text
    first_line = source.find(b"\n", start.end_byte - node.start_byte) + 1
    body_lines = source[first_line : end.start_byte - node.start_byte].split(b"\n")
    end_line = source[end.start_byte - node.start_byte :].split(b"\n", 1)[0]
    head = source[: end.start_byte - node.start_byte].rsplit(b"\n", 1)[-1]
    ends = [line.decode(errors="replace").lstrip(strip) == delimiter for line in body_lines[:-1]]
    whole_end = (head + end_line).decode(errors="replace").lstrip(strip)
    if first_line == 0 or any(ends) or whole_end != delimiter:
        found.opaque.append("a heredoc the grammar may end elsewhere than bash")


def _is_arithmetic_test(node: Node) -> bool:
    """``[[ x -lt y ]]`` evaluates x and y as arithmetic (``[``/``test`` do not)."""
    if _text(node.child_by_field_name("operator")) not in _ARITHMETIC_TESTS:
        return False
    test = node.parent
    while test is not None and test.type != "test_command":
        test = test.parent
    return test is not None and test.children[0].type == "[["


_NUMBER = re.compile(r"\d+|0[xX][0-9a-fA-F]+|\d+#[0-9A-Za-z@_]+")
_ARITHMETIC_NODES = {"binary_expression", "unary_expression", "ternary_expression"}
_ARITHMETIC_NODES |= {"parenthesized_expression", "test_operator", "number"}


def _arithmetic(nodes: list[Node | None], found: _Found) -> None:
    """Bash evaluates arithmetic after quote removal and expansion, and a name's value is
    arithmetic too, where ``a[$(cmd)]`` runs cmd: only numbers and operators are seen."""
    for node in filter(None, nodes):
        why = _unplain_arithmetic(node)
        if why:
            found.opaque.append(why)
            return


def _unplain_arithmetic(node: Node) -> str:
    """Why ``node`` is arithmetic the rules cannot follow, or "" for numbers and operators."""
    if not node.is_named or node.type == "comment":
        return ""
    if node.type in ("word", "variable_name") and _NUMBER.fullmatch(_text(node)):
        return ""  # tree-sitter reads 0x1f as a name
    if node.type in ("variable_name", "simple_expansion", "expansion") or (
        node.type == "word" and re.fullmatch(r"[A-Za-z_]\w*", _text(node))
    ):
        return "arithmetic on a variable, whose value can run commands"
    if node.type not in _ARITHMETIC_NODES:
        return "arithmetic on a quoted or substituted value, which can run commands"
    return next(filter(None, map(_unplain_arithmetic, node.children)), "")


def _subscript(index: Node | None, found: _Found) -> None:
    """An array subscript is arithmetic, but ``[@]`` and ``[*]`` are all elements."""
    if index is not None and not (index.type == "word" and _text(index) in ("@", "*")):
        _arithmetic([index], found)


def _expansion(node: Node, found: _Found) -> None:
    """``${…}`` forms that run what a value says: indirection (``${!x}``, where x may be
    ``a[$(cmd)]``), the ``@P``/``@E`` transforms, an offset (arithmetic), and commands
    substituted in a default the grammar reads as a word (`` ${x:-`cmd`} ``)."""
    text = _text(node)
    if text.startswith("${!") and not re.fullmatch(r"\$\{!\w+(\*|@|\[[@*]\])\}", text):
        found.opaque.append("an indirect expansion runs what a variable's value says")
    if re.search(r"@[PE]\}$", text):
        found.opaque.append("a prompt or escape transform can run commands")
    if re.match(r"\$\{[#!]?\w+:[^-=+?]", text):
        _arithmetic(node.children[3:], found)
    substituted = len(re.findall(r"`|\$\((?!\()", text))
    if substituted > len(list(_descendants(node, "command_substitution"))):
        found.opaque.append("a parameter expansion substitutes commands the grammar does not show")


def _declaration(node: Node, found: _Found) -> None:
    """``export``/``declare``/``local``/``typeset``/``readonly``: ``-i`` evaluates
    arithmetic, ``-n`` makes a name a reference to another (``PATH``, ``a[$(cmd)]``),
    a subscript in a name is arithmetic; each argument is read after quote removal."""
    keyword = _text(node.children[0])
    for child in node.children[1:]:
        if child.type in ("variable_assignment", "comment") or not child.is_named:
            continue
        value = _word(child)
        if not value.literal:
            found.opaque.append(f"`{keyword}` declares a name known only when it runs")
        elif value.text[:1] in "-+":
            if "i" in value.text:
                found.opaque.append(f"`{keyword} -i` evaluates arithmetic, which can run commands")
            if "n" in value.text and keyword != "export":  # export -n only unexports
                found.opaque.append(f"`{keyword} -n` makes a name stand for another variable")
        elif "[" in value.text.split("=", 1)[0]:
            found.opaque.append("an array subscript is arithmetic, whose value can run commands")
        elif "=" in value.text and _named(value.text.split("=", 1)[0], value.text):
            found.opaque.append(
                f"`{keyword}` sets {value.text.split('=', 1)[0]}, which can change what runs"
            )


def _named(name: str, assignment: str) -> list[str]:
    """``[assignment]`` when the variable may change what a program runs."""
    return [] if _HARMLESS_VARIABLES.fullmatch(name) else [assignment]


def _assignment(node: Node, found: _Found) -> list[str]:
    name = _text(node.child_by_field_name("name"))
    value = node.child_by_field_name("value")
    shown = f"{name}={_word(value).text if value is not None else ''}"
    if "[" in name:
        found.opaque.append("an array subscript is arithmetic, whose value can run commands")
    return _named(name.split("[", 1)[0], shown)


def _assignment_alone(node: Node, found: _Found) -> None:
    """``PATH=/x`` on its own changes what every later command runs (an exported name
    stays exported)."""
    if node.parent is not None and node.parent.type == "command":
        return
    if _assignment(node, found):
        found.opaque.append(
            f"it sets {_text(node.child_by_field_name('name'))}, which can change what runs"
        )
