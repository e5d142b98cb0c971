"""A local HTTP server that speaks the Messages API, for tests and manual trials.

It is real HTTP (keep-alive, chunked SSE) so the real ``anthropic`` SDK talks to it
unchanged: retries, ``retry-after``, SSE parsing, the stream accumulator and bearer
auth are all the SDK's own. Replies come from a FIFO script, then from a responder.
Usage numbers come from the requests themselves, including a prompt-cache simulation
(``PromptCache``), so tests and benchmarks can measure where cache breakpoints pay off.
Requests the API would reject for their breakpoints (more than four, or one on a
thinking block) get its 400, and so do requests today's API refuses (``today.py``: model
rules, context-management betas, thinking and compaction signatures, the context
window); each accepted one is kept in ``api.prompts`` with what the model read of it and
the context edits applied. Thinking blocks go out signed (``signatures.py``).

The hosted side (``hosted.HostedState``, at ``api.hosted``) serves the Skills and Files
APIs and keeps code-execution containers; the MCP connector (``mcp_connector``, at
``api.connector``) lists and calls the URL servers a request names; the Models API (``models.ModelsState``, at
``api.models``) lists models and refuses a retired one. ``api.fail(method, path,
reply)`` makes the next matching request of any route fail with ``reply`` (a 401 on an
upload, a 403 on a download).

While a stream waits (a ``pause``, a slow stream) the server sends a ``ping`` event every
``ping_interval`` seconds, as the real API does; a ``stall`` or a ``silence`` sends nothing
at all. Every wait ends early when the client hangs up or the server stops.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .hosted import FormPart, HostedState, Served
from .mcp_connector import McpConnector
from .models import ModelsState
from .pauses import Pause, wait
from .prompts import PromptCache, breakpoint_problem
from .replies import (
    AUTO,
    ERROR_STATUS,
    DisturbedReply,
    ErrorReply,
    MessageReply,
    Reply,
    SilentReply,
    SlowReply,
    StreamErrorReply,
    TruncatedReply,
    encode_event,
    stream_events,
)
from .signatures import Signatures
from .today import PreparedRequest, TodayRules

__all__ = ["FakeMessagesAPI", "PromptCache", "RecordedRequest"]

Responder = Callable[[dict[str, Any]], Reply]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    body: Any
    """The parsed JSON body, or ``None`` when there was none or it was not JSON."""
    query: dict[str, str] = field(default_factory=dict)
    form: tuple[FormPart, ...] = ()
    """The parts of a multipart body (a skill upload), in order."""


class FakeMessagesAPI:
    """The fake API's lifecycle, script and records; ``with FakeMessagesAPI() as api:``."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        ping_interval: float = 5.0,
        responder: Responder | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.latency = latency
        """Seconds slept before every response (for benchmarks)."""
        self.ping_interval = ping_interval
        """Seconds between the ``ping`` events of a stream that waits; the real API sends
        one every few seconds, tests set a fraction of their client's silence timeout."""
        self.stopped = threading.Event()
        """Set once the server stops, so that a handler keeping a client waiting gives up."""
        self.responder = responder
        """Answers a request (its parsed body) when the script is empty."""
        self.log = log
        self.requests: list[RecordedRequest] = []
        self.cache = PromptCache()
        self.hosted = HostedState()
        self.connector = McpConnector()
        self.models = ModelsState()
        self.signatures = Signatures()
        self.today = TodayRules(self.models, self.signatures)
        """Today's API rules (``today.py``), checked before any scripted reply is used."""
        self.prompts: list[PreparedRequest] = []
        """Each accepted Messages API request, with the prompt the model read of it."""
        self._failures: deque[tuple[str, str, ErrorReply]] = deque()
        self._address = (host, port)
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake Messages API is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def pending(self) -> int:
        """How many scripted replies have not been served yet."""
        with self._lock:
            return len(self._queue)

    def script(self, *replies: Reply) -> None:
        """Queue replies; each request takes the oldest one."""
        with self._lock:
            self._queue.extend(replies)

    def fail(self, method: str, path: str, reply: ErrorReply) -> None:
        """Answer the next ``method`` request whose path starts with ``path`` with ``reply``."""
        with self._lock:
            self._failures.append((method, path, reply))

    def failure_for(self, method: str, path: str) -> ErrorReply | None:
        """The scripted failure for this request, taken off the queue; ``None`` if none."""
        with self._lock:
            for entry in self._failures:
                if entry[0] == method and path.startswith(entry[1]):
                    self._failures.remove(entry)
                    return entry[2]
        return None

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        """The recorded requests of one method whose path starts with ``path``."""
        return [r for r in self.requests if r.method == method and r.path.startswith(path)]

    def start(self) -> FakeMessagesAPI:
        if self._server is None:
            self.stopped.clear()
            self._server = _Server(self._address, _Handler, self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="fake-messages-api",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self.stopped.set()
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join()
            self._server = self._thread = None

    def __enter__(self) -> FakeMessagesAPI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def record_prompt(self, prepared: PreparedRequest) -> None:
        with self._lock:
            self.prompts.append(prepared)

    def next_reply(self, body: dict[str, Any]) -> Reply | None:
        """The next scripted reply, else the responder's; ``None`` when there is neither."""
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return self.responder(body) if self.responder is not None else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, api: FakeMessagesAPI) -> None:
        self.api = api
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client went away (it timed out, or dropped a garbled stream)."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Routes one request; keep-alive so the SDK's connection pool behaves as in production."""

    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30
    disable_nagle_algorithm = True
    """Each SSE event is its own small write; with Nagle on, delayed ACKs stall ~40 ms at random."""

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.api.log is not None:
            self.server.api.log(format % args)

    def _handle(self) -> None:
        api = self.server.api
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        form = self._form(raw)
        body = None if form else _json(raw)
        url = urlsplit(self.path)
        path, query = url.path, dict(parse_qsl(url.query))
        headers = {name.lower(): value for name, value in self.headers.items()}
        api.record(RecordedRequest(self.command, path, headers, body, query, form))
        if api.latency:
            time.sleep(api.latency)
        try:
            failure = api.failure_for(self.command, path)
            hosted = None if failure else api.hosted.handle(self.command, path, query, form)
            if failure is not None:
                self._send_error(failure)
            elif isinstance(hosted, ErrorReply):
                self._send_error(hosted)
            elif hosted is not None:
                self._send_served(hosted)
            elif self.command == "GET" and path.startswith("/v1/models"):
                listed = api.models.handle(path, url.query)
                if isinstance(listed, ErrorReply):
                    self._send_error(listed)
                else:
                    self._send_served(listed)
            elif (self.command, path) == ("POST", "/v1/messages"):
                self._messages(body)
            elif (self.command, path) == ("POST", "/v1/messages/count_tokens"):
                self._send_json(200, api.today.count(body or {}))
            else:
                message = f"fake Messages API has no route {self.command} {path}"
                self._send_error(ErrorReply(404, "not_found_error", message))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _form(self, raw: bytes) -> tuple[FormPart, ...]:
        """The parts of a ``multipart/form-data`` body; ``()`` for any other body."""
        kind = self.headers.get("content-type", "")
        if not kind.startswith("multipart/form-data"):
            return ()
        head = f"Content-Type: {kind}\r\n\r\n".encode()
        message = BytesParser(policy=policy.HTTP).parsebytes(head + raw)
        return tuple(
            FormPart(
                str(part.get_param("name", header="content-disposition") or ""),
                part.get_filename(),
                part.get_payload(decode=True) or b"",
            )
            for part in message.iter_parts()
        )

    def _messages(self, body: Any) -> None:
        if not isinstance(body, dict):
            self._send_error(ErrorReply(400, "invalid_request_error", "body must be a JSON object"))
            return
        api = self.server.api
        problem = breakpoint_problem(body)
        if problem is not None:  # rejected before any reply is used, as the API would
            self._send_error(ErrorReply(400, "invalid_request_error", problem))
            return
        refused = (
            api.models.refusal(body)
            or api.hosted.container_problem(body)
            or api.connector.problem(body, self.headers.get("anthropic-beta", ""))
        )
        if refused is not None:  # so is a retired model, an expired container, unknown skills
            self._send_error(refused)
            return
        prepared = api.today.prepare(body, self.headers.get("anthropic-beta", ""))
        if isinstance(prepared, ErrorReply):  # and whatever today's API refuses
            self._send_error(prepared)
            return
        api.record_prompt(prepared)
        if prepared.paused:  # the compaction block alone: no scripted reply is used
            self._send_reply(
                MessageReply((), "compaction"),
                prepared,
                streaming=bool(body.get("stream")),
                event_delay=0.0,
            )
            return
        try:
            reply = api.next_reply(body)
        except Exception as err:  # a broken responder must show up in the test, not hang it
            reply = ErrorReply(500, "api_error", f"fake Messages API responder failed: {err!r}")
        if reply is None:
            served = sum(r.path == "/v1/messages" for r in api.requests) - 1
            message = (
                f"fake Messages API: the script is exhausted after {served} replies and no "
                "responder is set; script more replies or set api.responder"
            )
            reply = ErrorReply(500, "api_error", message)
        reply = api.connector.answer(body, reply)  # the MCP calls it scripts are made
        self._send_reply(reply, prepared, streaming=bool(body.get("stream")), event_delay=0.0)

    def _send_reply(
        self, reply: Reply, request: PreparedRequest, *, streaming: bool, event_delay: float
    ) -> None:
        if isinstance(reply, SlowReply):
            if not (reply.between_events and streaming):
                self._wait(reply.seconds)
            delay = reply.seconds if reply.between_events else event_delay
            self._send_reply(reply.reply, request, streaming=streaming, event_delay=delay)
        elif isinstance(reply, SilentReply):
            self._wait(float("inf"))
        elif isinstance(reply, ErrorReply):
            self._send_error(reply)
        elif isinstance(reply, MessageReply):
            container = self._container(reply, request)
            message = _message(
                self.server.api, request, reply.content, reply.stop_reason, container
            )
            if streaming:
                self._send_events(stream_events(message), delay=event_delay)
            else:
                self._send_json(200, message)
        elif isinstance(reply, StreamErrorReply):
            self._send_stream_error(reply, request, streaming=streaming, delay=event_delay)
        elif isinstance(reply, DisturbedReply):
            self._send_disturbed(reply, request, streaming=streaming, delay=event_delay)
        else:
            self._send_truncated(reply, request, streaming=streaming, delay=event_delay)

    def _container(self, reply: MessageReply, request: PreparedRequest) -> Mapping[str, Any] | None:
        if reply.container == AUTO:
            return self.server.api.hosted.container_for(request.body)
        return reply.container if isinstance(reply.container, Mapping) else None

    def _send_stream_error(
        self, reply: StreamErrorReply, request: PreparedRequest, *, streaming: bool, delay: float
    ) -> None:
        status = ERROR_STATUS.get(reply.type, 500)
        if not streaming:  # without a stream the same failure is an HTTP error up front
            self._send_error(ErrorReply(status, reply.type, reply.message))
            return
        content = ({"type": "text", "text": reply.after_text},) if reply.after_text else ()
        message = _message(self.server.api, request, content, None)
        failure = {"type": "error", "error": {"type": reply.type, "message": reply.message}}
        self._send_events([*stream_events(message, complete=False), failure], delay=delay)

    def _send_disturbed(
        self, reply: DisturbedReply, request: PreparedRequest, *, streaming: bool, delay: float
    ) -> None:
        inner = reply.reply
        if not streaming:
            self._send_reply(inner, request, streaming=False, event_delay=delay)
            return
        container = self._container(inner, request)
        message = _message(self.server.api, request, inner.content, inner.stop_reason, container)
        self._send_events(_disturbed(list(stream_events(message)), reply), delay=delay)

    def _send_truncated(
        self, reply: TruncatedReply, request: PreparedRequest, *, streaming: bool, delay: float
    ) -> None:
        content = ({"type": "text", "text": reply.text},)
        message = _message(self.server.api, request, content, None)
        if streaming:
            events = stream_events(message, complete=False)
            self._send_events(events, delay=delay, finish=not reply.drop_connection)
            return
        payload = json.dumps(message).encode()
        self._start(200, "application/json", {"content-length": str(len(payload))})
        self.wfile.write(payload[: len(payload) // 2])
        self.close_connection = True

    def _send_events(
        self,
        events: Iterable[Mapping[str, Any] | bytes | Pause],
        *,
        delay: float = 0.0,
        finish: bool = True,
    ) -> None:
        """Stream ``events`` as SSE; a ``bytes`` item is written as it is, a ``Pause`` waited.

        ``delay`` passes before each event, with pings as the API sends while it is slow.
        """
        self._start(
            200, "text/event-stream", {"transfer-encoding": "chunked", "cache-control": "no-cache"}
        )
        for event in events:
            if isinstance(event, Pause):
                self._wait(event.seconds, pings=event.pings)
                continue
            if delay:
                self._wait(delay, pings=True)
            self._write_chunk(event if isinstance(event, bytes) else encode_event(event))
        if finish:
            self.wfile.write(b"0\r\n\r\n")
        else:  # leave the chunked body unfinished: the client sees a dropped connection
            self.close_connection = True
        self.wfile.flush()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _wait(self, seconds: float, *, pings: bool = False) -> None:
        """Let ``seconds`` pass (see ``pauses.wait``), with a ``ping`` event every
        ``ping_interval`` if ``pings`` (the stream's headers are sent by then)."""
        api = self.server.api
        ping = (lambda: self._write_chunk(encode_event({"type": "ping"}))) if pings else None
        wait(self.connection, seconds, stopped=api.stopped, ping=ping, interval=api.ping_interval)

    def _send_error(self, reply: ErrorReply) -> None:
        extra = {}
        if reply.retry_after is not None:
            extra["retry-after"] = f"{reply.retry_after:g}"
        if reply.retry_after_ms is not None:
            extra["retry-after-ms"] = f"{reply.retry_after_ms:g}"
        if reply.status == 500 and "fake Messages API" in reply.message:
            extra["x-should-retry"] = "false"  # a test-setup mistake: say it once, fast
        error: dict[str, Any] = {"type": reply.type, "message": reply.message}
        if reply.error_code is not None:
            error["details"] = {"error_code": reply.error_code}
        self._send_json(reply.status, {"type": "error", "error": error}, extra)

    def _send_served(self, served: Served) -> None:
        if isinstance(served.body, bytes):
            self._start(
                served.status, served.content_type, {"content-length": str(len(served.body))}
            )
            self.wfile.write(served.body)
            self.wfile.flush()
        else:
            self._send_json(served.status, served.body)

    def _send_json(self, status: int, payload: Any, extra: Mapping[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self._start(status, "application/json", {"content-length": str(len(data)), **(extra or {})})
        self.wfile.write(data)
        self.wfile.flush()

    def _start(self, status: int, content_type: str, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("request-id", f"req_fake{uuid.uuid4().hex[:20]}")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _disturbed(
    events: list[dict[str, Any]], reply: DisturbedReply
) -> Iterator[Mapping[str, Any] | bytes | Pause]:
    """``events`` with the reply's raw bytes and pause after the first ``after_events``.

    The pause falls between two writes, so the bytes before it are already sent.
    """
    yield from events[: reply.after_events]
    if reply.raw:
        yield reply.raw
    if reply.pause:
        yield Pause(reply.pause, reply.pings)
    yield from events[reply.after_events :]


def _message(
    api: FakeMessagesAPI,
    request: PreparedRequest,
    content: Iterable[Mapping[str, Any]],
    stop_reason: str | None,
    container: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A full Message for ``request``: its content shaped by today's rules (``today.py``),
    usage computed from the prompt the model read and from the content."""
    blocks = api.today.shape(request, content)
    usage: dict[str, Any] = {
        **api.cache.usage(request.prompt),
        "output_tokens": 1 + len(json.dumps(blocks)) // 4,
    }
    if request.compaction is not None:  # the compaction's own work, apart from the answer's
        usage["iterations"] = [_compaction_usage(request), {"type": "message", **usage}]
    extra: dict[str, Any] = {}
    if container is not None:
        extra["container"] = dict(container)
    if request.context_management is not None:
        extra["context_management"] = request.context_management
    return {
        "id": f"msg_fake{uuid.uuid4().hex[:20]}",
        "type": "message",
        "role": "assistant",
        "model": request.model,
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
        **extra,
    }


def _compaction_usage(request: PreparedRequest) -> dict[str, Any]:
    """Usage of the compaction step: it read the whole prompt and wrote the summary."""
    return {
        "type": "compaction",
        "input_tokens": request.input_tokens,
        "output_tokens": 1 + len(json.dumps(request.compaction)) // 4,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
