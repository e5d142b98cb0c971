"""An MCP server's tools as the model is offered them: ``mcp__SERVER__TOOL`` with their schemas.

The Messages API refuses a tool whose name is not ``^[a-zA-Z0-9_-]{1,64}$`` or whose
``input_schema`` is not an object schema, and then refuses the whole request. Such a
tool is left out and said once, when the server connects, rather than breaking a turn.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["PREFIX", "OfferedTool", "offer_tools", "tool_name"]

PREFIX = "mcp__"
_API_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_DESCRIPTION_CHARS = 4000
"""The most of a server's description of a tool that the model gets."""


def tool_name(server: str, tool: str) -> str:
    """The name the model calls a server's tool by."""
    return f"{PREFIX}{server}__{tool}"


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
        elif not isinstance(schema, dict) or schema.get("type") != "object":
            refused.append(f"{tool.name!r}: its input schema is not an object schema")
        else:
            offered.append(OfferedTool(server, tool.name, tool.description or "", dict(schema)))
    return offered, refused
