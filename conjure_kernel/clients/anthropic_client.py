"""The real model client: one Messages API call per step, streamed through the anthropic SDK.

``AnthropicClient`` opens the stream, retries what failed before it streamed, and owns
the SDK client; its neighbours do the rest:

- request_params.py builds the request (prompt-cache breakpoints, the task budget);
- message_stream.py reads the opened stream as typed items, complete answers only;
- api_errors.py words every failure as a ``ModelError`` a user can act on.

No silent waits: timeouts fit a person waiting at a notebook, and the client retries by
itself (the SDK's ``max_retries`` is 0) so that each wait is a ``RetryWait`` item the
person sees; a ``retry-after`` longer than ``max_retry_wait`` ends the request with the
time to try again instead of a wait of an hour. A connection that goes silent
(``silence_timeout``) is dropped and tried once more, so a dead API is a clear error
within two silences.

The hosted backend also needs the account's other APIs (Skills, Files): ``api_call``
lends it the same SDK client, with failures worded the same way, so this client is an
``AccountClient`` (account.py) too.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
from traitlets import Float, Int, Unicode
from traitlets.config import Configurable

from ..errors import MissingApiKey, ModelError
from .api_errors import (
    ConnectionSilent,
    ContainerExpired,
    describe_connection_error,
    describe_connection_failure,
    describe_silence,
    describe_status_error,
    redact_credentials,
)
from .base import ModelRequest, RetryWait, StreamItem
from .message_stream import read_stream
from .request_params import TASK_BUDGET_BETA, build_params, takes_task_budget

__all__ = ["AnthropicClient"]

_MISSING_CREDENTIAL = "Could not resolve authentication method"
_RETRY_COUNT_HEADER = "x-stainless-retry-count"
"""Set per attempt, since each retry is a new SDK call: the API sees the real count, and the
SDK's one retry of a 401 that refreshes a cached token stays one."""
_FIRST_BACKOFF = 0.5
_MAX_BACKOFF = 8.0
"""Seconds of the exponential backoff when the API names no wait (the SDK's own values)."""


class AnthropicClient(Configurable):
    """Streams answers from the Messages API; credentials and base URL may come from the environment.

    The timeouts fit an interactive notebook rather than the SDK's 10 minutes per try:

    - ``connect_timeout`` (10 s): a TCP and TLS handshake takes well under a second, so
      10 s leaves room for a slow proxy yet names a dead network within half a minute
      (three tries).
    - ``silence_timeout`` (45 s): the longest a Messages API connection may stay silent,
      no byte at all, from sending the request to the answer's last event. The API
      sends a ``ping`` every few seconds while the model thinks, so a long thinking
      pause never trips it, while a server that accepts and never answers, or a stream
      that stalls, does. It is the request's read timeout, so it counts bytes, pings
      included (see message_stream.py). A silent try is dropped and tried once more
      while nothing of the answer has been passed on; a second silence, or one after
      part of the answer was shown, ends the request. So a dead API gives a clear
      error within about two silences: 90 s at the default, 30 to 60 s being the range
      that suits the API's pings.
    - ``read_timeout`` (120 s): the same for the Skills and Files APIs, which send no
      pings while they work.
    - ``max_retry_wait`` (30 s): the longest wait before a retry. A ``retry-after``
      beyond it fails the request at once, saying when to try again: a person would
      rather know than watch a cell that waits for an hour.

    A traitlets ``Configurable``: ``c.AnthropicClient.silence_timeout = 60`` in a Jupyter
    or IPython config file sets the kernel's default.
    """

    api_key = Unicode(None, allow_none=True, help="The API key; None: the SDK's environment.")
    base_url = Unicode(None, allow_none=True, help="The API's URL; None: ANTHROPIC_BASE_URL.")
    max_retries = Int(2, min=0, help="Retries of a request that failed before it streamed.").tag(
        config=True
    )
    connect_timeout = Float(10.0, min=0.1, help="Seconds to open a connection.").tag(config=True)
    silence_timeout = Float(
        45.0,
        min=0.1,
        help="Seconds a Messages API connection may send no byte (data or ping) before it "
        "is dropped and tried once more; 30 to 60 suits the API's pings.",
    ).tag(config=True)
    read_timeout = Float(
        120.0, min=0.1, help="Seconds a Skills or Files API call may send no byte."
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
        yielding a ``RetryWait`` before each wait. A silent connection is retried once,
        and only while nothing has been yielded. Any other failure once the stream has
        started is not retried: part of the answer may already be on the person's screen.
        """
        sdk = self._client()
        params = build_params(request)
        # A request that uses a beta (context management) is read as the beta API's
        # message, which carries what the beta adds (applied edits, compaction blocks).
        messages_api = sdk.beta.messages if request.betas else sdk.messages
        named = [*request.betas, *([TASK_BUDGET_BETA] if takes_task_budget(request) else [])]
        betas = {"anthropic-beta": ",".join(named)} if named else {}
        timeout = self._timeout(self.silence_timeout)
        silent_before = False
        for retry in itertools.count():
            headers = {**betas, _RETRY_COUNT_HEADER: str(retry)}
            shown = False
            try:
                async with messages_api.stream(
                    **params, extra_headers=headers, timeout=timeout
                ) as stream:
                    items = read_stream(
                        stream,
                        request,
                        self._base_url(sdk),
                        silence=self.silence_timeout,
                        secret=self.api_key,
                    )
                    async for item in items:
                        shown = True
                        yield item
                    return
            # Opening the stream raises the SDK's errors below; ``read_stream`` turns each
            # of its own failures into a ModelError, a silent stream into ConnectionSilent.
            except TypeError as err:
                if _MISSING_CREDENTIAL not in str(err):
                    raise
                raise MissingApiKey("no Anthropic API key is set", cause=err) from err
            except (
                ConnectionSilent,
                anthropic.APIStatusError,
                anthropic.APIConnectionError,
            ) as err:
                silence = self._silence_of(sdk, err)
                if silence is not None:
                    wait = self._silence_wait(silence, retry, again=shown or silent_before)
                    silent_before = True
                else:
                    assert not isinstance(err, ConnectionSilent)
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
        timeout = self._timeout(self.read_timeout)
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
            raise describe_connection_error(
                err, base_url, timeout=timeout, secret=self.api_key, retries=self.max_retries
            ) from err
        except httpx2.HTTPError as err:  # the body of a download broke off
            raise ModelError(
                f"connection to {base_url} failed during a {api} call: {type(err).__name__}: "
                f"{redact_credentials(str(err), self.api_key)}",
                cause=err,
                hint="the connection dropped; try again",
            ) from err

    def _silence_of(self, sdk: anthropic.AsyncAnthropic, err: Exception) -> ConnectionSilent | None:
        """The failure as a silence (no byte for ``silence_timeout``), or ``None``: a
        stream's silence comes as one, an unanswered request as the SDK's read timeout."""
        if isinstance(err, ConnectionSilent):
            return err
        if isinstance(err, anthropic.APITimeoutError) and not isinstance(
            err.__cause__, httpx2.ConnectTimeout
        ):
            return describe_silence(
                self._base_url(sdk), self.silence_timeout, started=False, cause=err
            )
        return None

    def _silence_wait(self, silence: ConnectionSilent, retry: int, *, again: bool) -> RetryWait:
        """The wait before trying a silent request once more, or ``silence`` itself when
        that is not done: a second silence, part of the answer already passed on
        (``again``), or no retries left."""
        if again or retry >= self.max_retries:
            raise silence
        reason = f"silent for {self.silence_timeout:g} s (silence_timeout), connection dropped"
        return RetryWait(retry + 1, self.max_retries, self._backoff(retry), reason)

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
        and so is reading ``retry-after-ms`` and ``retry-after``; but a hosted container
        the API refused is not tried again (``ContainerExpired``: the caller decides).
        """
        base_url = self._base_url(sdk)
        if isinstance(err, anthropic.APIConnectionError):
            timeout = self._timeout(self.silence_timeout)
            if retry >= self.max_retries:
                raise describe_connection_error(
                    err, base_url, timeout=timeout, secret=self.api_key, retries=retry
                ) from err
            failure = describe_connection_failure(err, timeout=timeout, secret=self.api_key)
            reason = f"connection {failure}"
            return RetryWait(retry + 1, self.max_retries, self._backoff(retry), reason)
        failure = describe_status_error(
            err,
            model=request.model,
            base_url=base_url,
            max_retries=retry,
            secret=self.api_key,
            container=_container_id(request),
        )
        if isinstance(failure, ContainerExpired) or not sdk._should_retry(err.response):
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
                    f"Anthropic credentials could not be loaded: {redact_credentials(str(err), self.api_key)}",
                    cause=err,
                    hint="fix the profile (ANTHROPIC_PROFILE, ANTHROPIC_CONFIG_DIR) or set ANTHROPIC_API_KEY",
                ) from err
            self._sdk_loop = loop
        return self._sdk

    def _base_url(self, sdk: anthropic.AsyncAnthropic) -> str:
        return str(sdk.base_url).rstrip("/")

    def _timeout(self, read: float) -> httpx2.Timeout:
        """A request's timeouts: ``connect_timeout``, and ``read`` for each wait for bytes."""
        return httpx2.Timeout(read, connect=self.connect_timeout)


def _container_id(request: ModelRequest) -> str | None:
    """The hosted container the request names, if any (a new one has no id yet)."""
    container = request.container
    if isinstance(container, str) or container is None:
        return container
    return container.get("id")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
