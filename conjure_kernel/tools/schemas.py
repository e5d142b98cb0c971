"""The four tools the model sees for skills: ``view``, ``bash_tool``, ``create_file``, ``str_replace``.

They are custom client tools (JSON Schema inputs), so every backend runs them the same way
and a recorded notebook replays on any backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anthropic.types import ToolParam


__all__ = [
    "BASH_TOOL",
    "CREATE_FILE",
    "SKILL_TOOLS",
    "STR_REPLACE",
    "VIEW",
    "check_tool_input",
]

_DESCRIPTION = {
    "type": "string",
    "description": "One short sentence saying why you run this, shown to the user.",
}

VIEW: ToolParam = {
    "name": "view",
    "description": (
        "Read a text file (with line numbers) or list a directory two levels deep. "
        "Use it to read a skill's SKILL.md at the location given in <available_skills>."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "Absolute path, or relative to the working directory.",
            },
            "view_range": {
                "type": "array",
                "items": {"type": "integer"},
                "minItems": 2,
                "maxItems": 2,
                "description": "Optional [first, last] line numbers, 1-based; last may be -1 for the end.",
            },
            "description": _DESCRIPTION,
        },
        "required": ["path"],
    },
}

BASH_TOOL: ToolParam = {
    "name": "bash_tool",
    "description": (
        "Run a bash command in the session's working directory and return its exit code, "
        "stdout and stderr. Long outputs are shortened, keeping the head and the tail."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The bash command to run."},
            "description": _DESCRIPTION,
        },
        "required": ["command"],
    },
}

CREATE_FILE: ToolParam = {
    "name": "create_file",
    "description": "Create a file, or overwrite it, with the given text. Parent folders are created.",
    "input_schema": {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "Where to write the file."},
            "file_text": {"type": "string", "description": "The whole content of the file."},
            "description": _DESCRIPTION,
        },
        "required": ["path", "file_text"],
    },
}

STR_REPLACE: ToolParam = {
    "name": "str_replace",
    "description": (
        "Replace one occurrence of old_str in a file with new_str. old_str must appear exactly "
        "once; include enough surrounding lines to make it unique."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "The file to edit."},
            "old_str": {
                "type": "string",
                "description": "The exact text to replace; must be unique.",
            },
            "new_str": {"type": "string", "description": "The replacement text (may be empty)."},
            "description": _DESCRIPTION,
        },
        "required": ["path", "old_str"],
    },
}

SKILL_TOOLS: tuple[ToolParam, ...] = (VIEW, BASH_TOOL, CREATE_FILE, STR_REPLACE)


_JSON_TYPES: dict[str, type] = {"string": str, "integer": int, "array": list, "object": dict}


def check_tool_input(tool: ToolParam, arguments: Mapping[str, Any]) -> str | None:
    """Say what is wrong with a call's input (a missing key, a wrong type), or None.

    The model sometimes sends malformed input; it gets a message it can act on.
    """
    schema: Mapping[str, Any] = tool["input_schema"]  # type: ignore[assignment]
    for key in schema.get("required", ()):
        if key not in arguments:
            return f"{tool['name']} needs the input {key!r}, which is missing"
    for key, spec in schema.get("properties", {}).items():
        expected = _JSON_TYPES.get(spec.get("type", ""))
        value = arguments.get(key)
        wrong = expected is not None and not isinstance(value, expected)
        if value is not None and (wrong or (expected is int and isinstance(value, bool))):
            return f"{tool['name']}: the input {key!r} must be of type {spec['type']}"
    return None
