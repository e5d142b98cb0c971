"""What a failed Anthropic API call says: a ``ModelError`` with a short message and a hint.

Split from anthropic_client.py: the wording of failures (a status the API answered, a
connection that failed or timed out, an expired hosted container) is its own concern,
shared by the Messages API stream and the Skills and Files API calls. The SDK's or
httpx2's exception stays in ``cause``, and no configured credential is ever echoed.
"""

from __future__ import annotations

import os

import anthropic
import httpx2

from ..errors import ModelError
from .base import CREDENTIAL_ENV_VARS

__all__ = [
    "MESSAGES_API",
    "ContainerExpired",
    "describe_connection_error",
    "describe_connection_failure",
    "describe_status_error",
    "redact_credentials",
]

MESSAGES_API = "Messages API"

_RETRIED_STATUSES = frozenset({408, 409, 429})


class ContainerExpired(ModelError):
    """A request named a hosted container that has expired; its files and state are gone.

    Its own class so that the hosted backend can start a new container and go on,
    where any other rejected request ends the turn.
    """


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


def _timeout_setting(err: anthropic.APITimeoutError, timeout: httpx2.Timeout) -> tuple[str, float]:
    """The setting whose time ran out before the reply started, and its value."""
    if isinstance(err.__cause__, httpx2.ConnectTimeout):
        return "connect_timeout", timeout.connect
    return "read_timeout", timeout.read


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
    err: Exception,
    base_url: str,
    *,
    timeout: httpx2.Timeout,
    secret: str | None,
    retries: int = 0,
) -> ModelError:
    """A ``ModelError`` for a connection that failed before or while the answer streamed.

    ``timeout`` holds the client's ``connect_timeout`` and ``read_timeout``, which the
    message names when one ran out.
    """
    if isinstance(err, anthropic.APIConnectionError):
        hint = f"check the network and ANTHROPIC_BASE_URL; already retried {retries} times"
        if isinstance(err, anthropic.APITimeoutError):
            hint += f"; raise {_timeout_setting(err, timeout)[0]} if the API is only slow"
        failure = describe_connection_failure(err, timeout=timeout, secret=secret)
        return ModelError(f"connection to {base_url} {failure}", cause=err, hint=hint)
    if isinstance(err, httpx2.ReadTimeout):
        return ModelError(
            f"the Messages API at {base_url} sent nothing for {timeout.read:g} s while "
            "the answer streamed (read_timeout)",
            cause=err,
            hint=(
                "the answer was dropped; send the message again, or raise read_timeout "
                "(the seconds of silence allowed between stream events) if the API is only slow"
            ),
        )
    return ModelError(
        f"connection to {base_url} failed while the answer streamed: {type(err).__name__}: {redact_credentials(str(err), secret)}",
        cause=err,
        hint="the connection dropped mid-answer, and streams are not retried; send the message again",
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
