"""The programs, Python modules and Node packages a piece of code uses, read from its text.

Each reader takes one file's text and returns what it sees used: a Python script's imports
(through ``ast``) and the programs its ``subprocess`` and ``os.system`` calls start, a
JavaScript file's ``require``/``import`` of packages, a shell script's programs (through
bash's grammar, so ``timeout -k 5 60 soffice …`` is ``soffice``), and the code blocks of a
Markdown document. Nothing is run. Names a program cannot have, the standard library,
Node's own modules and programs every shell has are left out: what remains is what a
backend may lack.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from ..conversation.shell_commands.parse import parse_command
from .package_names import EVERYWHERE_PROGRAMS, NODE_BUILTINS, import_name_of

__all__ = [
    "Need",
    "NeedKind",
    "Use",
    "code_blocks",
    "command_uses",
    "javascript_uses",
    "markdown_uses",
    "package_uses",
    "python_uses",
    "shebang_uses",
    "shell_uses",
]

NeedKind = Literal["program", "python", "node", "tool"]

_PROGRAM = re.compile(r"[A-Za-z0-9][\w.+-]*")
_MODULE = re.compile(r"[A-Za-z_]\w*")
_NODE_PACKAGE = re.compile(r"(@[a-z0-9][\w.-]*/)?[a-z0-9][\w.-]*", re.IGNORECASE)
_PYTHON = re.compile(r"python(3(\.\d+)?)?")
_SCRIPT_SUFFIXES = (".py", ".sh", ".js", ".mjs", ".cjs", ".ts", ".pl", ".rb")
_ARGUMENT_LISTS = {
    "subprocess.run",
    "subprocess.call",
    "subprocess.check_call",
    "subprocess.check_output",
    "subprocess.Popen",
}
"""Calls whose first argument is the command: a list of words, or a shell string."""
_SHELL_STRINGS = {
    "os.system",
    "os.popen",
    "subprocess.getoutput",
    "subprocess.getstatusoutput",
    "asyncio.create_subprocess_shell",
}
_STARTERS = _ARGUMENT_LISTS | _SHELL_STRINGS | {"asyncio.create_subprocess_exec", "shutil.which"}
_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
_IMPORT_LINE = re.compile(
    r"^\s*(?:from\s+([A-Za-z_][\w.]*)\s+import\b|import\s+([A-Za-z_][^\n#;]*))", re.M
)
_JS_SPECIFIER = re.compile(
    r"""(?:\brequire\s*\(\s*|\bimport\s*\(?\s*|\bfrom\s+)(['"])([^'"\n]+)\1"""
)
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})\s*([^`\s]*)")
_PLACEHOLDER = re.compile(r"<([A-Za-z_][\w.\-/]*)>")
_LANGUAGES = {
    "python": "python",
    "py": "python",
    "python3": "python",
    "bash": "shell",
    "sh": "shell",
    "shell": "shell",
    "zsh": "shell",
    "console": "shell",
    "shell-session": "shell",
    "javascript": "node",
    "js": "node",
    "mjs": "node",
    "cjs": "node",
    "jsx": "node",
    "node": "node",
    "typescript": "node",
    "ts": "node",
    "tsx": "node",
}
"""Code block languages (the word after the fence) and the reader each gets."""


@dataclass(frozen=True, order=True)
class Need:
    """Something a skill's code expects where its tools run."""

    kind: NeedKind
    name: str
    """A program, a top-level Python import name, an npm package, or a tool's name."""


@dataclass(frozen=True)
class Use:
    """One place code uses a need; ``optional`` when the code copes without it."""

    need: Need
    optional: bool = False


def python_uses(source: str, own: frozenset[str] = frozenset()) -> list[Use]:
    """Third-party imports (not the standard library, nor ``own`` modules of the skill)
    and the programs started through ``subprocess``/``os``; an import inside ``try``
    that catches ``ImportError`` is optional. Code that does not parse (a snippet with
    placeholders) is read line by line for its imports."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return [
            use
            for found in _IMPORT_LINE.finditer(source)
            for name in (found.group(1) or found.group(2)).split(",")
            if name.strip()
            for use in _module_use(name.split()[0], own, optional=False)
        ]
    reader = _PythonReader(own)
    reader.visit(tree)
    return reader.uses


def _module_use(dotted: str, own: frozenset[str], *, optional: bool) -> list[Use]:
    top = dotted.split(".")[0]
    if not _MODULE.fullmatch(top) or top in sys.stdlib_module_names or top in own:
        return []
    return [Use(Need("python", top), optional)]


class _PythonReader(ast.NodeVisitor):
    def __init__(self, own: frozenset[str]) -> None:
        self.own = own
        self.uses: list[Use] = []
        self.optional = False
        self.imported: dict[str, str] = {}
        """Local names of imported modules and functions: ``sp`` → ``subprocess``."""
        self.argv: dict[str, list[str]] = {}
        """Variables assigned a list of strings: ``cmd = ["soffice", …]`` run later."""

    def visit_Try(self, node: ast.Try) -> None:
        catches = any(self._catches_import_error(handler) for handler in node.handlers)
        before, self.optional = self.optional, self.optional or catches
        for statement in node.body:
            self.visit(statement)
        self.optional = before
        for part in (*node.handlers, *node.orelse, *node.finalbody):
            self.visit(part)

    visit_TryStar = visit_Try

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.imported[alias.asname or alias.name.split(".")[0]] = alias.name
            self.uses += _module_use(alias.name, self.own, optional=self.optional)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:
            for alias in node.names:
                self.imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            self.uses += _module_use(node.module, self.own, optional=self.optional)

    def visit_Assign(self, node: ast.Assign) -> None:
        words = _literal_words(node.value)
        if words:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.argv[target.id] = words
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        called = self._qualified(node.func)
        if node.args and called in _STARTERS:
            self.uses += [
                Use(use.need, self.optional or use.optional)
                for use in self._started(called, node.args)
            ]
        self.generic_visit(node)

    def _started(self, called: str, args: list[ast.expr]) -> list[Use]:
        """What a call that starts a program starts: an argument list, a shell string, or
        the program ``shutil.which`` looks for."""
        first = args[0]
        if called == "asyncio.create_subprocess_exec":
            return command_uses(_literal_words_of(args))
        if isinstance(first, ast.Name) and first.id in self.argv:
            return command_uses(self.argv[first.id])
        if isinstance(first, ast.List | ast.Tuple):
            return command_uses(_literal_words(first))
        text = _literal_text(first)
        if text is None:
            return []
        return command_uses([text]) if called == "shutil.which" else shell_uses(text)

    def _qualified(self, node: ast.expr) -> str:
        """``sp.run`` after ``import subprocess as sp`` is ``subprocess.run``."""
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            return f"{self.imported.get(node.value.id, node.value.id)}.{node.attr}"
        if isinstance(node, ast.Name):
            return self.imported.get(node.id, node.id)
        return ""

    def _catches_import_error(self, handler: ast.ExceptHandler) -> bool:
        if handler.type is None:
            return True
        caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        return any(self._qualified(kind) in _IMPORT_ERRORS for kind in caught)


def _literal_words(node: ast.expr) -> list[str]:
    """The leading string words of a list or tuple; ``sys.executable`` counts as python."""
    if not isinstance(node, ast.List | ast.Tuple):
        return []
    return _literal_words_of(node.elts)


def _literal_words_of(nodes: Sequence[ast.expr]) -> list[str]:
    words = []
    for element in nodes:
        if isinstance(element, ast.Attribute) and element.attr == "executable":
            words.append("python")
            continue
        text = _literal_text(element)
        if text is None:
            break
        words.append(text)
    return words


def _literal_text(node: ast.expr) -> str | None:
    """A string constant; an f-string with each substitution as the word ``X``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else "X" for part in node.values
        )
    return None


def command_uses(words: Sequence[str]) -> list[Use]:
    """What one command needs: its program, and what it installs or runs by name
    (``python -m markitdown``, ``pip install pdfplumber``, ``npm install docx``)."""
    if not words:
        return []
    program = words[0]
    if "/" in program and not program.startswith("/"):
        return []  # the skill's own script, run by its path
    program = program.rsplit("/", 1)[-1]
    if (
        not _PROGRAM.fullmatch(program)
        or program.endswith(_SCRIPT_SUFFIXES)
        or program in EVERYWHERE_PROGRAMS
    ):
        return []
    uses = [Use(Need("program", program))]
    args = list(words[1:])
    if _PYTHON.fullmatch(program):
        uses += _python_command_uses(args)
    elif program in ("pip", "pip3"):
        uses += _installed(args, "python")
    elif program in ("npm", "pnpm", "yarn"):
        uses += _installed(args, "node")
    elif program in ("node", "nodejs") and args[:1] in (["-e"], ["--eval"]) and len(args) > 1:
        uses += javascript_uses(args[1])
    return uses


def _python_command_uses(args: list[str]) -> list[Use]:
    """``python -m module …`` needs the module; ``python -c code`` what the code imports."""
    if len(args) > 1 and args[0] == "-c":
        return python_uses(args[1])
    if len(args) > 1 and args[0] == "-m":
        if args[1] == "pip":
            return _installed(args[2:], "python")
        return _module_use(args[1], frozenset(), optional=False)
    return []


def _installed(args: list[str], kind: Literal["python", "node"]) -> list[Use]:
    """The packages of ``pip install …`` or ``npm install …``: the skill expects them."""
    if not args or args[0] not in ("install", "i", "add"):
        return []
    specs, skip = [], False
    for arg in args[1:]:
        if not skip and not arg.startswith("-"):
            specs.append(arg)
        skip = arg in ("-r", "--requirement", "-c", "--constraint", "-e", "--prefix")
    return package_uses(specs, kind)


def package_uses(specs: Sequence[str], kind: Literal["python", "node"]) -> list[Use]:
    """Packages named as an installer takes them: ``pypdf>=5``, ``python-pptx``,
    ``docx@9``, ``@scope/name@1``; paths and URLs are left out."""
    uses = []
    for spec in specs:
        if "/" in spec and not spec.startswith("@"):
            continue
        if kind == "python":
            name = re.split(r"[\[<>=!~;@ ]", spec, maxsplit=1)[0]
            if _PROGRAM.fullmatch(name):
                uses.append(Use(Need("python", import_name_of(name))))
        else:
            name = re.sub(r"(?<=.)@[^/]*$", "", spec)
            if _NODE_PACKAGE.fullmatch(name):
                uses.append(Use(Need("node", name)))
    return uses


def shell_uses(text: str) -> list[Use]:
    """The programs a shell script or command line runs, as bash's grammar reads them; a
    program run by a relative path is the skill's own script."""
    uses = []
    for command in parse_command(text).commands:
        if command.path and not command.path.startswith("/"):
            continue
        uses += command_uses(command.words)
    return uses


def shebang_uses(text: str) -> list[Use]:
    """The interpreter a ``#!`` line names (``#!/usr/bin/env python3`` → python3)."""
    if not text.startswith("#!"):
        return []
    words = text[2:].split("\n", 1)[0].split()
    if words and words[0].rsplit("/", 1)[-1] == "env":
        words = [word for word in words[1:] if not word.startswith("-") and "=" not in word]
    return command_uses(words[:1])


def javascript_uses(source: str) -> list[Use]:
    """npm packages a JavaScript (or TypeScript) file requires or imports, by package name
    (``@scope/name``, or ``name`` of ``name/sub``); relative paths and Node's own modules
    are left out."""
    uses = []
    for found in _JS_SPECIFIER.finditer(source):
        specifier = found.group(2)
        if specifier.startswith((".", "/", "node:", "http:", "https:", "data:", "file:")):
            continue
        parts = specifier.split("/")
        name = "/".join(parts[:2]) if specifier.startswith("@") else parts[0]
        if name not in NODE_BUILTINS and _NODE_PACKAGE.fullmatch(name):
            uses.append(Use(Need("node", name)))
    return uses


def code_blocks(markdown: str) -> Iterator[tuple[str, str]]:
    """Each fenced code block's language (lower case, ``""`` when none) and text."""
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.fullmatch(lines[index].rstrip())
        index += 1
        if opening is None:
            continue
        fence, body = opening.group(1), []
        while index < len(lines):
            line = lines[index]
            index += 1
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                break
            body.append(line)
        yield opening.group(2).lower(), "\n".join(body)


def markdown_uses(markdown: str, own: frozenset[str] = frozenset()) -> list[Use]:
    """What a document's Python, shell and JavaScript code blocks use. Shell blocks are
    read as the commands a person would type: ``$`` prompts kept without their output,
    ``<placeholder>`` words taken as plain words rather than redirections."""
    uses = []
    for language, text in code_blocks(markdown):
        reader = _LANGUAGES.get(language)
        if reader == "python":
            uses += python_uses(text, own)
        elif reader == "node":
            uses += javascript_uses(text)
        elif reader == "shell":
            uses += shell_uses(_typed_commands(text))
    return uses


def _typed_commands(text: str) -> str:
    lines = text.splitlines()
    prompted = [line.lstrip()[2:] for line in lines if line.lstrip().startswith("$ ")]
    return _PLACEHOLDER.sub(r"\1", "\n".join(prompted or lines))
