"""The real model client: one Messages API call per step, streamed through the anthropic SDK.

Five jobs beyond calling ``client.messages.stream``:

- **A typed stream.** The SDK's events become ``StreamItem`` values in stream order: text
  and thinking deltas, each finished client ``tool_use`` and ``server_tool_use`` block,
  every server tool result block whatever its type, then one ``ModelResponse`` that
  keeps the stop reason (``pause_turn`` too) and the hosted ``container``.
- **Prompt caching.** Breakpoints sit where the previous request wrote its prefix and
  where this one ends, so each step reads the whole earlier conversation from the cache
  however many blocks the last step added (see ``build_params``). The caller's request
  is never mutated.
- **Complete answers only.** A stream that ends without a stop reason raises
  ``IncompleteResponse``, and a stream the SDK cannot read (invalid JSON, bytes that
  are not UTF-8, a delta for a block never started) raises ``ModelError``: a half
  answer must never enter the history.
- **No silent waits.** Timeouts fit a person waiting at a notebook, and the client
  retries by itself (the SDK's ``max_retries`` is 0) so that each wait is a
  ``RetryWait`` item the person sees; a ``retry-after`` longer than ``max_retry_wait``
  ends the request with the time to try again instead of a wait of an hour.
- **Errors a user can act on.** SDK and httpx2 exceptions become ``ModelError`` with
  a short message and a hint; the SDK's exception stays in ``cause``. A request naming
  a hosted container that has expired raises ``ContainerExpired``, so a caller can start
  a new container instead of failing the turn.

The hosted backend also needs the account's other APIs (Skills, Files): ``api_call``
lends it the same SDK client, with failures worded the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import os
import random
import time
import typing
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import anthropic
import httpx2
from anthropic.lib.streaming import AsyncMessageStream
from anthropic.resources.messages import AsyncMessages
from traitlets import Float, Int, Unicode
from traitlets.config import Configurable

from ..errors import IncompleteResponse, MissingApiKey, ModelError
from ..tools.output import one_line
from .base import (
    CREDENTIAL_ENV_VARS,
    DEFAULT_MODEL,
    ModelRequest,
    ModelResponse,
    RetryWait,
    ServerToolResult,
    ServerToolUse,
    StreamItem,
    TextChunk,
    ThinkingChunk,
    ToolUseRequested,
    Usage,
)
from .pricing import base_model
from .server_tools import is_server_tool_result

__all__ = [
    "CODE_EXECUTION_TOOLS",
    "DEFAULT_MODEL",
    "MESSAGES_API",
    "AnthropicClient",
    "ContainerExpired",
    "SdkClient",
    "build_params",
    "code_execution_tools",
    "describe_status_error",
]

MESSAGES_API = "Messages API"

CACHE_CONTROL = {"type": "ephemeral"}
MAX_BREAKPOINTS = 4
"""The API rejects a request with more ``cache_control`` breakpoints than this."""

_UNCACHEABLE_BLOCKS = frozenset({"thinking", "redacted_thinking"})
"""Block types the API refuses ``cache_control`` on."""
_PREVIOUS_END_REACH = 4
"""How far back from the end ``build_params`` looks for the latest assistant message.

The loops append at most an assistant message, its tool results (or an interrupted
step's repair) and a new user message after it, so it is always within reach.
"""
_STREAM_KEYWORDS = frozenset(inspect.signature(AsyncMessages.stream).parameters) - {
    "self",
    "extra_headers",
    "extra_query",
    "extra_body",
    "timeout",
}
"""API parameters the installed SDK's ``messages.stream`` takes as keywords (not request options)."""
TASK_BUDGET_BETA = "task-budgets-2026-03-13"
TASK_BUDGET_MODELS = frozenset(
    {
        "claude-fable-5-1",
        "claude-mythos-5-1",
        "claude-fable-5",
        "claude-mythos-5",
        "claude-opus-5-5",
        "claude-opus-5",
        "claude-opus-4-8",
        "claude-opus-4-7",
        "claude-sonnet-5-5",
        "claude-haiku-5-5",
    }
)
"""Models the task-budgets page lists (platform.claude.com/docs/en/build-with-claude/
task-budgets); another may refuse the field, and a budget is only advice, so it is left out."""
MIN_TASK_BUDGET = 20_000
"""The smallest ``total`` the API takes (reported by guides to the beta)."""
_RETRIED_STATUSES = frozenset({408, 409, 429})
_MISSING_CREDENTIAL = "Could not resolve authentication method"
_RETRY_COUNT_HEADER = "x-stainless-retry-count"
"""Set per attempt, since each retry is a new SDK call: the API sees the real count, and the
SDK's one retry of a 401 that refreshes a cached token stays one."""
_FIRST_BACKOFF = 0.5
_MAX_BACKOFF = 8.0
"""Seconds of the exponential backoff when the API names no wait (the SDK's own values)."""
_UNREADABLE_STREAM = (ValueError, IndexError, TypeError, AttributeError)
"""What the SDK raises while reading a stream the API garbled: ``JSONDecodeError`` (a
``data:`` line), ``UnicodeDecodeError`` (the bytes), ``ValueError`` (tool input JSON),
``IndexError`` (a delta for a block never started) and ``TypeError``/``AttributeError``
(an event of the wrong shape, inside the accumulator). Caught around the SDK's read of
one event only, where no code of ours or the user's runs."""


def code_execution_tools() -> tuple[str, ...]:
    """Every code-execution tool type the installed SDK defines, oldest first.

    Read from the SDK's own tool union rather than listed here, so a newer SDK offers
    its newer tool without a change to this package.
    """
    found = set()
    for member in typing.get_args(anthropic.types.ToolUnionParam):
        for value in typing.get_args(typing.get_type_hints(member).get("type")):
            if isinstance(value, str) and value.startswith("code_execution_"):
                found.add(value)
    return tuple(sorted(found))


CODE_EXECUTION_TOOLS = code_execution_tools()
"""``code_execution_20250522`` … ``code_execution_20260521``: the newest is the last."""


class ContainerExpired(ModelError):
    """A request named a hosted container that has expired; its files and state are gone.

    Its own class so that the hosted backend can start a new container and go on,
    where any other rejected request ends the turn.
    """


@runtime_checkable
class SdkClient(Protocol):
    """A model client that lends its SDK client for the account's other APIs."""

    def api_call(
        self, api: str
    ) -> contextlib.AbstractAsyncContextManager[anthropic.AsyncAnthropic]:
        """The SDK client for calls to ``api`` (``Skills API``, ``Files API``); their
        failures leave the block as ``ModelError``."""
        ...


class AnthropicClient(Configurable):
    """Streams answers from the Messages API; credentials and base URL may come from the environment.

    The timeouts fit an interactive notebook rather than the SDK's 10 minutes per try:

    - ``connect_timeout`` (10 s): a TCP and TLS handshake takes well under a second, so
      10 s leaves room for a slow proxy yet names a dead network within half a minute
      (three tries).
    - ``read_timeout`` (120 s): the longest silence allowed between two reads, before
      the reply starts and between stream events. A healthy stream is never quiet that
      long (deltas as the model writes, ``ping`` events in between), while a long
      prompt's first token or a long thinking pause still fits.
    - ``max_retry_wait`` (30 s): the longest wait before a retry. A ``retry-after``
      beyond it fails the request at once, saying when to try again: a person would
      rather know than watch a cell that waits for an hour.

    A traitlets ``Configurable``: ``c.AnthropicClient.read_timeout = 300`` in a Jupyter or
    IPython config file sets the kernel's default.
    """

    api_key = Unicode(None, allow_none=True, help="The API key; None: the SDK's environment.")
    base_url = Unicode(None, allow_none=True, help="The API's URL; None: ANTHROPIC_BASE_URL.")
    max_retries = Int(2, min=0, help="Retries of a request that failed before it streamed.").tag(
        config=True
    )
    connect_timeout = Float(10.0, min=0.1, help="Seconds to open a connection.").tag(config=True)
    read_timeout = Float(
        120.0, min=0.1, help="Seconds of silence allowed before and between stream events."
    ).tag(config=True)
    max_retry_wait = Float(
        30.0, min=0.0, help="Longest wait before a retry; a longer retry-after fails at once."
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sdk: anthropic.AsyncAnthropic | None = None
        self._sdk_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"<AnthropicClient base_url={self.base_url or 'default'} max_retries={self.max_retries}>"

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]:
        """Yield the answer's items as they stream, then one ``ModelResponse``.

        A request that fails before its stream starts is retried as the SDK would,
        yielding a ``RetryWait`` before each wait. Once the stream has started nothing
        is retried: part of the answer may already be on the person's screen.
        """
        sdk = self._client()
        params = build_params(request)
        betas = {"anthropic-beta": TASK_BUDGET_BETA} if _takes_task_budget(request) else {}
        timeout = httpx2.Timeout(self.read_timeout, connect=self.connect_timeout)
        for retry in itertools.count():
            headers = {**betas, _RETRY_COUNT_HEADER: str(retry)}
            try:
                async with sdk.messages.stream(
                    **params, extra_headers=headers, timeout=timeout
                ) as stream:
                    async for item in self._read(stream, request, self._base_url(sdk)):
                        yield item
                    return
            # Only opening the stream raises these: ``_read`` turns each of its own
            # failures into a ModelError.
            except TypeError as err:
                if _MISSING_CREDENTIAL not in str(err):
                    raise
                raise MissingApiKey("no Anthropic API key is set", cause=err) from err
            except (anthropic.APIStatusError, anthropic.APIConnectionError) as err:
                wait = self._retry_wait(sdk, err, retry, request)
            yield wait
            await asyncio.sleep(wait.seconds)

    async def aclose(self) -> None:
        """Close the SDK's connection pool."""
        if self._sdk is not None:
            await self._sdk.close()
            self._sdk = self._sdk_loop = None

    @contextlib.asynccontextmanager
    async def api_call(self, api: str) -> AsyncIterator[anthropic.AsyncAnthropic]:
        """The SDK client (this loop's, with its connection pool) for calls to ``api``.

        For the Skills and Files APIs, which the hosted backend needs beside the
        Messages API. Their calls are short and show nothing while they run, so the SDK
        retries them by itself (``max_retries``); the timeouts are this client's. Every
        failure inside the block leaves it as a ``ModelError`` naming ``api``.
        """
        sdk = self._client()
        base_url = self._base_url(sdk)
        timeout = httpx2.Timeout(self.read_timeout, connect=self.connect_timeout)
        try:
            yield sdk.with_options(max_retries=self.max_retries, timeout=timeout)
        except TypeError as err:
            if _MISSING_CREDENTIAL not in str(err):
                raise
            raise MissingApiKey("no Anthropic API key is set", cause=err) from err
        except anthropic.APIStatusError as err:
            raise describe_status_error(
                err,
                base_url=base_url,
                max_retries=self.max_retries,
                secret=self.api_key,
                api=api,
            ) from err
        except anthropic.APIConnectionError as err:
            raise self._connection_error(err, base_url, retries=self.max_retries) from err
        except httpx2.HTTPError as err:  # the body of a download broke off
            raise ModelError(
                f"connection to {base_url} failed during a {api} call: {type(err).__name__}: "
                f"{_redact(str(err), self.api_key)}",
                cause=err,
                hint="the connection dropped; try again",
            ) from err

    async def _read(
        self, stream: AsyncMessageStream[Any], request: ModelRequest, base_url: str
    ) -> AsyncIterator[StreamItem]:
        """The items of an opened stream, then its response; every failure a ``ModelError``."""
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
                    secret=self.api_key,
                ) from err
            except httpx2.HTTPError as err:
                raise self._connection_error(err, base_url) from err
            except _UNREADABLE_STREAM as err:
                raise _unreadable_stream(err, stream.request_id, self.api_key) from err
            started = started or event.type == "message_start"
            # Before message_start the SDK passes events on raw, without the finished block.
            item = _stream_item(event) if started else None
            if item is not None:
                yield item
        if not started:  # and the SDK, with no snapshot, would assert
            raise _not_a_stream(stream.response, base_url)
        yield _response_from(await stream.get_final_message())

    def _retry_wait(
        self,
        sdk: anthropic.AsyncAnthropic,
        err: anthropic.APIStatusError | anthropic.APIConnectionError,
        retry: int,
        request: ModelRequest,
    ) -> RetryWait:
        """The wait before the next try, or the ``ModelError`` that ends the request.

        Whether to retry is the SDK's own policy (``x-should-retry``, 408, 409, 429,
        5xx, a 401 that refreshed a cached token; every connection error and timeout),
        and so is reading ``retry-after-ms`` and ``retry-after``.
        """
        base_url = self._base_url(sdk)
        if isinstance(err, anthropic.APIConnectionError):
            if retry >= self.max_retries:
                raise self._connection_error(err, base_url, retries=retry) from err
            reason = f"connection {self._connection_failure(err)}"
            return RetryWait(retry + 1, self.max_retries, self._backoff(retry), reason)
        failure = describe_status_error(
            err,
            model=request.model,
            base_url=base_url,
            max_retries=retry,
            secret=self.api_key,
        )
        if not sdk._should_retry(err.response):
            raise failure from err
        asked = sdk._parse_retry_after_header(err.response.headers)
        if asked is not None and asked > self.max_retry_wait:  # say when, even after the last try
            raise ModelError(
                f"{failure}; it asks for a wait of {_duration(asked)} before the next try",
                cause=err,
                hint=(
                    f"try again after {time.strftime('%H:%M', time.localtime(time.time() + asked))}; "
                    f"this client waits at most {self.max_retry_wait:g} s between tries (max_retry_wait)"
                ),
            ) from err
        if retry >= self.max_retries:
            raise failure from err
        seconds = asked if asked is not None and asked > 0 else self._backoff(retry)
        reason = f"{err.status_code} {err.type or 'error'}"
        return RetryWait(retry + 1, self.max_retries, seconds, reason)

    def _backoff(self, retry: int) -> float:
        """Exponential backoff with jitter, as the SDK computes it, within ``max_retry_wait``."""
        seconds = min(_FIRST_BACKOFF * 2.0**retry, _MAX_BACKOFF) * (1 - 0.25 * random.random())
        return min(seconds, self.max_retry_wait)

    def _client(self) -> anthropic.AsyncAnthropic:
        """The SDK client, built on first use and again when the event loop changed.

        A connection pool belongs to the loop that opened it. The plain
        ``DefaultAsyncHttpxClient`` is passed because the SDK's own wrapper, when
        collected after its loop closed, schedules a close that fails on the new loop.
        Retries are ours (``stream``), so the SDK makes none.
        """
        loop = asyncio.get_running_loop()
        if self._sdk is None or self._sdk_loop is not loop:
            try:
                self._sdk = anthropic.AsyncAnthropic(
                    api_key=self.api_key,
                    base_url=self.base_url,
                    http_client=anthropic.DefaultAsyncHttpxClient(),
                    max_retries=0,
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

    def _timeout_setting(self, err: anthropic.APITimeoutError) -> tuple[str, float]:
        """The setting whose time ran out before the reply started, and its value."""
        if isinstance(err.__cause__, httpx2.ConnectTimeout):
            return "connect_timeout", self.connect_timeout
        return "read_timeout", self.read_timeout

    def _connection_failure(self, err: anthropic.APIConnectionError) -> str:
        """``timed out after 120 s (read_timeout)`` or ``failed: ConnectError(…)``."""
        if isinstance(err, anthropic.APITimeoutError):
            name, seconds = self._timeout_setting(err)
            return f"timed out after {seconds:g} s ({name})"
        detail = f"{err.__cause__!r}" if err.__cause__ is not None else str(err)
        return f"failed: {_redact(detail, self.api_key)}"

    def _connection_error(self, err: Exception, base_url: str, *, retries: int = 0) -> ModelError:
        if isinstance(err, anthropic.APIConnectionError):
            hint = f"check the network and ANTHROPIC_BASE_URL; already retried {retries} times"
            if isinstance(err, anthropic.APITimeoutError):
                hint += f"; raise {self._timeout_setting(err)[0]} if the API is only slow"
            return ModelError(
                f"connection to {base_url} {self._connection_failure(err)}", cause=err, hint=hint
            )
        if isinstance(err, httpx2.ReadTimeout):
            return ModelError(
                f"the Messages API at {base_url} sent nothing for {self.read_timeout:g} s while "
                "the answer streamed (read_timeout)",
                cause=err,
                hint=(
                    "the answer was dropped; send the message again, or raise read_timeout "
                    "(the seconds of silence allowed between stream events) if the API is only slow"
                ),
            )
        return ModelError(
            f"connection to {base_url} failed while the answer streamed: {type(err).__name__}: {_redact(str(err), self.api_key)}",
            cause=err,
            hint="the connection dropped mid-answer, and streams are not retried; send the message again",
        )


def build_params(request: ModelRequest) -> dict[str, Any]:
    """The ``messages.stream`` keyword arguments for ``request``, with cache breakpoints.

    The API caches the prompt prefix (tools, then system, then messages) up to each
    ``cache_control`` breakpoint, and reads an entry back only when it ends within the
    ~20 blocks that end at one of the request's breakpoints. One breakpoint at the end
    misses once a step adds that many (ten parallel tool calls are 20 blocks of
    ``tool_use`` and ``tool_result``), and the whole history is then paid again. So up
    to three breakpoints, of the four allowed:

    1. the system prompt: it covers the tools too, and is the same for every request
       of a session (and of other sessions with the same skills);
    2. the last cacheable block of the message that ended the previous request, the one
       just before the latest assistant message: the previous request wrote its prefix
       exactly there, so this one reads it back however much the step added;
    3. the last cacheable block of the final message, which writes the prefix that
       the next request reads.

    Without a system prompt the last tool takes the first breakpoint. Thinking blocks
    cannot carry ``cache_control``, so a message's last cacheable block is its last
    other block. Breakpoints the caller put on tools are kept; if they leave fewer than
    three, the system prompt goes first, then the final message, then the previous end.
    Those the caller put in the two marked messages are replaced. Only the last few
    messages are looked at, so the cost does not grow with the conversation beyond
    copying the list: breakpoints a caller left in older messages are not looked for
    (the histories this package keeps have none, since only copies are marked).

    ``request.container`` goes out as ``container``; ``request.extra`` entries go out as
    keywords where ``messages.stream`` takes them (overriding the request's own fields),
    the rest in ``extra_body``. ``request.task_budget`` joins ``output_config`` where the
    model takes one (its beta header is the caller's).
    """
    params: dict[str, Any] = {"model": request.model, "max_tokens": request.max_tokens}
    tools = list(request.tools)
    budget = MAX_BREAKPOINTS - sum("cache_control" in tool for tool in tools)
    if request.system:
        system = {"type": "text", "text": request.system}
        params["system"] = [{**system, "cache_control": CACHE_CONTROL} if budget > 0 else system]
        budget -= 1
    elif tools and budget == MAX_BREAKPOINTS:
        tools[-1] = {**tools[-1], "cache_control": CACHE_CONTROL}
        budget -= 1
    if tools:
        params["tools"] = tools
    messages = list(request.messages)
    for index in (len(messages) - 1, _previous_end(messages)):
        if index is not None and index >= 0:
            messages[index], placed = _place_breakpoint(messages[index], allowed=budget > 0)
            budget -= placed
    params["messages"] = messages
    if request.container is not None:
        container = request.container
        params["container"] = container if isinstance(container, str) else dict(container)
    body: dict[str, Any] = {}
    for name, value in request.extra.items():
        (params if name in _STREAM_KEYWORDS else body)[name] = value
    if body:
        params["extra_body"] = body
    if _takes_task_budget(request):
        output_config = {**params.get("output_config", {}), "task_budget": request.task_budget}
        params["output_config"] = output_config
    return params


def _takes_task_budget(request: ModelRequest) -> bool:
    """Whether ``request.task_budget`` can go out: a budget the API takes, on a model that
    takes one, through an SDK that knows the beta."""
    budget = request.task_budget
    return (
        budget is not None
        and budget["total"] >= MIN_TASK_BUDGET
        and base_model(request.model) in TASK_BUDGET_MODELS
        and hasattr(anthropic.types.beta, "BetaTokenTaskBudgetParam")
    )


def _previous_end(messages: Sequence[Mapping[str, Any]]) -> int | None:
    """The index of the message that ended the previous request, if one is within reach.

    That request's answer is the latest assistant message; the message before it was
    its last. ``None`` on a conversation's first request.
    """
    last = len(messages) - 1
    for index in range(last, max(0, last - _PREVIOUS_END_REACH), -1):
        if messages[index].get("role") == "assistant":
            return index - 1
    return None


def _place_breakpoint(
    message: Mapping[str, Any], *, allowed: bool
) -> tuple[Mapping[str, Any], bool]:
    """``message`` with a breakpoint on its last cacheable block only, and whether one was placed.

    Breakpoints the caller put in it are dropped, so the count stays known; without
    ``allowed`` none is placed. ``message`` itself comes back when nothing changes.
    """
    content = message.get("content")
    if isinstance(content, str):
        content = [{"type": "text", "text": content}] if content and allowed else None
    if not isinstance(content, list | tuple):
        return message, False
    blocks = [_unmarked(block) for block in content]
    placed = allowed and _mark_last_cacheable(blocks)
    if not placed and all(new is old for new, old in zip(blocks, content, strict=True)):
        return message, False
    return {**message, "content": blocks}, placed


def _mark_last_cacheable(blocks: list[Any]) -> bool:
    """Put a breakpoint on the last block that may carry one; whether there was such a block."""
    for index in range(len(blocks) - 1, -1, -1):
        block = blocks[index]
        if isinstance(block, Mapping) and block.get("type") not in _UNCACHEABLE_BLOCKS:
            blocks[index] = {**block, "cache_control": CACHE_CONTROL}
            return True
    return False


def _unmarked(block: Any) -> Any:
    if isinstance(block, Mapping) and "cache_control" in block:
        return {key: value for key, value in block.items() if key != "cache_control"}
    return block


def describe_status_error(
    err: anthropic.APIStatusError,
    *,
    model: str = "",
    base_url: str,
    max_retries: int,
    secret: str | None = None,
    api: str = MESSAGES_API,
) -> ModelError:
    """A ``ModelError`` naming the API, the status, the error type and the API's own message.

    ``max_retries`` is how many retries were made before this error. A Messages API
    request that named an expired container is a ``ContainerExpired``.
    """
    kind = err.type or "unknown_error"
    detail = _redact(err.api_message or str(err.body or err.message), secret)
    request_id = f" (request id {err.request_id})" if err.request_id else ""
    status = err.status_code
    if status == 200:  # an SSE `error` event after the stream started
        return ModelError(
            f"the {api} failed mid-answer with {kind}: {detail}{request_id}",
            cause=err,
            hint="the API failed while the answer streamed, and streams are not retried; send the message again shortly",
        )
    message = f"the {api} answered {status} {kind}: {detail}{request_id}"
    if api == MESSAGES_API and _names_expired_container(err):
        return ContainerExpired(
            message, cause=err, hint="a new container is needed; its files and state are gone"
        )
    hint = _status_hint(status, detail, model, base_url, max_retries, api)
    return ModelError(message, cause=err, hint=hint)


def _names_expired_container(err: anthropic.APIStatusError) -> bool:
    """Whether the API refused a request because its container expired.

    The error's shape is not documented for the SDK (no class of its own), so both its
    code and its words count.
    """
    if err.error_code == "container_expired":
        return True
    words = (err.api_message or "").lower()
    return err.status_code in (400, 404) and "container" in words and "expired" in words


def _status_hint(
    status: int, detail: str, model: str, base_url: str, max_retries: int, api: str
) -> str:
    if status in _RETRIED_STATUSES or status >= 500:
        retried = f"already retried {max_retries} times — " if max_retries else ""
        return f"the API is overloaded or rate-limited; {retried}try again shortly"
    if status == 401:
        return f"check the API key: ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) must be a valid key for {base_url}"
    if status == 402:
        return "check the billing of the account that owns the API key"
    if status == 403:
        if api != MESSAGES_API:
            return f"the key may not use the {api}, or not in this workspace; check its permissions"
        return f"the key may not use this model or workspace; check its permissions for {model}"
    if status == 404:
        if api != MESSAGES_API:
            return f"check the id: it may have been deleted, or belong to another workspace than this key's ({base_url})"
        return f"check the model name {model!r} and the base URL {base_url}"
    if status in (400, 413, 422):
        return f"the API rejected the request itself ({detail}); sending it again will fail the same way"
    return ""


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
    )


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
    if block.type == "server_tool_use":
        return ServerToolUse(block.id, block.name, _tool_input(block))
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
        _redact(f"the Messages API sent a stream that cannot be read: {what}{request}", secret),
        cause=err,
        hint="the answer was dropped; send the message again",
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _plain_block(block: Any) -> dict[str, Any]:
    """A content block as a JSON dict the API accepts back: no None fields, no SDK extras.

    ``Message.to_param()`` keeps the SDK's model objects, and the stream's text blocks
    carry a ``parsed_output`` field that is not part of the API. Serializer warnings are
    off: a result shape newer than the SDK is kept as sent, and is not worth a warning.
    """
    data = block.to_dict(mode="json", exclude_unset=False, exclude_none=True, warnings=False)
    data.pop("parsed_output", None)
    return data


def _redact(text: str, *secrets: str | None) -> str:
    """``text`` without any configured credential, in case an error message echoes one."""
    candidates = (
        *secrets,
        *(os.environ.get(name) for name in CREDENTIAL_ENV_VARS),
    )
    for secret in candidates:
        if secret and len(secret) >= 8:
            text = text.replace(secret, "[redacted]")
    return text
