"""What an MCP server is: a program spoken to over stdio, or a streamable HTTP URL.

Read from the shape Claude Code's project file ``.mcp.json`` uses, so one file serves
both: ``{"mcpServers": {NAME: {"command", "args", "env"} | {"type": "http", "url",
"headers"}}}``, with ``${VAR}`` and ``${VAR:-default}`` filled from the kernel's
environment in command, args, env, url and headers, so a file can name a secret without
holding it. Each fault is one line that names the server and the field.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import McpServerError

__all__ = [
    "HttpServer",
    "ServerDefinition",
    "StdioServer",
    "check_name",
    "read_servers",
    "server_from_json",
    "servers_from_json",
]

_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")
_HTTP_TYPES = {"http", "streamable-http", "streamable_http"}
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class StdioServer:
    """A program that speaks MCP on its stdin and stdout, started where the tools run."""

    name: str
    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return " ".join([self.command, *self.args])

    def to_json(self) -> dict[str, Any]:
        return {"command": self.command, "args": list(self.args), "env": dict(self.env)}


@dataclass(frozen=True)
class HttpServer:
    """A streamable HTTP endpoint, reached from the kernel."""

    name: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return self.url

    def to_json(self) -> dict[str, Any]:
        return {"type": "http", "url": self.url, "headers": dict(self.headers)}


ServerDefinition = StdioServer | HttpServer


def check_name(name: str) -> str:
    """A server's name goes into tool names (``mcp__NAME__TOOL``): letters, digits, ``_``, ``-``;
    no ``__`` and no ``_`` at either end, so that one name and tool cannot spell another's
    (``gh_`` with ``x`` and ``gh`` with ``_x``)."""
    if not _NAME.fullmatch(name) or "__" in name or name.startswith("_") or name.endswith("_"):
        raise McpServerError(
            f"{name!r} cannot name an MCP server",
            hint="use up to 40 letters, digits, '_' or '-' (no '__', no '_' at either end), "
            "e.g. github",
        )
    return name


def server_from_json(name: str, data: Any, *, source: str = "") -> ServerDefinition:
    """One entry of ``mcpServers``; ``source`` says where it was read, for the error."""
    where = f" in {source}" if source else ""
    if not isinstance(data, Mapping):
        raise McpServerError(f"the MCP server {name!r}{where} is not an object")
    check_name(name)
    data = _expanded(data, f"the MCP server {name!r}{where}")
    kind = str(data.get("type") or ("http" if "url" in data else "stdio"))
    if kind in _HTTP_TYPES:
        url = data.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise McpServerError(f"the MCP server {name!r}{where} needs an http(s) url")
        return HttpServer(name, url, _strings(data.get("headers"), name, "headers", where))
    if kind != "stdio":
        raise McpServerError(
            f"the MCP server {name!r}{where} has type {kind!r}",
            hint="use a command (stdio) or type http with a url; sse is not supported",
        )
    command = data.get("command")
    if not isinstance(command, str) or not command:
        raise McpServerError(f"the MCP server {name!r}{where} needs a command or a url")
    args = data.get("args") or []
    if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
        raise McpServerError(f"the args of the MCP server {name!r}{where} must be strings")
    return StdioServer(name, command, tuple(args), _strings(data.get("env"), name, "env", where))


def servers_from_json(data: Any, *, source: str = "") -> list[ServerDefinition]:
    """Every server of a ``.mcp.json``-shaped object (``{"mcpServers": {...}}``, or the
    inner map); the first bad entry raises."""
    servers, problems = read_servers(data, source=source)
    if problems:
        raise problems[0]
    return servers


def read_servers(
    data: Any, *, source: str = ""
) -> tuple[list[ServerDefinition], list[McpServerError]]:
    """The good servers of a ``.mcp.json``-shaped object, and what is wrong with the others:
    one bad entry does not cost a file its other servers."""
    if isinstance(data, Mapping) and "mcpServers" in data:
        data = data["mcpServers"]
    if not isinstance(data, Mapping):
        where = f" in {source}" if source else ""
        return [], [McpServerError(f"the MCP servers{where} are not an object")]
    servers, problems = [], []
    for name, entry in data.items():
        try:
            servers.append(server_from_json(str(name), entry, source=source))
        except McpServerError as error:
            problems.append(error)
    return servers, problems


def _strings(value: Any, name: str, field_name: str, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise McpServerError(
            f"the {field_name} of the MCP server {name!r}{where} must map names to strings"
        )
    return {str(key): val for key, val in value.items()}


def _expanded(data: Mapping[str, Any], server: str) -> dict[str, Any]:
    """``data`` with ``${VAR}`` and ``${VAR:-default}`` filled in the fields that take them."""
    filled = dict(data)
    for key in ("command", "url"):
        if isinstance(filled.get(key), str):
            filled[key] = _fill(filled[key], server)
    if isinstance(filled.get("args"), list):
        filled["args"] = [
            _fill(arg, server) if isinstance(arg, str) else arg for arg in filled["args"]
        ]
    for key in ("env", "headers"):
        if isinstance(filled.get(key), Mapping):
            filled[key] = {
                name: _fill(value, server) if isinstance(value, str) else value
                for name, value in filled[key].items()
            }
    return filled


def _fill(text: str, server: str) -> str:
    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = os.environ.get(name)
        if found is not None:
            return found
        if default is not None:
            return default
        raise McpServerError(
            f"{server} uses ${{{name}}}, which is not set in the kernel's environment",
            hint=f"set {name} before starting the kernel, or give a default: ${{{name}:-value}}",
        )

    return _VARIABLE.sub(value, text)
