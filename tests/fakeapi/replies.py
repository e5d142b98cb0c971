"""What the fake Messages API answers: small frozen values, built by short functions.

A test scripts replies in the order the requests will arrive::

    api.script(replies.tool_use("run_bash", {"command": "ls"}), replies.text("Done."))

Hosted code execution is scripted block by block, with the block builders below::

    use = replies.server_tool_use("bash_code_execution", {"command": "ls"})
    api.script(replies.message(
        replies.thinking("Listing first."), use, replies.bash_result(use["id"], stdout="a\n"),
        stop_reason="pause_turn", container=replies.container(),
    ))

With ``container=AUTO`` the reply runs in the request's own container, or a new one, as
the real API answers; a file the sandbox "made" comes from ``api.hosted.add_file``::

    report = api.hosted.add_file("report.xlsx", data)
    api.script(replies.message(use, replies.bash_result(use["id"], file_ids=[report]),
                               container=replies.AUTO))

``stream_events`` turns a finished message into the exact SSE event sequence the real
API sends, so the SDK's own accumulator is what the tests exercise. Thinking streams as
``thinking_delta`` pieces and a ``signature_delta``; a ``compaction`` block starts with
its signature and gets its summary in one ``compaction_delta``; ``context_management``
comes in ``message_delta``, where the SDK's beta accumulator reads it. A scripted
``thinking`` block's ``signature`` is a placeholder: the server signs each thinking,
redacted thinking and compaction block for the request's model (``signatures.py``).

Misbehaviour is scripted too: ``error(..., retry_after=…)``, ``slow`` (no first byte for
a while), ``silence`` (accept the request and never answer), ``stall`` (silence
mid-answer), ``pause`` (a quiet spell mid-answer that ``ping`` events keep alive, as the
API keeps a long thinking pause alive) and ``inject`` (raw bytes or an odd event in the
middle of an otherwise good stream)::

    api.script(replies.inject(replies.text("Hello there"), b"data: {oops\n\n", after_events=3))
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AUTO",
    "DisturbedReply",
    "ErrorReply",
    "MessageReply",
    "Reply",
    "SilentReply",
    "SlowReply",
    "StreamErrorReply",
    "TruncatedReply",
    "bash_result",
    "code_execution_result",
    "container",
    "echo",
    "encode_event",
    "error",
    "inject",
    "message",
    "new_server_tool_use_id",
    "new_tool_use_id",
    "pause",
    "reply_from_json",
    "server_tool_result",
    "server_tool_use",
    "silence",
    "slow",
    "stall",
    "stream_error",
    "stream_events",
    "text",
    "text_editor_result",
    "thinking",
    "tool_use",
    "tool_uses",
    "truncated",
]

ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
"""HTTP status of each API error type, for errors a non-streaming request gets up front."""
AUTO = "auto"
"""A reply's ``container``: the one the request names, else a new one (``hosted.HostedState``)."""


@dataclass(frozen=True)
class MessageReply:
    """A complete assistant message: its content blocks and stop reason."""

    content: tuple[dict[str, Any], ...]
    stop_reason: str = "end_turn"
    container: Mapping[str, Any] | str | None = None
    """The hosted container, sent in ``message_delta`` as the API does; ``AUTO`` for the
    request's own container (or a new one), as the real API answers."""


@dataclass(frozen=True)
class ErrorReply:
    """An HTTP error with the API's error body, before any stream starts."""

    status: int
    type: str
    message: str
    retry_after: float | None = None
    """Sent as ``retry-after``; note the SDK ignores 0 and falls back to its own backoff."""
    retry_after_ms: float | None = None
    """Sent as ``retry-after-ms``, which clients read before ``retry-after``."""
    error_code: str | None = None
    """Sent as ``error.details.error_code`` (``file_expired``…), which picks the SDK's class."""


@dataclass(frozen=True)
class StreamErrorReply:
    """HTTP 200, some text, then an SSE ``error`` event (how overload mid-answer looks)."""

    type: str = "overloaded_error"
    message: str = "Overloaded"
    after_text: str = "Let me think"


@dataclass(frozen=True)
class TruncatedReply:
    """A stream that stops after some text: no ``message_delta``, no ``message_stop``."""

    text: str
    drop_connection: bool = False
    """Close the socket mid-body (a dropped connection) instead of ending the body cleanly."""


@dataclass(frozen=True)
class SlowReply:
    """Another reply, delayed: before the response, or before each SSE event."""

    reply: Reply
    seconds: float
    between_events: bool = False


@dataclass(frozen=True)
class SilentReply:
    """No answer at all: the request is read, then nothing is sent, not even the headers,
    until the client hangs up (or the server stops)."""


@dataclass(frozen=True)
class DisturbedReply:
    """A message whose stream goes wrong after its first ``after_events`` SSE events.

    There the server writes ``raw`` as it is (garbage lines, bytes that are not UTF-8,
    an event that breaks the protocol), then goes silent for ``pause`` seconds, then
    sends the rest of the good stream: a client that ends the answer did so because of
    the disturbance, not a cut-off. Without streaming the message is sent undisturbed.
    A client that hangs up during the pause ends it.
    """

    reply: MessageReply
    after_events: int
    raw: bytes = b""
    pause: float = 0.0
    pings: bool = False
    """Keep the pause alive with a ``ping`` event every ``api.ping_interval`` seconds."""


Reply = (
    MessageReply
    | ErrorReply
    | StreamErrorReply
    | TruncatedReply
    | SlowReply
    | SilentReply
    | DisturbedReply
)


def new_tool_use_id() -> str:
    return f"toolu_01{uuid.uuid4().hex[:22]}"


def text(answer: str, stop_reason: str = "end_turn") -> MessageReply:
    return MessageReply(({"type": "text", "text": answer},), stop_reason)


def tool_use(
    name: str, input: Mapping[str, Any], *, id: str | None = None, text: str | None = None
) -> MessageReply:
    block = {"type": "tool_use", "id": id or new_tool_use_id(), "name": name, "input": dict(input)}
    return MessageReply((*_text_blocks(text), block), "tool_use")


def tool_uses(
    calls: Sequence[tuple[str, Mapping[str, Any]]], text: str | None = None
) -> MessageReply:
    """Parallel tool calls in one assistant message, each with its own id."""
    blocks = [
        {"type": "tool_use", "id": new_tool_use_id(), "name": name, "input": dict(input)}
        for name, input in calls
    ]
    return MessageReply((*_text_blocks(text), *blocks), "tool_use")


def message(
    *blocks: Mapping[str, Any],
    stop_reason: str = "end_turn",
    container: Mapping[str, Any] | str | None = None,
) -> MessageReply:
    """Any content blocks (text, thinking, server tool use and results…) in one message."""
    return MessageReply(tuple(dict(block) for block in blocks), stop_reason, container)


def new_server_tool_use_id() -> str:
    return f"srvtoolu_01{uuid.uuid4().hex[:22]}"


def thinking(text: str, signature: str = "fake-signature") -> dict[str, Any]:
    """A thinking block; it streams as ``thinking_delta`` pieces, then a ``signature_delta``.

    The server sends it signed for the request's model, whatever ``signature`` says.
    """
    return {"type": "thinking", "thinking": text, "signature": signature}


def server_tool_use(
    name: str, input: Mapping[str, Any], *, id: str | None = None
) -> dict[str, Any]:
    """A ``server_tool_use`` block (``bash_code_execution``, ``text_editor_code_execution``…)."""
    return {
        "type": "server_tool_use",
        "id": id or new_server_tool_use_id(),
        "name": name,
        "input": dict(input),
    }


def server_tool_result(type: str, tool_use_id: str, content: Any) -> dict[str, Any]:
    """A result block of any server tool type, ``content`` as given (any shape)."""
    return {"type": type, "tool_use_id": tool_use_id, "content": content}


def bash_result(
    tool_use_id: str,
    *,
    stdout: str = "",
    stderr: str = "",
    return_code: int = 0,
    file_ids: Sequence[str] = (),
) -> dict[str, Any]:
    """A ``bash_code_execution_tool_result`` with a ``bash_code_execution_result``."""
    content = _execution("bash_code_execution", stdout, stderr, return_code, file_ids)
    return server_tool_result("bash_code_execution_tool_result", tool_use_id, content)


def _execution(
    kind: str, stdout: str, stderr: str, return_code: int, file_ids: Sequence[str]
) -> dict[str, Any]:
    """The ``<kind>_result`` content both command tools return, files as ``<kind>_output``."""
    return {
        "type": f"{kind}_result",
        "stdout": stdout,
        "stderr": stderr,
        "return_code": return_code,
        "content": [{"type": f"{kind}_output", "file_id": f} for f in file_ids],
    }


def text_editor_result(tool_use_id: str, content: Mapping[str, Any]) -> dict[str, Any]:
    """A ``text_editor_code_execution_tool_result`` around a view, create, str_replace or error."""
    return server_tool_result("text_editor_code_execution_tool_result", tool_use_id, dict(content))


def code_execution_result(
    tool_use_id: str,
    *,
    stdout: str = "",
    stderr: str = "",
    return_code: int = 0,
    file_ids: Sequence[str] = (),
) -> dict[str, Any]:
    """A legacy (Python only) ``code_execution_tool_result``."""
    content = _execution("code_execution", stdout, stderr, return_code, file_ids)
    return server_tool_result("code_execution_tool_result", tool_use_id, content)


def container(
    id: str = "container_011CYfake",
    expires_at: str = "2026-11-25T12:30:00Z",
    skills: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A hosted container as a response reports it."""
    return {"id": id, "expires_at": expires_at, "skills": [dict(skill) for skill in skills]}


def error(
    status: int,
    type: str,
    message: str,
    *,
    retry_after: float | None = None,
    retry_after_ms: float | None = None,
    error_code: str | None = None,
) -> ErrorReply:
    return ErrorReply(status, type, message, retry_after, retry_after_ms, error_code)


def stream_error(
    type: str = "overloaded_error", after_text: str = "Let me think", message: str = "Overloaded"
) -> StreamErrorReply:
    return StreamErrorReply(type, message, after_text)


def truncated(text: str, *, drop_connection: bool = False) -> TruncatedReply:
    return TruncatedReply(text, drop_connection)


def slow(reply: Reply, seconds: float, *, between_events: bool = False) -> SlowReply:
    """``reply`` after ``seconds`` without a byte (not even the headers), or that long
    before each event (then with a ``ping`` every ``api.ping_interval`` meanwhile, as
    the API sends while a stream is slow)."""
    return SlowReply(reply, seconds, between_events)


def silence() -> SilentReply:
    """Accept the request and never answer: a server that hangs before its headers."""
    return SilentReply()


def stall(reply: MessageReply, seconds: float, *, after_events: int = 4) -> DisturbedReply:
    """``reply`` whose stream goes silent, not even a ``ping``, for ``seconds`` after
    ``after_events`` events.

    The default falls after the first text delta: the answer has started on screen.
    """
    return DisturbedReply(reply, after_events, pause=seconds)


def pause(reply: MessageReply, seconds: float, *, after_events: int = 4) -> DisturbedReply:
    """``reply`` whose stream sends no data for ``seconds`` after ``after_events`` events,
    only a ``ping`` every ``api.ping_interval`` seconds: how the API streams while the
    model thinks at length. ``after_events=1`` pauses right after ``message_start``."""
    return DisturbedReply(reply, after_events, pause=seconds, pings=True)


def inject(
    reply: MessageReply, raw: bytes | Mapping[str, Any], *, after_events: int = 4
) -> DisturbedReply:
    """``reply`` with ``raw`` written into its stream after ``after_events`` events.

    Bytes go out as they are; a mapping goes out as one SSE event (named by its ``type``),
    for events that are well-formed JSON but break the protocol.
    """
    data = raw if isinstance(raw, bytes) else encode_event(raw)
    return DisturbedReply(reply, after_events, raw=data)


def encode_event(event: Mapping[str, Any]) -> bytes:
    """One SSE event as the API writes it: its name, its JSON data, a blank line."""
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def _text_blocks(answer: str | None) -> tuple[dict[str, Any], ...]:
    return ({"type": "text", "text": answer},) if answer else ()


def echo(body: Mapping[str, Any]) -> MessageReply:
    """A responder that answers with the text of the last user message."""
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    content = users[-1]["content"] if users else ""
    if isinstance(content, str):
        said = content
    else:
        said = " ".join(b.get("text", "") for b in content if b.get("type") == "text")
        said = said or f"({sum(b.get('type') == 'tool_result' for b in content)} tool results)"
    return text(f"echo: {said}")


def reply_from_json(line: Mapping[str, Any]) -> Reply:
    """One reply from a JSONL script line; ``"delay": seconds`` wraps it in ``slow``."""
    reply = _parse_reply(line)
    return slow(reply, float(line["delay"])) if "delay" in line else reply


def _parse_reply(line: Mapping[str, Any]) -> Reply:
    if "tool_use" in line:
        call = line["tool_use"]
        return tool_use(
            call["name"], call.get("input", {}), id=call.get("id"), text=call.get("text")
        )
    if "tool_uses" in line:
        calls = [(call["name"], call.get("input", {})) for call in line["tool_uses"]]
        return tool_uses(calls, text=line.get("text"))
    if "content" in line:
        return message(
            *line["content"],
            stop_reason=line.get("stop_reason", "end_turn"),
            container=line.get("container"),
        )
    if "text" in line:
        return text(line["text"], line.get("stop_reason", "end_turn"))
    if "error" in line:
        err = line["error"]
        return error(
            err["status"],
            err["type"],
            err["message"],
            retry_after=err.get("retry_after"),
            retry_after_ms=err.get("retry_after_ms"),
        )
    if "stream_error" in line:
        return stream_error(**line["stream_error"])
    if "truncated" in line:
        return truncated(**line["truncated"])
    if line.get("silence"):
        return silence()
    raise ValueError(
        f"unknown reply {json.dumps(line)[:80]}; use one of the keys text, tool_use, tool_uses, "
        "content, error, stream_error, truncated, silence"
    )


def stream_events(message: Mapping[str, Any], *, complete: bool = True) -> Iterator[dict[str, Any]]:
    """The SSE events (``data`` payloads; the event name is ``type``) that stream ``message``.

    With ``complete=False`` the stream stops after the content, as a cut-off answer would.
    """
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**message["usage"], "output_tokens": 1}
    start.pop("container", None)  # the API reports it at the end, in message_delta
    start.pop("context_management", None)  # and so is this (the SDK reads it there)
    yield {"type": "message_start", "message": start}
    for index, block in enumerate(message["content"]):
        events = _block_events(index, block)
        yield next(events)  # content_block_start
        if index == 0:
            yield {"type": "ping"}  # where the real API sends its first keep-alive
        yield from events
    if not complete:
        return
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    if message.get("container") is not None:
        delta["container"] = message["container"]
    event = {"type": "message_delta", "delta": delta, "usage": message["usage"]}
    if message.get("context_management") is not None:
        event["context_management"] = message["context_management"]
    yield event
    yield {"type": "message_stop"}


def _block_events(index: int, block: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    kind = block["type"]
    if kind == "text":
        yield _block_start(index, {**block, "text": ""})
        for piece in split_text(block["text"]):
            yield _delta(index, {"type": "text_delta", "text": piece})
    elif kind in ("tool_use", "server_tool_use", "mcp_tool_use"):
        yield _block_start(index, {**block, "input": {}})
        for piece in split_json(block["input"]):
            yield _delta(index, {"type": "input_json_delta", "partial_json": piece})
    elif kind == "thinking":  # omitted thinking (empty) sends its signature alone
        yield _block_start(index, {"type": "thinking", "thinking": "", "signature": ""})
        for piece in split_text(block["thinking"]) if block["thinking"] else ():
            yield _delta(index, {"type": "thinking_delta", "thinking": piece})
        yield _delta(index, {"type": "signature_delta", "signature": block.get("signature", "")})
    elif kind == "compaction":  # the signature comes first, the summary in one delta
        yield _block_start(index, {**block, "content": None, "encrypted_content": None})
        summary = {
            "content": block.get("content"),
            "encrypted_content": block.get("encrypted_content"),
        }
        yield _delta(index, {"type": "compaction_delta", **summary})
    else:  # redacted thinking and server tool results arrive whole, without deltas
        yield _block_start(index, dict(block))
    yield {"type": "content_block_stop", "index": index}


def _block_start(index: int, block: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def _delta(index: int, delta: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def split_text(answer: str) -> list[str]:
    """One piece per word (with its trailing space), as the API streams small deltas."""
    return re.findall(r"\s*\S+\s*", answer) or [answer]


def split_json(input: Mapping[str, Any]) -> list[str]:
    """The tool input's JSON in two or more pieces, cut mid-token like the real stream."""
    encoded = json.dumps(input)
    size = max(1, min(24, len(encoded) // 2))
    return [encoded[i : i + size] for i in range(0, len(encoded), size)]
