"""Wrappers that run another program (``env``, ``nice``, ``sudo``, ``xargs``, ``find -exec``…), peeled.

Split from the one shell_commands module: a rule on ``rm`` must see ``sudo rm``,
``env X=1 rm`` and ``find -delete``, so each wrapper's options are read to find the
program it starts, which is peeled in turn. ``peel_wrappers`` is the entry; the
wrappers that hand a string to a shell are in shells.py.
"""

from __future__ import annotations

from dataclasses import replace

from .effects import effects_of
from .options import given_values, permuted_options, read_options, skip_options
from .shells import (
    SHELLS,
    note_shell_reading_input,
    peel_eval,
    peel_later,
    peel_script,
    peel_shell,
    read_strings,
)
from .values import Found, SimpleCommand, Word
from .variables import NAMERS, risky_assignment, variables_named

__all__ = ["peel_wrappers"]

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


def peel_wrappers(
    words: list[Word], base: SimpleCommand, found: Found, depth: int
) -> list[SimpleCommand]:
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
    if name in NAMERS:
        variables_named(name, *NAMERS[name](args), found)
    return [replace(command, effects=effects_of(name, args, command))]


def _run_rest(
    args: list[Word],
    start: int,
    command: SimpleCommand,
    found: Found,
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
    return peel_wrappers(rest, inner, found, depth)


def _transparent(with_value: set[str]):
    """A wrapper that changes how, not what, its program runs (``nice -n 5 ls`` is ``ls``)."""

    def peel(args, command, found, depth):
        return _run_rest(args, skip_options(args, with_value), command, found, depth)

    return peel


def _env(args, command, found, depth):
    """``env [-i] [-u NAME] [NAME=value…] prog``: the assignments go with the program."""
    index = skip_options(args, {"u", "C", "--unset", "--chdir"})
    if any(word.text.startswith(("-S", "--split-string")) for word in args[:index]):
        found.opaque.append("`env -S` splits a string into a command")
        return [command]
    given = []
    while index < len(args) and "=" in args[index].text and not args[index].text.startswith("="):
        given += risky_assignment(args[index].text.split("=", 1)[0], args[index].text)
        index += 1
    inner = replace(command, assignments=(*command.assignments, *given))
    return _run_rest(args, index, inner, found, depth)


def _timeout(args, command, found, depth):
    """``timeout [options] DURATION prog``."""
    index = skip_options(args, {"s", "k", "--signal", "--kill-after"})
    return _run_rest(args, index + 1, command, found, depth)


def _exec(args, command, found, depth):
    """``exec prog`` runs prog in place of the shell; ``exec`` alone rearranges file
    descriptors for what follows, which the rules do not follow."""
    index = skip_options(args, {"a"})
    if index >= len(args):
        found.opaque.append("`exec` without a program redirects the rest of the line")
        return [command]
    return _run_rest(args, index, command, found, depth)


def _lookup(args, command, found, depth):
    """``command prog``/``builtin prog``; ``command -v prog`` only names it."""
    index = skip_options(args, set())
    if any(word.text.startswith("-") and set(word.text[1:]) & {"v", "V"} for word in args[:index]):
        return [command]
    return _run_rest(args, index, command, found, depth)


def _runner(with_value: set[str], shell: set[str] | None = None):
    """A wrapper that runs its program as someone else (``sudo``): the wrapper is a
    command of its own, which a rule must allow too, and so is its program. Without a
    program, the ``shell`` options (all, when None) start a shell reading its input."""

    def peel(args, command, found, depth):
        options, index = read_options(args, with_value)
        if index >= len(args):
            if shell is None or given_values(options, *shell):
                note_shell_reading_input(command, found)
            return [command]
        return [command, *_run_rest(args, index, command, found, depth, via=command.words[0])]

    return peel


def _chrt(args, command, found, depth):
    """``chrt [options] PRIORITY prog``; ``-p`` acts on a running process, ``-m`` shows
    the priorities."""
    options, index = read_options(
        args, {"T", "P", "D", "--sched-runtime", "--sched-period", "--sched-deadline"}
    )
    if given_values(options, "p", "--pid", "m", "--max"):
        return [command]
    return _run_rest(args, index + 1, command, found, depth)


def _taskset(args, command, found, depth):
    """``taskset [-c] MASK prog``; ``-p`` acts on a running process."""
    options, index = read_options(args, set())
    if given_values(options, "p", "--pid"):
        return [command]
    return _run_rest(args, index + 1, command, found, depth)


def _unshare(args, command, found, depth):
    """``unshare [options] prog``; without a program it starts the user's shell."""
    index = skip_options(args, _UNSHARE_VALUES)
    if index >= len(args):
        note_shell_reading_input(command, found)
    return _run_rest(args, index, command, found, depth)


_UNSHARE_VALUES = {"S", "G", "R", "w", "--setuid", "--setgid", "--root", "--wd"}
_UNSHARE_VALUES |= {"--propagation", "--setgroups", "--monotonic", "--boottime"}
_UNSHARE_VALUES |= {"--map-user", "--map-group", "--map-users", "--map-groups"}


def _switch_user(args, command, found, depth):
    """``su [-] [USER] [-c STRING]`` and ``runuser``: the string is a line for the user's
    shell; ``runuser -u USER prog`` runs prog; anything else starts a shell reading input
    (or, with words after the user, a shell given a script or options)."""
    options, operands = permuted_options(args, _SWITCH_USER_VALUES)
    operands = [word for word in operands if word.text != "-"]
    strings = given_values(options, "c", "--command", "--session-command")
    if given_values(options, "s", "--shell"):
        found.opaque.append(f"`{command.words[0]} -s` runs a shell the rules do not know")
    if given_values(options, "u", "--user"):
        if not operands:
            return [command]
        return [command, *_run_rest(operands, 0, command, found, depth, via=command.words[0])]
    if not strings or len(operands) > 1:
        note_shell_reading_input(command, found)
    read_strings(strings, command, found, depth)
    return [command]


_SWITCH_USER_VALUES = {"c", "g", "G", "s", "u", "w", "--command", "--session-command"}
_SWITCH_USER_VALUES |= {"--group", "--supp-group", "--shell", "--user", "--whitelist-environment"}


def _watch(args, command, found, depth):
    """``watch [options] words…`` runs the words joined as a shell line (``-x``: as a
    program and its arguments)."""
    options, index = read_options(args, {"n", "q", "--interval", "--equexit"})
    if given_values(options, "x", "--exec"):
        return _run_rest(args, index, command, found, depth)
    if index >= len(args):
        return [command]
    return peel_eval(args[index:], command, found, depth)


def _flock(args, command, found, depth):
    """``flock [options] LOCKFILE prog…`` or ``flock [options] LOCKFILE -c STRING``."""
    index = skip_options(args, {"w", "E", "--timeout", "--wait", "--conflict-exit-code"})
    rest = args[index + 1 :]
    if rest and rest[0].text in ("-c", "--command"):
        read_strings([rest[1] if len(rest) > 1 else None], command, found, depth)
        return [command]
    if not rest:
        return [command]
    return [command, *_run_rest(args, index + 1, command, found, depth, via="flock")]


def _xargs(args, command, found, depth):
    """``xargs [options] prog args``: prog runs with more arguments read from input."""
    index = skip_options(args, _XARGS_VALUES)
    rest = args[index:] or [Word("echo")]
    inner = replace(command, open_args=True, via="xargs")
    return _run_rest([*args[:index], *rest], index, inner, found, depth, via="xargs")


_XARGS_VALUES = {"a", "d", "E", "I", "L", "n", "P", "s", "--arg-file", "--delimiter"}
_XARGS_VALUES |= {"--max-args", "--max-procs", "--max-chars", "--process-slot-var"}


def _find(args, command, found, depth):
    """``find``: ``-exec``/``-execdir``/``-ok``/``-okdir`` run a program per file;
    ``-delete`` removes files and is reported as an ``rm``."""
    if command.open_args or not all(word.literal for word in args):
        found.opaque.append("find's expression is known only when it runs")
    ran = [replace(command, effects=effects_of("find", args, command))]
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
                ran += peel_wrappers(
                    inner, replace(command, path="", via=f"find {text}"), found, depth
                )
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
    "script": peel_script,
    "chroot": _runner(set()),
    "strace": _runner({"e", "o", "p", "s", "u", "E", "P"}, shell=set()),
    "ltrace": _runner({"e", "o", "p", "s", "u", "E"}, shell=set()),
    "flock": _flock,
    "xargs": _xargs,
    "eval": peel_eval,
    "trap": peel_later,
    "alias": peel_later,
    "find": _find,
    "git": _git,
    **{shell: peel_shell for shell in SHELLS},
}
