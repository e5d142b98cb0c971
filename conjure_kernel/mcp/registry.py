"""The session's MCP servers: what each is, its connection, and where stdio ones start.

A stdio server runs where the tools run (the backend's ``StdioPlace``): when the place
changes (another backend, a new sandbox) the stdio servers stop, and start again there
when next used. A URL server is reached from the kernel wherever the tools run.

A server read from a project file (a cloned repository's ``.mcp.json``) is not started
where it would run outside any sandbox (on this machine, or a URL reached from the
kernel) until the person approves it, server by server (``trust``); until then a turn
says so once, and goes on without them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence

from ..errors import McpServerError
from ..tools.values import ToolResult
from .connection import START_SECONDS, McpConnection, StdioPlace
from .executor import McpTools
from .servers import ServerDefinition, StdioServer

__all__ = ["McpServers"]


class McpServers:
    """Definitions by name and their connections; ``add``, ``remove``, ``tools``, ``close``."""

    def __init__(self, *, timeout: float = 300.0, start_timeout: float = START_SECONDS) -> None:
        self.timeout = timeout
        """Seconds one tool call may take before it is answered as timed out."""
        self.start_timeout = start_timeout
        """Seconds a server may take to start and list its tools."""
        self.connections: dict[str, McpConnection] = {}
        self._place = StdioPlace()
        self._place_key: object = None
        self.awaiting: dict[str, str] = {}
        """Servers from a project file not yet approved, by name → the file."""
        self._told: set[str] = set()

    def __bool__(self) -> bool:
        return bool(self.connections)

    @property
    def place(self) -> StdioPlace:
        return self._place

    def use_place(self, place: StdioPlace, key: object) -> None:
        """Start stdio servers in ``place`` from now on; ``key`` (the backend session) tells
        a new place from the same one, and a new place stops those running elsewhere."""
        if key is self._place_key:
            return
        self._place, self._place_key = place, key
        for name, connection in self.connections.items():
            if isinstance(connection.server, StdioServer):
                connection.close()
                self.connections[name] = McpConnection(connection.server, place)

    def add(self, server: ServerDefinition) -> McpConnection:
        """Define ``server`` (replacing one of that name) and start it; a failure to start
        is kept as its state, not raised: the definition stays, to start again later."""
        connection = self.define(server)
        self._start(connection)
        return connection

    def define(self, server: ServerDefinition, *, project_file: str = "") -> McpConnection:
        """Define ``server`` (replacing one of that name) without starting it: it starts
        when a turn needs its tools; one from ``project_file`` only once approved where it
        would run outside a sandbox."""
        self.remove(server.name)
        connection = McpConnection(server, self._place)
        self.connections[server.name] = connection
        if project_file:
            self.awaiting[server.name] = project_file
        return connection

    def unapproved(self, connection: McpConnection) -> str:
        """The project file whose approval ``connection`` waits for before it starts, else
        empty: a URL server, or a stdio one whose place is no sandbox."""
        file = self.awaiting.get(connection.server.name, "")
        if isinstance(connection.server, StdioServer) and connection.place.sandboxed:
            return ""
        return file

    def trust(self, name: str) -> bool:
        """Approve one project file's server for this session; False when it did not wait.
        One at a time: a cloned file may list a harmless server beside a harmful one."""
        return self.awaiting.pop(name, None) is not None

    def first_time(self, line: str) -> bool:
        """Whether ``line`` is said for the first time this session (and now it has been):
        what a server cannot do here is said once, not at every turn."""
        if line in self._told:
            return False
        self._told.add(line)
        return True

    def remove(self, name: str) -> bool:
        connection = self.connections.pop(name, None)
        self.awaiting.pop(name, None)
        if connection is not None:
            connection.close()
        return connection is not None

    def restart(self, name: str) -> McpConnection | None:
        """Start ``name`` again (after a failed start, or to pick up a new program); None
        when no server has that name."""
        connection = self.connections.get(name)
        if connection is not None:
            self._start(connection)
        return connection

    def start_stopped(self, *, stdio: bool = True) -> list[str]:
        """Start every server not running (a new place, a crash), but not one whose start
        failed (a turn would wait for it each time; ``restart`` or a new place tries
        again); a line for each that fails, and one, once a session, for each project file
        whose servers wait for approval. Without ``stdio`` only URL servers start (where
        no program may start: the hosted backend)."""
        faults = []
        waiting: dict[str, list[str]] = {}
        for name, connection in self.connections.items():
            if not stdio and isinstance(connection.server, StdioServer):
                continue
            if file := self.unapproved(connection):
                waiting.setdefault(file, []).append(name)
            elif not connection.running and not connection.failed_to_start:
                self._start(connection)
                if connection.fault:
                    faults.append(connection.fault)
                faults += [
                    f"the MCP server {name} left out a tool the API would refuse: {refused}"
                    for refused in connection.refused
                ]
        for file, names in waiting.items():
            if self.first_time(file):
                faults.append(_waiting_line(file, names))
        return faults

    def tools(
        self,
        *,
        max_output_chars: int,
        recorded: Mapping[str, ToolResult] | None = None,
        recorded_names: Sequence[str] = (),
    ) -> McpTools:
        """The running servers' tools for one turn (see ``McpTools`` for ``recorded``)."""
        return McpTools(
            list(self.connections.values()),
            timeout=self.timeout,
            max_output_chars=max_output_chars,
            recorded=recorded,
            recorded_names=recorded_names,
        )

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()

    def _start(self, connection: McpConnection) -> None:
        connection.start_timeout = self.start_timeout
        with contextlib.suppress(McpServerError):  # its state says why (connection.fault)
            connection.start()


def _waiting_line(file: str, names: list[str]) -> str:
    listed = ", ".join(names)
    return (
        f"the MCP server(s) {listed} from {file} are not started: they would run outside "
        "any sandbox (on this machine, or reached from the kernel); read the file, then "
        f"%mcp trust NAME starts the one you approve (e.g. %mcp trust {names[0]})"
    )
