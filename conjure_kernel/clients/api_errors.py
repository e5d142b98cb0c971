"""What a failed Anthropic API call says: a ``ModelError`` with a short message and a hint.

Split from anthropic_client.py: the wording of failures (a status the API answered, a
connection that failed, timed out or went silent, a hosted container the API will not run
any more) is its own concern, shared by the Messages API stream and the Skills and Files
API calls. The SDK's or httpx2's exception stays in ``cause``, and no configured
credential is ever echoed.
"""

from __future__ import annotations

import os
import re

import anthropic
import httpx2

from ..errors import ModelError, PromptTooLong
from .base import CREDENTIAL_ENV_VARS
from .models import known_retirement

__all__ = [
    "MESSAGES_API",
    "ConnectionSilent",
    "ContainerExpired",
    "describe_broken_stream",
    "describe_connection_error",
    "describe_connection_failure",
    "describe_silence",
    "describe_status_error",
    "redact_credentials",
]

MESSAGES_API = "Messages API"

_RETRIED_STATUSES = frozenset({408, 409, 429})


_KEPT = (
    "the unfinished answer was not kept: the conversation holds every finished step and stays valid"
)


class ContainerExpired(ModelError):
    """A request named a hosted container the API will not run any more; its files and
    state are gone.

    Its own class so that the hosted backend can start a new container and go on,
    where any other rejected request ends the turn. ``why`` says how the API refused it,
    for the notice that the container was replaced.
    """

    def __init__(
        self, message: str, *, why: str, cause: BaseException | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, cause=cause, hint=hint)
        self.why = why


_TOO_LONG = re.compile(r"prompt is too long: (\d+) tokens(?: > (\d+) maximum)?")


class ConnectionSilent(ModelError):
    """The API sent no byte at all, neither data nor a ``ping``, for ``silence_timeout``
    seconds, so the connection was dropped.

    Its own class so that the client can try once more while nothing of the answer has
    been passed on, where any other failure of a stream that started ends the request.
    """


def describe_status_error(
    err: anthropic.APIStatusError,
    *,
    model: str = "",
    base_url: str,
    max_retries: int,
    secret: str | None = None,
    api: str = MESSAGES_API,
    container: str | None = None,
) -> ModelError:
    """A ``ModelError`` naming the API, the status, the error type and the API's own message.

    ``max_retries`` is how many retries were made before this error. A Messages API
    request refused for its container is a ``ContainerExpired`` (see ``_refused_container``;
    ``container`` is the id the request named, if any).
    """
    kind = err.type or "unknown_error"
    detail = redact_credentials(err.api_message or str(err.body or err.message), secret)
    request_id = f" (request id {err.request_id})" if err.request_id else ""
    status = err.status_code
    if status == 200:  # an SSE `error` event after the stream started
        return ModelError(
            f"the {api} failed mid-answer with {kind}: {detail}{request_id}",
            cause=err,
            hint="the API failed while the answer streamed, and streams are not retried; send the message again shortly",
        )
    message = f"the {api} answered {status} {kind}: {detail}{request_id}"
    too_long = _TOO_LONG.search(detail) if api == MESSAGES_API and status == 400 else None
    if too_long is not None:
        count, maximum = too_long.groups()
        return PromptTooLong(
            message, tokens=int(count), maximum=int(maximum) if maximum else None, cause=err
        )
    refused = _refused_container(err, container) if api == MESSAGES_API else None
    if refused is not None:
        return ContainerExpired(
            message,
            why=refused,
            cause=err,
            hint="a new container is needed; its files and Python state are gone",
        )
    hint = _status_hint(status, detail, model, base_url, max_retries, api)
    return ModelError(message, cause=err, hint=hint)


def _refused_container(err: anthropic.APIStatusError, container: str | None) -> str | None:
    """How the API refused the request's container (for "container … is gone (…)"), or
    ``None`` when the failure is not about it.

    - ``container_expired``, by its code or its words (the SDK has no class for it);
    - a 404 that names the container: the API no longer knows it;
    - a plain 500 on a request that named a container. A container days old has been
      answered so, not with ``container_expired``; otherwise a 500 is rare (an overload is
      a 529), so the request is not tried again with the same container, which would only
      repeat the 500, but once without it. A real blip costs the container's files, which
      is what a stale container has already lost.
    """
    words = (err.api_message or "").lower()
    status = err.status_code
    if err.error_code == "container_expired" or (
        status in (400, 404) and "container" in words and "expired" in words
    ):
        return "the API says it has expired"
    if container is None:
        return None
    if status == 404 and ("container" in words or container.lower() in words):
        return "the API no longer knows it"
    if status == 500:
        return "the API failed with 500 on a request naming it, as it does for a stale container"
    return None


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
        if (retired := known_retirement(model, base_url)) is not None:
            return retired.describe(model)
        return f"check the model name {model!r} and the base URL {base_url}"
    if status in (400, 413, 422):
        return f"the API rejected the request itself ({detail}); sending it again will fail the same way"
    return ""


def _timeout_setting(err: anthropic.APITimeoutError, timeout: httpx2.Timeout) -> tuple[str, float]:
    """The setting whose time ran out before the reply started, and its value."""
    if isinstance(err.__cause__, httpx2.ConnectTimeout):
        return "connect_timeout", timeout.connect
    return "read_timeout", timeout.read


def describe_silence(
    base_url: str, seconds: float, *, started: bool, cause: BaseException
) -> ConnectionSilent:
    """A ``ConnectionSilent`` for ``seconds`` of silence (``silence_timeout``), before the
    answer ``started`` or while it streamed."""
    when = "while the answer streamed" if started else "before the answer began"
    return ConnectionSilent(
        f"the Messages API at {base_url} sent nothing, not even a ping, for {seconds:g} s "
        f"{when} (silence_timeout), so the connection was dropped",
        cause=cause,
        hint=f"{_KEPT}; send the message again, or check the network and ANTHROPIC_BASE_URL",
    )


def describe_connection_failure(
    err: anthropic.APIConnectionError, *, timeout: httpx2.Timeout, secret: str | None
) -> str:
    """``timed out after 120 s (read_timeout)`` or ``failed: ConnectError(…)``."""
    if isinstance(err, anthropic.APITimeoutError):
        name, seconds = _timeout_setting(err, timeout)
        return f"timed out after {seconds:g} s ({name})"
    detail = f"{err.__cause__!r}" if err.__cause__ is not None else str(err)
    return f"failed: {redact_credentials(detail, secret)}"


def describe_connection_error(
    err: anthropic.APIConnectionError,
    base_url: str,
    *,
    timeout: httpx2.Timeout,
    secret: str | None,
    retries: int = 0,
) -> ModelError:
    """A ``ModelError`` for a connection that failed before the reply started.

    ``timeout`` holds the client's ``connect_timeout`` and ``read_timeout``, which the
    message names when one ran out.
    """
    hint = f"check the network and ANTHROPIC_BASE_URL; already retried {retries} times"
    if isinstance(err, anthropic.APITimeoutError):
        hint += f"; raise {_timeout_setting(err, timeout)[0]} if the API is only slow"
    failure = describe_connection_failure(err, timeout=timeout, secret=secret)
    return ModelError(f"connection to {base_url} {failure}", cause=err, hint=hint)


def describe_broken_stream(err: Exception, base_url: str, *, secret: str | None) -> ModelError:
    """A ``ModelError`` for a connection that broke while the answer streamed."""
    return ModelError(
        f"connection to {base_url} failed while the answer streamed: {type(err).__name__}: {redact_credentials(str(err), secret)}",
        cause=err,
        hint=f"the connection dropped mid-answer; {_KEPT}; send the message again",
    )


def redact_credentials(text: str, *secrets: str | None) -> str:
    """``text`` without any configured credential, in case an error message echoes one."""
    candidates = (
        *secrets,
        *(os.environ.get(name) for name in CREDENTIAL_ENV_VARS),
    )
    for secret in candidates:
        if secret and len(secret) >= 8:
            text = text.replace(secret, "[redacted]")
    return text
