"""``%mcp``: the session's MCP servers, added, listed and removed, and where they come from.

Split from magics.py: MCP servers are their own source of tools. Servers come from the
configuration (``c.McpMagics.servers``) and from ``.mcp.json`` in the notebook's folder,
the project file Claude Code reads (``{"mcpServers": {NAME: {"command", "args", "env"} |
{"type": "http", "url", "headers"}}}``), when the session is made; ``%mcp add`` adds one
for this session. The project file's servers that would run outside a sandbox start
only after ``%mcp trust NAME``, one by one: a cloned folder's file must not run programs
on this machine unasked. On the hosted backend no program starts here: a URL server is
listed from the kernel and offered through the API's MCP connector (``hosted_mcp``),
and what cannot be offered there is said in one line. ``ConjureMagics`` creates this
class and registers it beside itself.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from traitlets import Bool, Dict, Float, observe

from ..backends.mcp_sources import backend_lines, connector_takes, place_servers
from ..errors import ConjureError
from ..mcp.connection import START_SECONDS, McpConnection
from ..mcp.registry import McpServers
from ..mcp.servers import HttpServer, ServerDefinition, StdioServer, check_name, read_servers
from .recording import current_notebook
from .wording import worded_for_notebook

if TYPE_CHECKING:
    from ..conversation.session import Session
    from .magics import ConjureMagics

__all__ = ["PROJECT_FILE", "McpMagics"]

PROJECT_FILE = ".mcp.json"
_SHOWN_TOOLS = 12
USAGE = (
    "%mcp | %mcp add NAME [env=K=V …] -- COMMAND ARGS… | "
    "%mcp add NAME URL [header=K:V …] | %mcp remove NAME | %mcp restart NAME | "
    "%mcp trust [NAME]"
)


@magics_class
class McpMagics(Magics):
    """MCP servers whose tools the model is offered as ``mcp__SERVER__TOOL``."""

    servers = Dict(
        help="MCP servers every session starts with, in .mcp.json's shape: "
        "{'mcpServers': {NAME: {'command', 'args', 'env'} | {'type': 'http', 'url', 'headers'}}} "
        "(or the inner map).",
    ).tag(config=True)
    project_file = Bool(
        True, help=f"Read MCP servers from {PROJECT_FILE} in the notebook's folder too."
    ).tag(config=True)
    timeout = Float(300.0, help="Seconds one MCP tool call may take.").tag(config=True)
    start_timeout = Float(
        START_SECONDS,
        help="Seconds an MCP server may take to start and list its tools; one stuck past "
        "them is stopped with its processes.",
    ).tag(config=True)

    def __init__(self, shell: Any = None, *, conjure: ConjureMagics, **kwargs: Any) -> None:
        self.conjure = conjure
        self._servers: McpServers | None = None
        """The servers of the session configured last, which a new timeout applies to."""
        super().__init__(shell=shell, **kwargs)

    @observe("timeout", "start_timeout")
    def _timeout_changed(self, change: dict[str, Any]) -> None:
        """``%config McpMagics.timeout = …`` applies from the next call, ``start_timeout``
        from the next start."""
        if self._servers is not None:
            setattr(self._servers, change["name"], change["new"])

    def configure(self, session: Session) -> None:
        """Give a new session the configured servers; they start at its first turn. A bad
        entry is one warning line and is skipped."""
        self._servers = session.mcp
        session.mcp.timeout, session.mcp.start_timeout = self.timeout, self.start_timeout
        for server, project_file in self._configured():
            session.mcp.define(server, project_file=project_file)

    @line_magic
    def mcp(self, line: str) -> None:
        """List the session's MCP servers, their state and tools; add or remove one.

        %mcp                                    servers, where they run, state, tools
        %mcp add NAME [env=K=V …] -- COMMAND ARGS…   a stdio server, started where the tools run
        %mcp add NAME URL [header=K:V …]        a streamable HTTP server, reached from the kernel
        %mcp remove NAME                        stop and forget it
        %mcp restart NAME                       start it again (a failed start is not retried)
        %mcp trust                              list the project file's servers that wait
        %mcp trust NAME                         approve and start one of them (.mcp.json)
        """
        words = shlex.split(line)
        action = words[0] if words else "list"
        try:
            if action == "list" and len(words) <= 1:
                self._list()
            elif action == "add" and len(words) >= 3:
                self._add(parse_server(words[1:]))
            elif action == "remove" and len(words) == 2:
                if not self.conjure.session.mcp.remove(words[1]):
                    raise UsageError(f"no MCP server is named {words[1]!r}; %mcp lists them")
                print(f"removed the MCP server {words[1]}")
            elif action == "restart" and len(words) == 2:
                self._restart(words[1])
            elif action == "trust" and len(words) == 1:
                self._waiting()
            elif action == "trust" and len(words) == 2:
                self._trust(words[1])
            else:
                raise UsageError(f"usage: {USAGE}")
        except ConjureError as error:
            raise worded_for_notebook(error) from None

    def _add(self, server: ServerDefinition) -> None:
        session = self.conjure.session
        replaying = session.replay is not None and not session.replay.live
        if replaying:  # answered from the recording: nothing needs to run
            session.mcp.define(server)
            print(f"{server.name}: defined; this replay answers its calls as recorded")
            return
        if self._starts_here(server):
            _print_started(session.mcp.add(server))
        else:
            session.mcp.define(server)
            print(f"{server.name}: defined; it starts on a backend that runs tools here")
        self._print_backend_lines(server.name)

    def _restart(self, name: str) -> None:
        servers = self.conjure.session.mcp
        if name not in servers.connections:
            raise UsageError(f"no MCP server is named {name!r}; %mcp lists them")
        if self._starts_here(servers.connections[name].server):
            connection = servers.connections[name]  # placing may have made it anew
            if file := servers.unapproved(connection):
                raise UsageError(
                    f"{name} comes from {file}: %mcp trust {name} approves and starts it"
                )
            servers.restart(name)
            _print_started(connection)
        else:
            print(f"{name}: it starts on a backend that runs tools here")
        self._print_backend_lines(name)

    def _waiting(self) -> None:
        """The project file's servers that wait for approval, and how to approve each."""
        servers = self.conjure.session.mcp
        if not servers.awaiting:
            print("no MCP server waits for approval")
            return
        print("waiting for approval (read the file first; each starts once approved):")
        for name, file in servers.awaiting.items():
            server = servers.connections[name].server
            print(f"  {name} [{server.describe()}] from {file}: %mcp trust {name}")

    def _trust(self, name: str) -> None:
        servers = self.conjure.session.mcp
        if name not in servers.connections:
            raise UsageError(f"no MCP server is named {name!r}; %mcp lists them")
        if not servers.trust(name):
            print(f"{name} does not wait for approval")
            return
        print(f"approved for this session: {name}")
        if self._starts_here(servers.connections[name].server):
            connection = servers.connections[name]  # placing may have made it anew
            if not connection.running:
                servers.restart(name)
            _print_started(connection)
        self._print_backend_lines(name)

    def _starts_here(self, server: ServerDefinition) -> bool:
        """Whether ``server`` starts now: on a backend that runs tools here (its stdio
        servers placed there first), or, on the hosted backend, a URL server the API's MCP
        connector can pass (the kernel lists its tools)."""
        session = self.conjure.session
        placed = place_servers(session.mcp, session.backend_session)
        if placed is None:
            return connector_takes(server, session.backend_session)
        session.runner.run(placed.ready_for_programs())
        return True

    def _print_backend_lines(self, name: str = "") -> None:
        """What the backend cannot do with the servers (or the one named), as warnings."""
        session = self.conjure.session
        for line in backend_lines(session.mcp, session.backend, name):
            print(line, file=sys.stderr)

    def _list(self) -> None:
        servers = self.conjure.session.mcp
        if not servers.connections:
            print(f"no MCP servers; add one with {USAGE.split(' | ', 1)[1]}")
            return
        for connection in servers.connections.values():
            file = servers.awaiting.get(connection.server.name)
            name = connection.server.name
            waits = (
                f" (from {file}: outside a sandbox it starts after %mcp trust {name})"
                if file
                else ""
            )
            print(describe(connection) + waits)
            for refused in connection.refused:
                print(f"  left out (the API would refuse it): {refused}")
        self._print_backend_lines()

    def _configured(self) -> list[tuple[ServerDefinition, str]]:
        """The configured servers, each with the project file it came from (else empty)."""
        found: dict[str, tuple[ServerDefinition, str]] = {}
        sources: list[tuple[str, Any, str]] = (
            [("c.McpMagics.servers", self.servers, "")] if self.servers else []
        )
        project = self._project_file()
        if project is not None:
            try:
                sources.append((str(project), json.loads(project.read_text()), str(project)))
            except (OSError, ValueError) as error:
                print(f"warning: {project} cannot be read: {error}", file=sys.stderr)
        for source, data, project_file in sources:
            servers, problems = read_servers(data, source=source)
            found.update({server.name: (server, project_file) for server in servers})
            for problem in problems:
                print(f"warning: {problem}; it is left out", file=sys.stderr)
        return list(found.values())

    def _project_file(self) -> Path | None:
        if not self.project_file:
            return None
        notebook = current_notebook(self.conjure.user_namespace)
        folder = notebook.parent if notebook is not None else Path.cwd()
        path = folder.absolute() / PROJECT_FILE
        return path if path.is_file() else None


def parse_server(words: list[str]) -> ServerDefinition:
    """``NAME [env=K=V …] -- COMMAND ARGS…`` or ``NAME URL [header=K:V …]``."""
    name, rest = check_name(words[0]), words[1:]
    if "--" in rest:
        options, command = rest[: rest.index("--")], rest[rest.index("--") + 1 :]
        if not command:
            raise UsageError(f"no command after --; usage: {USAGE}")
        env = dict(_pair(option, "env=", "=") for option in options)
        return StdioServer(name, command[0], tuple(command[1:]), env)
    url, options = rest[0], rest[1:]
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"{url!r} is not a URL; a stdio server's command goes after --: {USAGE}")
    return HttpServer(name, url, dict(_pair(option, "header=", ":") for option in options))


def describe(connection: McpConnection) -> str:
    """``NAME (where): state; N tools: a, b, …`` in one line."""
    server = connection.server
    kind = "http" if isinstance(server, HttpServer) else "stdio"
    head = f"{server.name} [{kind}: {server.describe()}]"
    if not connection.running:
        again = f" (%mcp restart {server.name} tries again)" if connection.failed_to_start else ""
        return f"{head}: {connection.state}{again}"
    names = [tool.name for tool in connection.tools]
    more = f", … {len(names) - _SHOWN_TOOLS} more" if len(names) > _SHOWN_TOOLS else ""
    listed = ", ".join(names[:_SHOWN_TOOLS]) + more
    return f"{head}: running {connection.place_label()}; {len(names)} tool(s): {listed}"


def _print_started(connection: McpConnection) -> None:
    print(describe(connection), file=sys.stdout if connection.running else sys.stderr)
    for refused in connection.refused:
        print(f"  left out (the API would refuse it): {refused}", file=sys.stderr)


def _pair(option: str, prefix: str, separator: str) -> tuple[str, str]:
    body = option.removeprefix(prefix)
    key, found, value = body.partition(separator)
    if not option.startswith(prefix) or not found or not key:
        raise UsageError(f"{option!r} is not {prefix}KEY{separator}VALUE; usage: {USAGE}")
    return key, value
