"""Server tool blocks (hosted code execution and its kin) as the tool values the rest uses.

The API runs these tools itself and sends their results back as blocks whose
``content`` comes in many shapes, one family per tool and version: bash and text
editor results for ``code_execution_20250825`` and later, ``code_execution_result``
and its encrypted form for the legacy Python tool, an error object for each. The API's
MCP connector calls a remote server's tools the same way, in ``mcp_tool_use`` and
``mcp_tool_result`` blocks, named here ``mcp__SERVER__TOOL`` as the kernel names the
tools of the MCP servers it calls itself, so rules and traces read alike. Here they
become the same ``ToolCall`` and ``ToolResult`` the local tools produce, so views and
records show hosted and local calls alike. A shape this module does not know is shown
as raw JSON rather than dropped: the API adds tools faster than this code learns them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..tools.output import format_exec_result, truncate_output
from ..tools.printed_limits import MODEL_CHARS
from ..tools.values import ExecResult, ToolCall, ToolResult
from .base import ServerToolResult, ServerToolUse

__all__ = [
    "MCP_PREFIX",
    "SERVER_CALLS",
    "file_ids",
    "is_server_tool_result",
    "mcp_tool_name",
    "server_call_name",
    "tool_call",
    "tool_result",
    "unserved_connector_calls_as_text",
]

ENCRYPTED_STDOUT = "(stdout is encrypted: the code called another server tool)"
"""What stands for the stdout of an ``encrypted_code_execution_result``."""

MCP_PREFIX = "mcp__"
SERVER_CALLS = frozenset({"server_tool_use", "mcp_tool_use"})
"""Block types of a call the API runs itself: a server tool's, or its MCP connector's."""

_OUTPUT_ITEMS = frozenset({"bash_code_execution_output", "code_execution_output"})
_EXEC_RESULTS = frozenset({"bash_code_execution_result", "code_execution_result"})


def mcp_tool_name(server: str, tool: str) -> str:
    """The name an MCP server's tool goes by: ``mcp__SERVER__TOOL``, wherever it runs."""
    return f"{MCP_PREFIX}{server}__{tool}"


def server_call_name(block: Mapping[str, Any]) -> str:
    """The name a call block (one of ``SERVER_CALLS``) shows under: its tool's, or for the
    MCP connector's, ``mcp__SERVER__TOOL``."""
    if block.get("type") == "mcp_tool_use":
        return mcp_tool_name(str(block.get("server_name", "")), str(block.get("name", "")))
    return str(block.get("name", ""))


def is_server_tool_result(block_type: str) -> bool:
    """Whether a content block type is a server tool's result (``web_search_tool_result``…).

    A client ``tool_result`` is not: the caller sends those, the API never does.
    """
    return block_type.endswith("_tool_result")


def tool_call(use: ServerToolUse) -> ToolCall:
    """The ``ToolCall`` of a ``server_tool_use`` block (``bash_code_execution``…)."""
    return ToolCall(use.id, use.name, dict(use.input))


def tool_result(result: ServerToolResult, *, limit: int = MODEL_CHARS) -> ToolResult:
    """What a server tool's result block says, as text the way a local tool shows it.

    Command results read like the local bash tool's (stdout, ``stderr:``, exit code)
    and are errors when the exit code is not 0; error objects are errors naming their
    code; an unknown shape is the block's JSON. ``limit`` caps the text's length.
    """
    content = result.block.get("content")
    if result.block_type == "mcp_tool_result":
        return _mcp_result(result, limit)
    if not isinstance(content, Mapping):
        return ToolResult(result.tool_use_id, _raw(result.block, limit))
    kind = str(content.get("type", ""))
    if kind in _EXEC_RESULTS and _is_exec(content):
        return _exec_result(result.tool_use_id, content, str(content["stdout"]), limit)
    if kind == "encrypted_code_execution_result" and _is_exec(content, stdout="encrypted_stdout"):
        return _exec_result(result.tool_use_id, content, ENCRYPTED_STDOUT, limit)
    if kind.endswith("_error") and "error_code" in content:
        return ToolResult(result.tool_use_id, _error_text(content), is_error=True)
    text = _text_editor_text(kind, content)
    if text is None:
        return ToolResult(result.tool_use_id, _raw(result.block, limit))
    return ToolResult(result.tool_use_id, truncate_output(text, limit))


def file_ids(result: ServerToolResult) -> list[str]:
    """The ids of the files the container produced in this step (for the Files API)."""
    content = result.block.get("content")
    items = content.get("content") if isinstance(content, Mapping) else None
    if not isinstance(items, list):
        return []
    return [
        str(item["file_id"])
        for item in items
        if isinstance(item, Mapping) and item.get("type") in _OUTPUT_ITEMS and "file_id" in item
    ]


def _mcp_result(result: ServerToolResult, limit: int) -> ToolResult:
    """An MCP connector's result: its text (a string, or text blocks), and its error flag."""
    content = result.block.get("content")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list) and all(
        isinstance(item, Mapping) and item.get("type") == "text" for item in content
    ):
        text = "\n".join(str(item.get("text", "")) for item in content)
    else:
        return ToolResult(result.tool_use_id, _raw(result.block, limit))
    failed = bool(result.block.get("is_error"))
    shown = text or ("(the tool failed and said nothing)" if failed else "(no output)")
    return ToolResult(result.tool_use_id, truncate_output(shown, limit), is_error=failed)


def _is_exec(content: Mapping[str, Any], *, stdout: str = "stdout") -> bool:
    return isinstance(content.get("return_code"), int) and isinstance(content.get(stdout), str)


def _exec_result(
    tool_use_id: str, content: Mapping[str, Any], stdout: str, limit: int
) -> ToolResult:
    code = int(content["return_code"])
    shown = ExecResult(code, stdout, str(content.get("stderr") or ""))
    return ToolResult(
        tool_use_id, format_exec_result(shown, limit), is_error=code != 0, exit_code=code
    )


def _error_text(content: Mapping[str, Any]) -> str:
    """``error: file_not_found: …``; the code alone when the API gave no message."""
    message = content.get("error_message")
    return f"error: {content['error_code']}" + (f": {message}" if message else "")


def _text_editor_text(kind: str, content: Mapping[str, Any]) -> str | None:
    """The text of a text editor result, or ``None`` for a shape that is not one."""
    if kind == "text_editor_code_execution_view_result":
        return _view_text(content)
    if kind == "text_editor_code_execution_create_result":
        return "file updated" if content.get("is_file_update") else "file created"
    if kind == "text_editor_code_execution_str_replace_result":
        return _str_replace_text(content)
    return None


def _view_text(content: Mapping[str, Any]) -> str:
    """The viewed text, after a note when it is only part of the file or not text."""
    file_type = content.get("file_type", "text")
    if file_type != "text":
        return f"({file_type} file, not shown as text)"
    start, shown, total = (content.get(k) for k in ("start_line", "num_lines", "total_lines"))
    text = str(content.get("content") or "") or "(empty file)"
    numbers = isinstance(start, int) and isinstance(shown, int) and isinstance(total, int)
    if numbers and shown < total:
        return f"(lines {start}-{start + shown - 1} of {total})\n{text}"
    return text


def _str_replace_text(content: Mapping[str, Any]) -> str:
    """A unified-diff style hunk header, then the edited lines the API sent back."""
    numbers = [content.get(k) for k in ("old_start", "old_lines", "new_start", "new_lines")]
    header = (
        "@@ -{},{} +{},{} @@".format(*numbers)
        if all(isinstance(n, int) for n in numbers)
        else "edited"
    )
    lines = content.get("lines") or []
    return "\n".join([header, *(str(line).rstrip("\n") for line in lines)])


def _raw(block: Mapping[str, Any], limit: int) -> str:
    return truncate_output(json.dumps(block, ensure_ascii=False, indent=1), limit)


_CONNECTOR_BLOCKS = frozenset({"mcp_tool_use", "mcp_tool_result"})


def unserved_connector_calls_as_text(messages: list[Any], offered: frozenset[str]) -> list[Any]:
    """``messages`` with the MCP connector's calls to servers not in ``offered`` (the
    turn's ``mcp_servers``) written as text: the API refuses a connector block whose
    server it is not given (one removed or denied since, a switch to another backend),
    and the model keeps what was called and what came back. A turn rewrites its
    conversation once, before its first request; changed messages are copies."""
    servers: dict[str, str] = {}
    written = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str) or not any(
            isinstance(block, Mapping) and block.get("type") in _CONNECTOR_BLOCKS
            for block in content
        ):
            written.append(message)
            continue
        blocks = []
        for block in content:
            if block.get("type") == "mcp_tool_use":
                servers[block.get("id", "")] = str(block.get("server_name", ""))
            server = servers.get(block.get("tool_use_id") or block.get("id") or "", "")
            if block.get("type") not in _CONNECTOR_BLOCKS or server in offered:
                blocks.append(block)
            elif block["type"] == "mcp_tool_use":
                called = json.dumps(block.get("input") or {}, ensure_ascii=False)
                blocks.append(
                    {"type": "text", "text": f"[called {server_call_name(block)} {called}]"}
                )
            else:
                parts = block.get("content")
                text = (
                    parts
                    if isinstance(parts, str)
                    else "".join(
                        str(part.get("text", ""))
                        for part in parts or ()
                        if isinstance(part, Mapping)
                    )
                )
                failed = " (an error)" if block.get("is_error") else ""
                blocks.append({"type": "text", "text": f"[its result{failed}: {text}]"})
        written.append({**message, "content": blocks})
    return written
