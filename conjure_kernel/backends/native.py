"""The native backend: skills written as Python classes that run inside the kernel.

The Python counterpart of Conjure's in-BEAM native skills. A ``NativeSkill``
subclass reaches the user's live objects directly, with no shell or files between
them and the model; each method it implements becomes one tool.

Sync methods run in a worker thread so the kernel's event loop stays responsive.
An interrupt abandons such a call (the model is told it was interrupted) but cannot
kill the thread: Python has no way to stop a running thread, so a sync method that
loops forever keeps running in the background. ``async def`` methods are cancelled.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import BackendError
from ..skills.prompt import render_system_prompt
from ..skills.skill import Skill
from ..tools.call_watch import UNWATCHED, CallWatch
from ..tools.output import truncate_output
from ..tools.schemas import check_tool_input
from ..tools.values import ToolCall, ToolResult
from .base import ExecutorBackend, ExecutorSession, SessionOptions
from .gate import PermissionMode
from .local import host_workdir
from .settings import BackendSettings, setting

if TYPE_CHECKING:
    from anthropic.types import ToolParam

__all__ = ["NativeBackend", "NativeContext", "NativeExecutor", "NativeSession", "NativeSkill"]

_OPERATIONS = ("execute", "read", "write", "modify")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,55}$")
"""A skill name short enough that ``<name>_execute`` fits the API's 64-character tool names."""


def _text(description: str) -> dict[str, str]:
    return {"type": "string", "description": description}


_PATH = _text("The path, as the skill understands it.")
_SCHEMAS: dict[str, tuple[dict[str, Any], list[str], str]] = {
    "execute": ({"command": _text("The command.")}, ["command"], "Run a command with this skill."),
    "read": (
        {
            "path": _PATH,
            "offset": {"type": "integer", "description": "Where to start reading (optional)."},
            "limit": {"type": "integer", "description": "How much to read (optional)."},
        },
        ["path"],
        "Read from a path with this skill.",
    ),
    "write": (
        {"path": _PATH, "content": _text("The content to write.")},
        ["path", "content"],
        "Write content to a path with this skill.",
    ),
    "modify": (
        {
            "path": _PATH,
            "old_content": _text("The content to replace."),
            "new_content": _text("The replacement."),
        },
        ["path", "old_content", "new_content"],
        "Replace old_content with new_content at a path with this skill.",
    ),
}
"""Per operation: input properties, required keys (passed in order, then the context), purpose."""
_EXAMPLE = """define one in a cell, then switch to the native backend again; a complete example:
    class Greeter(NativeSkill):
        name = "greeter"
        description = "Greets a person by name."
        def execute(self, command, context):
            return f"Hello, {command}!"
"""


@dataclass(frozen=True)
class NativeContext:
    """What a native skill's method learns about the call besides its inputs."""

    workdir: Path
    """The session's working directory."""
    namespace: dict[str, Any] = field(repr=False)
    """The user's namespace (the notebook's globals), to reach live objects."""
    skill: str
    """The name of the skill being called."""


class NativeSkill:
    """Subclass to give Claude tools backed by Python; implement any of the four methods.

    Set ``name`` and ``description``. Methods may be plain or ``async def``; a return
    value reaches the model as ``str(value)``, and an exception as an error result.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def execute(self, command: str, context: NativeContext) -> Any:
        """Run ``command``; becomes the tool ``<name>_execute``."""
        raise NotImplementedError

    def read(
        self, path: str, context: NativeContext, offset: int | None = None, limit: int | None = None
    ) -> Any:
        """Read ``path``; becomes the tool ``<name>_read``."""
        raise NotImplementedError

    def write(self, path: str, content: str, context: NativeContext) -> Any:
        """Write ``content`` to ``path``; becomes the tool ``<name>_write``."""
        raise NotImplementedError

    def modify(self, path: str, old_content: str, new_content: str, context: NativeContext) -> Any:
        """Replace ``old_content`` with ``new_content`` at ``path``; becomes ``<name>_modify``."""
        raise NotImplementedError

    @classmethod
    def operations(cls) -> list[str]:
        """The methods this class overrides, in the order execute, read, write, modify."""
        return [op for op in _OPERATIONS if getattr(cls, op) is not getattr(NativeSkill, op)]

    def tool_name(self, operation: str) -> str:
        return f"{self.name.replace('-', '_')}_{operation}"

    def __repr__(self) -> str:
        tools = ", ".join(self.tool_name(op) for op in self.operations())
        return f"<{type(self).__name__} {self.name!r} tools: {tools}>"


class NativeExecutor:
    """Routes each tool call to its skill's method, off the event loop when it is sync."""

    def __init__(
        self,
        *,
        skills: Sequence[NativeSkill],
        workdir: Path,
        namespace: dict[str, Any],
        max_output_chars: int,
    ) -> None:
        self.workdir = workdir
        self.namespace = namespace
        self.max_output_chars = max_output_chars
        self._routes = {
            skill.tool_name(op): (skill, op) for skill in skills for op in skill.operations()
        }
        self._tools = {name: _tool_param(skill, op) for name, (skill, op) in self._routes.items()}

    @property
    def tools(self) -> Sequence[ToolParam]:
        return list(self._tools.values())

    async def run(self, call: ToolCall, watch: CallWatch = UNWATCHED) -> ToolResult:
        """Call the method; its return value or its exception becomes the result (a
        callable's own prints are the kernel's, so ``watch`` hears nothing)."""
        if call.name not in self._routes:
            return ToolResult(call.id, f"unknown tool {call.name!r}", is_error=True)
        problem = check_tool_input(self._tools[call.name], call.input)
        if problem:
            return ToolResult(call.id, problem, is_error=True)
        skill, operation = self._routes[call.name]
        context = NativeContext(self.workdir, self.namespace, skill.name)
        properties, required, _ = _SCHEMAS[operation]
        args = [call.input[key] for key in required]
        options = {
            k: call.input[k]
            for k in properties
            if k not in required and call.input.get(k) is not None
        }
        try:
            value = await _call(getattr(skill, operation), *args, context, **options)
            text = "(done)" if value is None else str(value)
        except Exception as error:  # the skill's failure is the model's to see
            return ToolResult(call.id, f"{type(error).__name__}: {error}", is_error=True)
        return ToolResult(call.id, truncate_output(text or "(no output)", self.max_output_chars))

    async def aclose(self) -> None:
        """Nothing to release: the skills belong to the user's namespace."""


async def _call(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Await async methods; run sync ones in a thread (and await what they may return)."""
    if inspect.iscoroutinefunction(method):
        return await method(*args, **kwargs)
    value = await asyncio.to_thread(method, *args, **kwargs)
    return await value if inspect.isawaitable(value) else value


def _tool_param(skill: NativeSkill, operation: str) -> ToolParam:
    properties, required, purpose = _SCHEMAS[operation]
    return {
        "name": skill.tool_name(operation),
        "description": f"{skill.description}\n\n{purpose} (Native skill {skill.name!r}, "
        "running in the user's Python kernel.)",
        "input_schema": {"type": "object", "properties": properties, "required": required},
    }


def _gather_skills(namespace: Mapping[str, Any]) -> list[NativeSkill]:
    """The usable native skills in ``namespace``, checked and sorted by name.

    An instance is used as it is (it may hold state); a class is instantiated with no
    arguments unless an instance of it is already there.
    """
    instances = {id(v): v for v in namespace.values() if isinstance(v, NativeSkill)}
    classes = {v for v in namespace.values() if isinstance(v, type) and issubclass(v, NativeSkill)}
    classes -= {type(instance) for instance in instances.values()}
    found = [*instances.values(), *(_instantiate(c) for c in classes if _usable(c))]
    found = sorted((skill for skill in found if _usable(type(skill))), key=lambda s: s.name)
    for skill in found:
        _check(skill)
    names = [skill.name for skill in found]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise BackendError(
            f"several native skills are named {', '.join(map(repr, duplicates))}",
            hint="give each NativeSkill subclass its own name",
        )
    return found


def _usable(cls: type[NativeSkill]) -> bool:
    return cls is not NativeSkill and not inspect.isabstract(cls) and bool(cls.operations())


def _instantiate(cls: type[NativeSkill]) -> NativeSkill:
    try:
        return cls()
    except Exception as error:
        raise BackendError(
            f"the native skill class {cls.__qualname__} could not be created with no arguments: "
            f"{type(error).__name__}: {error}",
            hint=f"create an instance yourself (for example skill = {cls.__qualname__}(...)); "
            "instances in the namespace are used as they are",
        ) from error


def _check(skill: NativeSkill) -> None:
    where = type(skill).__qualname__
    if not _NAME.match(skill.name or ""):
        raise BackendError(
            f"the native skill {where} has the name {skill.name!r}",
            hint="set name to 1-56 letters, digits, '-' or '_', for example name = \"my-skill\"",
        )
    if not (skill.description or "").strip():
        raise BackendError(
            f"the native skill {where} ({skill.name!r}) has no description",
            hint="set description to a sentence saying what the skill does and when to use it",
        )


def _describe_skills(skills: Sequence[NativeSkill]) -> str:
    rows = [
        f"- {skill.name}: {skill.description.strip()} Tools: "
        + ", ".join(skill.tool_name(op) for op in skill.operations())
        for skill in skills
    ]
    return "\n".join(
        ["Native skills (Python objects in the user's kernel; call their tools directly):", *rows]
    )


@dataclass(kw_only=True)
class NativeSession(ExecutorSession):
    """The native skills found when the session was created, and their executor."""

    backend_type: str = "native"
    native_skills: tuple[NativeSkill, ...]

    def describe(self) -> str:
        names = ", ".join(skill.name for skill in self.native_skills)
        return (
            f"native: Python skills in this kernel: {names} (workdir={self.workdir}). "
            "Boundary: none; the methods run in the kernel's own process and can read, write "
            "and reach whatever the kernel can, so use it for code you trust"
        )


@dataclass(frozen=True)
class NativeSettings(BackendSettings):
    """``%backend native key=value…``."""

    workdir: str = setting("", "folder given to skills as context.workdir; empty: the kernel's")


class NativeBackend(ExecutorBackend):
    """Tools are methods of ``NativeSkill`` objects in the user's namespace.

    Agent Skills folders are not offered: reading them needs the file tools, which
    this backend does not have.
    """

    backend_type: ClassVar[str] = "native"
    permission_mode: ClassVar[PermissionMode] = "auto"
    """The tools are the person's own methods, already running in their kernel."""
    settings_class: ClassVar[type[NativeSettings]] = NativeSettings

    async def open_session(self, skills: Sequence[Skill], options: SessionOptions) -> NativeSession:
        namespace = options.namespace if options.namespace is not None else {}
        native = _gather_skills(namespace)
        if not native:
            raise BackendError(
                "no NativeSkill subclass or instance was found in the namespace", hint=_EXAMPLE
            )
        workdir = host_workdir(NativeSettings.of(options.settings).workdir)
        executor = NativeExecutor(
            skills=native,
            workdir=workdir,
            namespace=namespace,
            max_output_chars=options.max_output_chars,
        )
        preamble = render_system_prompt(
            [],
            location=lambda skill: str(skill.skill_md),
            environment="Your tools are Python methods that run inside the user's Jupyter kernel.",
        )
        return NativeSession(
            workdir=workdir,
            native_skills=tuple(native),
            executor=executor,
            system_prompt=f"{preamble}\n\n{_describe_skills(native)}",
        )
