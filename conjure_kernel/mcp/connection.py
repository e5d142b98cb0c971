"""One live connection to an MCP server, on an event loop of its own.

The SDK's client is a set of async context managers (a transport, then a session) that
must be entered and left by one task. The connection keeps that task on a loop in a
daemon thread, so it outlives any one turn and can be started from a magic; a turn's
call crosses over (``run_coroutine_threadsafe``) and cancelling it there (an interrupt)
cancels the request here. Every fault (no such program, an exit before or during a
call, no answer in time, a protocol error) becomes one ``McpServerError`` line that
names the server, with the last thing it wrote to stderr when that helps.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import pydantic
from mcp import types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from ..errors import McpServerError
from ..tools.output import one_line
from .offered import OfferedTool, offer_tools
from .servers import HttpServer, ServerDefinition, StdioServer

__all__ = ["START_SECONDS", "McpConnection", "StdioPlace", "as_is"]

START_SECONDS = 30.0
"""How long a server may take to start and list its tools, unless its registry says."""
_STOP_SECONDS = 10.0
_CONNECTION_CLOSED = -32000
_REQUEST_TIMEOUT = -32001
_GARBLED = "it printed something that is not MCP on stdout (log to stderr)"

_sdk_log = logging.getLogger("mcp.client.stdio")
_sdk_log.addHandler(logging.NullHandler())
_sdk_log.propagate = False  # its tracebacks would land in the cell; the fault is said in one line


def as_is(argv: list[str], env: Mapping[str, str]) -> list[str]:
    """A command line started on this machine, its environment passed as the process's."""
    return argv


@dataclass(frozen=True)
class StdioPlace:
    """Where a stdio server starts: its command line (and environment) as the backend wraps
    it for a sandbox or a container, in its working folder; by default this machine."""

    wrap: Callable[[list[str], Mapping[str, str]], list[str]] = field(default=as_is)
    cwd: str | None = None
    where: str = "on this machine"

    @property
    def sandboxed(self) -> bool:
        """A place that wraps the command line runs it in a sandbox or a container."""
        return self.wrap is not as_is


class McpConnection:
    """A started server's session and tools; ``start``, ``call``, ``close``."""

    def __init__(self, server: ServerDefinition, place: StdioPlace = StdioPlace()) -> None:
        self.server = server
        self.place = place
        self.tools: list[OfferedTool] = []
        self.refused: list[str] = []
        """A line for each tool left out because the API would refuse its name or schema."""
        self.fault = ""
        """Why the connection is not running (it failed to start, or broke), else empty."""
        self.failed_to_start = False
        """Its last start failed: it is not tried again until asked (``%mcp restart``)."""
        self.start_timeout = START_SECONDS
        """Seconds a start may take: a server stuck past it is stopped (its whole process
        tree), and the start fails in one line."""
        self._session: ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[Any] | None = None
        self._starting: anyio.CancelScope | None = None
        self._garbled = ""
        self._calls: set[asyncio.Task[Any]] = set()
        """The calls waiting for an answer, failed at once by a line that is not MCP."""
        self._stderr = tempfile.TemporaryFile(  # noqa: SIM115 - kept as long as the connection
            "w+", encoding="utf-8", errors="replace"
        )

    @property
    def running(self) -> bool:
        return self._session is not None and not self.fault

    @property
    def state(self) -> str:
        if self.running:
            return "running"
        return f"failed: {self.fault}" if self.fault else "stopped"

    def start(self) -> None:
        """Start the server and list its tools (blocks); ``McpServerError`` when it cannot."""
        self.close()
        self.fault = ""
        self.failed_to_start = True  # until it is running
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=asyncio.run,
            args=(self._serve(ready),),
            name=f"mcp-{self.server.name}",
            daemon=True,
        )
        self._thread.start()
        try:
            ready.result(self.start_timeout + 5)
        except concurrent.futures.TimeoutError:
            self._abandon()
            self._fail(f"it did not start within {self.start_timeout:g} s")
        except McpServerError as error:
            self.fault = str(error)
            self.close()
            raise
        self.failed_to_start = False

    async def call(
        self, tool: str, arguments: dict[str, Any], timeout: float
    ) -> types.CallToolResult:
        """Call a tool from any event loop; cancelling the caller cancels the request."""
        if not self.running or self._loop is None:
            self._fail(self.fault or "it is not running")
        request = asyncio.run_coroutine_threadsafe(self._call(tool, arguments, timeout), self._loop)
        return await asyncio.wrap_future(request)

    def close(self) -> None:
        """End the session and the server (stdio: the process is stopped)."""
        loop, stop, thread = self._loop, self._stop, self._thread
        self._session = self._loop = self._stop = self._thread = self._task = None
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop ended already
                loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            thread.join(_STOP_SECONDS)

    def _abandon(self) -> None:
        """Cancel a start stuck past its timeout, so neither its thread nor its process is
        left behind, and close."""
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # the loop ended already
                loop.call_soon_threadsafe(task.cancel)
        self.close()

    async def _serve(self, ready: concurrent.futures.Future[None]) -> None:
        """The connection's one task: enter the transport and session, list, wait for stop."""
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        self._task = asyncio.current_task()
        try:
            async with contextlib.AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(self._transport())
                session = ClientSession(read, write, message_handler=self._on_message)
                await stack.enter_async_context(session)
                with anyio.fail_after(self.start_timeout) as self._starting:
                    await session.initialize()
                    listed = await _all_tools(session)
                if self._starting.cancelled_caught:  # it wrote something that is not MCP
                    raise McpServerError(self._line(self._garbled))
                self._starting = None
                self.tools, self.refused = offer_tools(self.server.name, listed)
                self._session = session
                ready.set_result(None)
                await self._stop.wait()
        except BaseException as error:  # every fault becomes the server's one line
            line = self._describe(error, starting=not ready.done())
            if not ready.done():
                ready.set_exception(McpServerError(line))
            else:
                self.fault = self.fault or line

    async def _on_message(self, message: Any) -> None:
        """A line that is not JSON-RPC ends a start, or fails the calls waiting, at once
        (rather than at their timeout): which call it belonged to cannot be told."""
        if not isinstance(message, Exception):
            return
        self._garbled = _GARBLED
        if self._starting is not None:
            self._starting.cancel()
        for task in self._calls:
            task.cancel(_GARBLED)

    def _transport(self) -> contextlib.AbstractAsyncContextManager[Any]:
        server = self.server
        if isinstance(server, HttpServer):
            return _over_http(server)
        argv = self.place.wrap([server.command, *server.args], server.env)
        parameters = StdioServerParameters(
            command=argv[0], args=argv[1:], env=dict(server.env) or None, cwd=self.place.cwd
        )
        return stdio_client(parameters, errlog=self._stderr)

    async def _call(
        self, tool: str, arguments: dict[str, Any], timeout: float
    ) -> types.CallToolResult:
        assert self._session is not None
        said_before = _size(self._stderr)
        task = asyncio.current_task()
        assert task is not None
        self._calls.add(task)
        try:
            return await self._session.call_tool(tool, arguments, read_timeout_seconds=timeout)
        except asyncio.CancelledError as cancelled:
            if cancelled.args != (_GARBLED,):
                raise  # an interrupt
            task.uncancel()
            raise McpServerError(
                self._line(f"{tool} answered outside the protocol: {_GARBLED}")
            ) from None
        except MCPError as error:
            if error.code == _REQUEST_TIMEOUT:
                raise McpServerError(
                    self._line(f"{tool} did not answer within {timeout:g} s")
                ) from None
            if error.code == _CONNECTION_CLOSED:
                self.fault = self._line(f"it exited during a call of {tool}", since=said_before)
                raise McpServerError(self.fault) from None
            raise McpServerError(self._line(f"{tool} failed: {error.message}")) from None
        except (ValueError, TypeError) as error:  # a reply that breaks the protocol
            why = _first_fault(error) if isinstance(error, pydantic.ValidationError) else error
            raise McpServerError(
                self._line(f"{tool} answered outside the protocol: {why}")
            ) from None
        finally:
            self._calls.discard(task)

    def _describe(self, error: BaseException, *, starting: bool) -> str:
        error = _innermost(error)
        if isinstance(error, TimeoutError):
            return self._line(f"it did not start within {self.start_timeout:g} s", since=0)
        if isinstance(error, OSError) and starting:
            return self._line(
                f"it did not start: {error.strerror or error} ({self.server.describe()})"
            )
        if isinstance(error, MCPError) and error.code == _CONNECTION_CLOSED:
            when = "before it answered" if starting else "after it started"
            return self._line(f"it exited {when}", since=0)
        if isinstance(error, McpServerError):
            return str(error)
        if isinstance(error, pydantic.ValidationError):  # a listed tool breaks MCP's schema
            return self._line(f"its answer does not fit MCP: {_first_fault(error)}")
        if isinstance(error, asyncio.CancelledError):
            return self._line("it was stopped")
        if isinstance(self.server, HttpServer) and starting:
            return self._line(f"it could not be reached at {self.server.url}: {error}")
        return self._line(f"{type(error).__name__}: {error}", since=0)

    def _line(self, what: str, *, since: int | None = None) -> str:
        """One line naming the server; with ``since``, the last line it wrote to stderr
        after that offset."""
        said = self._last_words(since) if since is not None else ""
        return one_line(
            f"the MCP server {self.server.name} ({self.place_label()}): {what}{said}", 600
        )

    def place_label(self) -> str:
        return "over HTTP" if isinstance(self.server, HttpServer) else self.place.where

    def _last_words(self, since: int) -> str:
        """The last line the server wrote to stderr after ``since``, to say why it stopped."""
        if not isinstance(self.server, StdioServer):
            return ""
        with contextlib.suppress(OSError, ValueError):
            self._stderr.seek(max(since, _size(self._stderr) - 4000))
            lines = [line for line in self._stderr.read().splitlines() if line.strip()]
            if lines:
                return f"; it said: {lines[-1].strip()}"
        return ""

    def _fail(self, why: str) -> None:
        self.fault = self.fault or self._line(why)
        raise McpServerError(self.fault)


@contextlib.asynccontextmanager
async def _over_http(server: HttpServer) -> AsyncIterator[Any]:
    """The streamable HTTP transport with the server's headers, and its HTTP client closed
    with it (the SDK leaves a client it was given open)."""
    async with (
        create_mcp_http_client(headers=dict(server.headers)) as client,
        streamable_http_client(server.url, http_client=client) as streams,
    ):
        yield streams


async def _all_tools(session: ClientSession) -> list[types.Tool]:
    """Every page of the server's tool list."""
    listed = await session.list_tools()
    tools = list(listed.tools)
    while listed.next_cursor:
        listed = await session.list_tools(
            params=types.PaginatedRequestParams(cursor=listed.next_cursor)
        )
        tools += listed.tools
    return tools


def _size(file: Any) -> int:
    """How much the server has written to its stderr file so far."""
    return os.fstat(file.fileno()).st_size


def _innermost(error: BaseException) -> BaseException:
    """The first real fault inside nested exception groups (anyio's task groups)."""
    while getattr(error, "exceptions", None):
        error = error.exceptions[0]  # type: ignore[attr-defined]
    return error


def _first_fault(error: pydantic.ValidationError) -> str:
    """Where the first fault is and what it is: ``tools.2.inputSchema: Input should be …``."""
    fault = error.errors()[0]
    where = ".".join(str(part) for part in fault["loc"])
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {fault['msg']}{more}"
