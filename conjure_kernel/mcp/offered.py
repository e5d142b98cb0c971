"""An MCP server's tools as the model is offered them: ``mcp__SERVER__TOOL`` with their schemas.

The Messages API refuses a tool whose name is not ``^[a-zA-Z0-9_-]{1,64}$``, whose
``input_schema`` is not an object schema, has ``oneOf``/``anyOf``/``allOf`` at its top
level or is not valid JSON Schema (draft 2020-12, checked with ``jsonschema``, which the
``mcp`` SDK depends on), and then refuses the whole request. Such a tool is left out and
said once, when the server connects, rather than breaking every turn.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from ..clients.server_tools import MCP_PREFIX as PREFIX
from ..clients.server_tools import mcp_tool_name as tool_name
from ..tools.output import one_line

__all__ = ["PREFIX", "OfferedTool", "offer_tools", "schema_problem", "tool_name"]

_API_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_TOP_LEVEL_REFUSED = ("oneOf", "anyOf", "allOf")
_DESCRIPTION_CHARS = 4000
"""The most of a server's description of a tool that the model gets."""


@dataclass(frozen=True)
class OfferedTool:
    """One tool of one server, under the name the model knows it by."""

    server: str
    name: str
    """The server's own name for it."""
    description: str
    input_schema: dict[str, Any]

    @property
    def offered_name(self) -> str:
        return tool_name(self.server, self.name)

    def to_param(self) -> dict[str, Any]:
        return {
            "name": self.offered_name,
            "description": self.description[:_DESCRIPTION_CHARS] or f"{self.name} ({self.server})",
            "input_schema": self.input_schema,
        }


def offer_tools(server: str, listed: Sequence[Any]) -> tuple[list[OfferedTool], list[str]]:
    """The listed tools (``mcp.types.Tool``) the API takes, and a line for each it would refuse."""
    offered, refused = [], []
    for tool in listed:
        name = tool_name(server, tool.name)
        schema = tool.input_schema
        if not _API_NAME.fullmatch(name):
            refused.append(f"{tool.name!r}: the name {name!r} is not 1-64 letters, digits, _ or -")
        elif any(kept.offered_name == name for kept in offered):
            refused.append(f"{tool.name!r}: the server lists a tool of that name already")
        elif problem := schema_problem(schema):
            refused.append(f"{tool.name!r}: its input schema {problem}")
        else:
            offered.append(OfferedTool(server, tool.name, tool.description or "", dict(schema)))
    return offered, refused


def schema_problem(schema: Any) -> str:
    """Why the API would refuse ``schema`` as a tool's ``input_schema``, else empty."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return "is not an object schema"
    if combined := [key for key in _TOP_LEVEL_REFUSED if key in schema]:
        return f"has {'/'.join(combined)} at its top level, which the API does not take"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        return f"is not valid JSON Schema at {error.json_path}: {one_line(error.message, 200)}"
    return ""
