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
  non-literal string, a program that is a variable, a glob or a substitution, a call of
  a function the line defines, arithmetic on variables (``a[$(…)]`` in a value runs),
  configuration that runs programs (``git -c``, ``PATH=…``), a parse error;
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
    """The simple commands ``command`` runs, what hides from view, and what it writes."""
    found = _Found()
    _read_line(command, found, depth=0)
    return CommandLine(
        tuple(found.commands),
        tuple(dict.fromkeys(found.opaque)),
        tuple(found.writes),
        tuple(found.written),
        tuple(found.reads),
    )


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
        _arithmetic([node.child_by_field_name("index")], found)
    elif kind == "binary_expression" and _is_arithmetic_test(node):
        _arithmetic(node.children, found)
    elif kind == "expansion" and re.match(r"\$\{[#!]?\w+:[^-=+?]", _text(node)):
        _arithmetic(node.children[3:], found)
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


# -- wrappers -------------------------------------------------------------------------------


def _skip_options(args: list[Word], with_value: set[str]) -> int:
    """Index of the first operand after options (``--`` ends them). ``with_value`` holds
    the options that take a value: short ones (``n``: ``-n 5``, ``-n5``, ``-rn 5``) and
    long ones (``--signal``: ``--signal KILL``; ``--signal=KILL`` needs no entry)."""
    index = 0
    while index < len(args) and args[index].text.startswith("-") and args[index].text != "-":
        text = args[index].text
        index += 1
        if text == "--":
            break
        if text.startswith("--"):
            index += text in with_value
            continue
        taking = next((at for at, char in enumerate(text[1:], 1) if char in with_value), None)
        index += taking == len(text) - 1
    return index


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


def _runner(with_value: set[str]):
    """A wrapper that runs its program as someone else (``sudo``): the wrapper is a
    command of its own, which a rule must allow too, and so is its program."""

    def peel(args, command, found, depth):
        index = _skip_options(args, with_value)
        if index >= len(args):
            return [command]
        return [command, *_run_rest(args, index, command, found, depth, via=command.words[0])]

    return peel


def _xargs(args, command, found, depth):
    """``xargs [options] prog args``: prog runs with more arguments read from input."""
    index = _skip_options(
        args, {"a", "d", "E", "I", "L", "n", "P", "s", "--arg-file", "--delimiter"}
    )
    rest = args[index:] or [Word("echo")]
    inner = replace(command, open_args=True, via="xargs")
    return _run_rest([*args[:index], *rest], index, inner, found, depth, via="xargs")


def _shell(args, command, found, depth):
    """``bash -c 'literal'`` runs what the literal says, parsed as a line of its own;
    ``bash`` reading a file or stdin is a command like any other."""
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
    if startup or not all(word.literal for word in args[:index]):
        found.opaque.append(
            f"`{command.words[0]}` reads start-up files or options known only when it runs"
        )
    if not has_c:
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


_PEELERS = {
    "command": _lookup,
    "builtin": _lookup,
    "exec": _exec,
    "env": _env,
    "nice": _transparent({"n", "--adjustment"}),
    "nohup": _transparent(set()),
    "time": _transparent({"f", "o"}),
    "stdbuf": _transparent({"i", "o", "e"}),
    "setsid": _transparent(set()),
    "busybox": _transparent(set()),
    "ionice": _transparent({"c", "n", "p", "P", "u"}),
    "timeout": _timeout,
    "sudo": _runner({"u", "g", "C", "D", "h", "p", "r", "t", "U", "T"}),
    "doas": _runner({"u", "C"}),
    "chroot": _runner(set()),
    "strace": _runner({"e", "o", "p", "s", "u", "E", "P"}),
    "ltrace": _runner({"e", "o", "p", "s", "u", "E"}),
    "flock": _runner({"w", "E", "c"}),
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
    """A ``$'…'`` string's value: its backslash escapes decoded as bash does."""

    def decode(match: re.Match[str]) -> str:
        escape = match[1]
        if escape[0] in "xuU":
            return chr(int(escape[1:], 16))
        if escape[0].isdigit():
            return chr(int(escape, 8) & 0xFF)
        if escape[0] == "c":
            return chr(ord(escape[1].upper()) ^ 0x40)
        return _ANSI_C.get(escape, "\\" + escape)

    return re.sub(
        r"\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[0-7]{1,3}|c.|.)",
        decode,
        body,
        flags=re.S,
    )


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
    tree-sitter does not show `` `…` `` there (nor always ``$(…)``)."""
    missed = [_text(node)] + [_text(c) for c in node.children if c.type == "heredoc_content"]
    if re.search(r"(?<!\\)`", missed[0]) or any("$(" in text for text in missed[1:]):
        found.opaque.append("a heredoc substitutes commands the grammar does not show")


def _quoted_heredoc(body: Node) -> bool:
    start = body.prev_named_sibling
    while start is not None and start.type != "heredoc_start":
        start = start.prev_named_sibling
    return start is not None and bool(re.search(r"['\"\\]", _text(start)))


def _is_arithmetic_test(node: Node) -> bool:
    return _text(node.child_by_field_name("operator")) in _ARITHMETIC_TESTS


def _arithmetic(nodes: list[Node | None], found: _Found) -> None:
    """Bash evaluates a variable's value as arithmetic, where ``a[$(cmd)]`` runs cmd."""
    for node in filter(None, nodes):
        if _names_a_variable(node):
            found.opaque.append("arithmetic on a variable, whose value can run commands")
            return


def _names_a_variable(node: Node) -> bool:
    if node.type in ("variable_name", "simple_expansion", "expansion"):
        return True
    if node.type == "word" and re.fullmatch(r"[A-Za-z_]\w*", _text(node)):
        return True
    return any(_names_a_variable(child) for child in node.children)


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


def _declaration(node: Node, found: _Found) -> None:
    """``export``/``declare``/``local``: ``-i`` evaluates arithmetic; names as above."""
    words = [_text(child) for child in node.children if child.type in ("word", "test_operator")]
    if any(w.startswith("-") and "i" in w for w in words):
        found.opaque.append("`declare -i` evaluates arithmetic, which can run commands")
    if any("[" in w for w in words):
        found.opaque.append("an array subscript is arithmetic, whose value can run commands")
