"""The real model client: one Messages API call per step, streamed through the anthropic SDK.

Three jobs beyond calling ``client.messages.stream``:

- **Prompt caching.** The stable prefix (system prompt, tool definitions, the history)
  is marked with ``cache_control`` so each step of a turn re-reads it from the cache
  instead of paying for it again. The caller's request is never mutated.
- **Complete answers only.** A stream that ends without a stop reason raises
  ``IncompleteResponse``; a half answer must never enter the history.
- **Errors a user can act on.** SDK and httpx2 exceptions become ``ModelError`` with
  a short message and a hint; the SDK's exception stays in ``cause``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import anthropic
import httpx2

from ..errors import IncompleteResponse, MissingApiKey, ModelError
from .base import DEFAULT_MODEL, ModelRequest, ModelResponse, TextChunk, Usage

__all__ = ["DEFAULT_MODEL", "AnthropicClient", "build_params", "describe_status_error"]

CACHE_CONTROL = {"type": "ephemeral"}
MAX_BREAKPOINTS = 4
"""The API rejects a request with more ``cache_control`` breakpoints than this."""

_UNCACHEABLE_BLOCKS = frozenset({"thinking", "redacted_thinking"})
_RETRIED_STATUSES = frozenset({408, 409, 429})
_MISSING_CREDENTIAL = "Could not resolve authentication method"


class AnthropicClient:
    """Streams answers from the Messages API; credentials and base URL may come from the environment."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        max_retries: int = 2,
        timeout: float | None = None,
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url
        self.max_retries = max_retries
        self.timeout = timeout
        self._sdk: anthropic.AsyncAnthropic | None = None
        self._sdk_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"<AnthropicClient base_url={self.base_url or 'default'} max_retries={self.max_retries}>"

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextChunk | ModelResponse]:
        """Yield the answer's text as it streams, then one ``ModelResponse``."""
        sdk = self._client()
        started, final = False, None
        try:
            async with sdk.messages.stream(**build_params(request)) as stream:
                async for event in stream:
                    started = started or event.type == "message_start"
                    if event.type == "text" and event.text:
                        yield TextChunk(event.text)
                if started:  # otherwise the SDK has no snapshot and asserts
                    final = await stream.get_final_message()
        except TypeError as err:
            if _MISSING_CREDENTIAL not in str(err):
                raise
            raise MissingApiKey("no Anthropic API key is set", cause=err) from err
        except anthropic.APIStatusError as err:
            raise describe_status_error(
                err,
                model=request.model,
                base_url=self._base_url(sdk),
                max_retries=self.max_retries,
                secret=self.api_key,
            ) from err
        except (anthropic.APIConnectionError, httpx2.HTTPError) as err:
            raise self._connection_error(err, self._base_url(sdk)) from err
        except ValueError as err:  # the SDK could not parse the model's tool input JSON
            if "tool parameter JSON" not in str(err):
                raise
            raise ModelError(
                "the model sent tool input that is not valid JSON",
                cause=err,
                hint="send the message again",
            ) from err
        yield _response_from(final)

    async def aclose(self) -> None:
        """Close the SDK's connection pool."""
        if self._sdk is not None:
            await self._sdk.close()
            self._sdk = self._sdk_loop = None

    def _client(self) -> anthropic.AsyncAnthropic:
        """The SDK client, built on first use and again when the event loop changed.

        A connection pool belongs to the loop that opened it. The plain
        ``DefaultAsyncHttpxClient`` is passed because the SDK's own wrapper, when
        collected after its loop closed, schedules a close that fails on the new loop.
        """
        loop = asyncio.get_running_loop()
        if self._sdk is None or self._sdk_loop is not loop:
            options: dict[str, Any] = {"max_retries": self.max_retries}
            if self.timeout is not None:
                options["timeout"] = self.timeout
            try:
                self._sdk = anthropic.AsyncAnthropic(
                    api_key=self.api_key,
                    base_url=self.base_url,
                    http_client=anthropic.DefaultAsyncHttpxClient(),
                    **options,
                )
            except anthropic.AnthropicError as err:  # a broken profile or config on disk
                raise ModelError(
                    f"Anthropic credentials could not be loaded: {_redact(str(err), self.api_key)}",
                    cause=err,
                    hint="fix the profile (ANTHROPIC_PROFILE, ANTHROPIC_CONFIG_DIR) or set ANTHROPIC_API_KEY",
                ) from err
            self._sdk_loop = loop
        return self._sdk

    def _base_url(self, sdk: anthropic.AsyncAnthropic) -> str:
        return str(sdk.base_url).rstrip("/")

    def _connection_error(self, err: Exception, base_url: str) -> ModelError:
        if isinstance(err, anthropic.APIConnectionError):
            failure = "timed out" if isinstance(err, anthropic.APITimeoutError) else "failed"
            detail = f"{err.__cause__!r}" if err.__cause__ is not None else str(err)
            return ModelError(
                f"connection to {base_url} {failure}: {_redact(detail, self.api_key)}",
                cause=err,
                hint=f"check the network and ANTHROPIC_BASE_URL; the SDK already retried {self.max_retries} times",
            )
        return ModelError(
            f"connection to {base_url} failed while the answer streamed: {type(err).__name__}: {_redact(str(err), self.api_key)}",
            cause=err,
            hint="the connection dropped mid-answer, and streams are not retried; send the message again",
        )


def build_params(request: ModelRequest) -> dict[str, Any]:
    """The ``messages.stream`` keyword arguments, with cache breakpoints on the stable prefix.

    Breakpoints go on the system prompt, the last tool and the last message's last
    block: the API caches the prefix up to each one, so the next step of the turn
    (same system and tools, the history plus one exchange) reads it back.
    """
    params: dict[str, Any] = {"model": request.model, "max_tokens": request.max_tokens}
    breakpoints = 0
    if request.system:
        params["system"] = [
            {"type": "text", "text": request.system, "cache_control": CACHE_CONTROL}
        ]
        breakpoints += 1
    if request.tools:
        tools = [dict(tool) for tool in request.tools]
        tools[-1].setdefault("cache_control", CACHE_CONTROL)
        params["tools"] = tools
        breakpoints += sum("cache_control" in tool for tool in tools)
    messages = _mark_last_message(request.messages)
    params["messages"] = _trim_breakpoints(messages, max(0, MAX_BREAKPOINTS - breakpoints))
    if request.extra:
        params["extra_body"] = dict(request.extra)
    return params


def _mark_last_message(messages: Sequence[Mapping[str, Any]]) -> list[Any]:
    """A copy of ``messages`` whose last cacheable block carries ``cache_control``."""
    copied: list[Any] = list(messages)
    if not copied:
        return copied
    last = copied[-1]
    content = last.get("content")
    blocks = (
        [{"type": "text", "text": content}] if isinstance(content, str) and content else content
    )
    if not isinstance(blocks, list | tuple):
        return copied
    blocks = list(blocks)
    for index in range(len(blocks) - 1, -1, -1):
        block = blocks[index]
        if isinstance(block, Mapping) and block.get("type") not in _UNCACHEABLE_BLOCKS:
            blocks[index] = {"cache_control": CACHE_CONTROL, **block}
            copied[-1] = {**last, "content": blocks}
            break
    return copied


def _trim_breakpoints(messages: list[Any], budget: int) -> list[Any]:
    """Drop the oldest message breakpoints so at most ``budget`` remain (copy on write)."""
    marked = [
        (i, j)
        for i, message in enumerate(messages)
        if isinstance(message.get("content"), list | tuple)
        for j, block in enumerate(message["content"])
        if isinstance(block, Mapping) and "cache_control" in block
    ]
    for i, j in marked[: max(0, len(marked) - budget)]:
        content = list(messages[i]["content"])
        content[j] = {key: value for key, value in content[j].items() if key != "cache_control"}
        messages[i] = {**messages[i], "content": content}
    return messages


def describe_status_error(
    err: anthropic.APIStatusError,
    *,
    model: str,
    base_url: str,
    max_retries: int,
    secret: str | None = None,
) -> ModelError:
    """A ``ModelError`` naming the status, the error type and the API's own message."""
    kind = err.type or "unknown_error"
    detail = _redact(err.api_message or str(err.body or err.message), secret)
    request_id = f" (request id {err.request_id})" if err.request_id else ""
    status = err.status_code
    if status == 200:  # an SSE `error` event after the stream started
        return ModelError(
            f"the Messages API failed mid-answer with {kind}: {detail}{request_id}",
            cause=err,
            hint="the API failed while the answer streamed, and streams are not retried; send the message again shortly",
        )
    message = f"the Messages API answered {status} {kind}: {detail}{request_id}"
    return ModelError(
        message, cause=err, hint=_status_hint(status, detail, model, base_url, max_retries)
    )


def _status_hint(status: int, detail: str, model: str, base_url: str, max_retries: int) -> str:
    if status in _RETRIED_STATUSES or status >= 500:
        return f"the API is overloaded or rate-limited; the SDK already retried {max_retries} times — try again shortly"
    if status == 401:
        return f"check the API key: ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) must be a valid key for {base_url}"
    if status == 402:
        return "check the billing of the account that owns the API key"
    if status == 403:
        return f"the key may not use this model or workspace; check its permissions for {model}"
    if status == 404:
        return f"check the model name {model!r} and the base URL {base_url}"
    if status in (400, 413, 422):
        return f"the API rejected the request itself ({detail}); sending it again will fail the same way"
    return ""


def _response_from(final: Any) -> ModelResponse:
    if final is None or final.stop_reason is None:
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
    )


def _plain_block(block: Any) -> dict[str, Any]:
    """A content block as a JSON dict the API accepts back: no None fields, no SDK extras.

    ``Message.to_param()`` keeps the SDK's model objects, and the stream's text blocks
    carry a ``parsed_output`` field that is not part of the API.
    """
    data = block.to_dict(mode="json", exclude_unset=False, exclude_none=True)
    data.pop("parsed_output", None)
    return data


def _redact(text: str, *secrets: str | None) -> str:
    """``text`` without any configured credential, in case an error message echoes one."""
    candidates = (
        *secrets,
        os.environ.get("ANTHROPIC_API_KEY"),
        os.environ.get("ANTHROPIC_AUTH_TOKEN"),
    )
    for secret in candidates:
        if secret and len(secret) >= 8:
            text = text.replace(secret, "[redacted]")
    return text
