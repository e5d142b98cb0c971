"""Reading an opened Messages API stream: the SDK's events as typed ``StreamItem`` values.

Split from anthropic_client.py, which opens the stream and retries: reading it is its own
job. Items come in stream order: text and thinking deltas, each finished client
``tool_use`` and ``server_tool_use`` block, every server tool result block whatever its
type, then one ``ModelResponse`` that keeps the stop reason (``pause_turn`` too) and the
hosted ``container``.

Complete answers only: a stream that ends without a stop reason raises
``IncompleteResponse``, one that goes silent (no byte, not even a ``ping``, for the read
timeout the client set: ``silence_timeout``) raises ``ConnectionSilent``, and a stream
the SDK cannot read (invalid JSON, bytes that are not UTF-8, a delta for a block never
started) raises ``ModelError``: a half answer must never enter the history.

Silence is measured on the bytes, not on the SDK's events: the SDK drops ``ping``
events before they reach us, so a gap between events says nothing, while httpx2's read
timeout runs out only when no byte at all arrived, pings included.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
from anthropic.lib.streaming import AsyncMessageStream

from ..errors import IncompleteResponse, ModelError
from ..tools.output import one_line
from .api_errors import (
    describe_broken_stream,
    describe_silence,
    describe_status_error,
    redact_credentials,
)
from .base import (
    ModelRequest,
    ModelResponse,
    ServerToolResult,
    ServerToolUse,
    StreamItem,
    TextChunk,
    ThinkingChunk,
    ToolUseRequested,
    Usage,
)
from .server_tools import SERVER_CALLS, is_server_tool_result, server_call_name

__all__ = ["read_stream"]

_UNREADABLE_STREAM = (ValueError, IndexError, TypeError, AttributeError)
"""What the SDK raises while reading a stream the API garbled: ``JSONDecodeError`` (a
``data:`` line), ``UnicodeDecodeError`` (the bytes), ``ValueError`` (tool input JSON),
``IndexError`` (a delta for a block never started) and ``TypeError``/``AttributeError``
(an event of the wrong shape, inside the accumulator). Caught around the SDK's read of
one event only, where no code of ours or the user's runs."""


async def read_stream(
    stream: AsyncMessageStream[Any],
    request: ModelRequest,
    base_url: str,
    *,
    silence: float,
    secret: str | None,
) -> AsyncIterator[StreamItem]:
    """The items of an opened stream, then its response; every failure a ``ModelError``.

    ``silence`` (the stream's read timeout) and ``secret`` are the client's, for the
    wording of a failure.
    """
    events = aiter(stream)
    started = False
    while True:
        try:
            event = await anext(events)
        except StopAsyncIteration:
            break
        except anthropic.APIStatusError as err:  # an SSE `error` event
            raise describe_status_error(
                err,
                model=request.model,
                base_url=base_url,
                max_retries=0,
                secret=secret,
            ) from err
        except httpx2.TimeoutException as err:
            raise describe_silence(base_url, silence, started=started, cause=err) from err
        except httpx2.HTTPError as err:
            raise describe_broken_stream(err, base_url, secret=secret) from err
        except _UNREADABLE_STREAM as err:
            raise _unreadable_stream(err, stream.request_id, secret) from err
        started = started or event.type == "message_start"
        # Before message_start the SDK passes events on raw, without the finished block.
        item = _stream_item(event) if started else None
        if item is not None:
            yield item
    if not started:  # and the SDK, with no snapshot, would assert
        raise _not_a_stream(stream.response, base_url)
    yield _response_from(await stream.get_final_message())


def _not_a_stream(response: httpx2.Response, base_url: str) -> ModelError:
    """A reply that never began an answer: an empty body, or a page that is not SSE at all
    (a proxy's login page, a JSON gateway) — name what came instead."""
    kind = response.headers.get("content-type", "no content type").split(";")[0].strip()
    if kind == "text/event-stream":
        return IncompleteResponse(
            f"{base_url} opened an answer stream and closed it before the answer began",
            hint="the API or the connection ended the stream early; send the message again",
        )
    return ModelError(
        f"{base_url} answered with {kind} instead of an event stream of the Messages API",
        hint="check ANTHROPIC_BASE_URL: a proxy, gateway or login page may stand in front of the API",
    )


def _response_from(final: Any) -> ModelResponse:
    if final.stop_reason is None:
        raise IncompleteResponse(
            "the model's answer was cut off before it finished (the stream ended without a stop reason)",
            hint="the API or the connection ended the stream early; send the message again",
        )
    usage = final.usage
    return ModelResponse(
        message={"role": "assistant", "content": [_plain_block(block) for block in final.content]},
        stop_reason=final.stop_reason,
        usage=Usage(
            input_tokens=usage.input_tokens or 0,
            output_tokens=usage.output_tokens or 0,
            cache_creation_input_tokens=usage.cache_creation_input_tokens or 0,
            cache_read_input_tokens=usage.cache_read_input_tokens or 0,
        ),
        model=final.model,
        id=final.id,
        container=_container(final.container),
        applied_edits=_applied_edits(getattr(final, "context_management", None)),
    )


def _applied_edits(context_management: Any) -> tuple[dict[str, Any], ...]:
    """The context edits a beta answer says the API applied to its prompt."""
    edits = getattr(context_management, "applied_edits", None) or ()
    return tuple(_plain_block(edit) for edit in edits)


def _container(container: Any) -> dict[str, Any] | None:
    """The hosted container as JSON (``expires_at`` an ISO string), or ``None``."""
    return None if container is None else container.to_dict(mode="json", exclude_none=True)


def _stream_item(event: Any) -> StreamItem | None:
    """The item an SDK stream event stands for, or ``None`` for bookkeeping events.

    Tool blocks are reported once finished (``content_block_stop``): their input
    arrives in JSON pieces. Result blocks arrive whole, and any ``*_tool_result`` type
    counts, so a server tool the SDK does not know yet is passed on, not dropped.
    """
    if event.type == "text":
        return TextChunk(event.text) if event.text else None
    if event.type == "thinking":
        return ThinkingChunk(event.thinking) if event.thinking else None
    if event.type != "content_block_stop":
        return None
    block = event.content_block
    if block.type == "tool_use":
        return ToolUseRequested(block.id, block.name, _tool_input(block))
    if block.type in SERVER_CALLS:  # code execution's, or the MCP connector's
        return ServerToolUse(block.id, server_call_name(_plain_block(block)), _tool_input(block))
    if is_server_tool_result(block.type):
        return ServerToolResult(_plain_block(block))
    return None


def _tool_input(block: Any) -> dict[str, Any]:
    """A finished tool block's input; JSON that parsed to a list or a string is no call to run."""
    if not isinstance(block.input, dict):
        raise ModelError(
            f"the model sent tool input that is not a JSON object: {one_line(json.dumps(block.input), 80)}",
            hint="send the message again",
        )
    return dict(block.input)


def _unreadable_stream(err: Exception, request_id: str | None, secret: str | None) -> ModelError:
    """One line on what was wrong with a stream the SDK could not read (see ``_UNREADABLE_STREAM``)."""
    if isinstance(err, json.JSONDecodeError):
        what = f"an event's data is not valid JSON: {one_line(err.doc, 80)}"
    elif isinstance(err, UnicodeDecodeError):
        what = f"it holds bytes that are not UTF-8: {one_line(repr(err.object[err.start : err.end + 20]), 80)}"
    elif isinstance(err, ValueError) and "tool parameter JSON" in str(err):
        what = "the model sent tool input that is not valid JSON"
    elif isinstance(err, IndexError):
        what = "an event names a content block that the stream never started"
    else:
        what = f"an event is not shaped as the API defines it ({type(err).__name__}: {one_line(str(err), 80)})"
    request = f" (request id {request_id})" if request_id else ""
    return ModelError(
        redact_credentials(
            f"the Messages API sent a stream that cannot be read: {what}{request}", secret
        ),
        cause=err,
        hint="the answer was dropped; send the message again",
    )


def _plain_block(block: Any) -> dict[str, Any]:
    """A content block as a JSON dict the API accepts back: no None fields, no SDK extras.

    ``Message.to_param()`` keeps the SDK's model objects, and the stream's text blocks
    carry a ``parsed_output`` field that is not part of the API. Serializer warnings are
    off: a result shape newer than the SDK is kept as sent, and is not worth a warning.
    """
    data = block.to_dict(mode="json", exclude_unset=False, exclude_none=True, warnings=False)
    data.pop("parsed_output", None)
    return data
