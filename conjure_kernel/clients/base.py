"""The model-client seam (the seed's ``api_callback``).

A client takes one ``ModelRequest`` and streams typed items while the model writes
(text, thinking, finished client ``tool_use`` blocks, server-side tool calls and their
result blocks, and a ``RetryWait`` whenever it waits to try the request again), then
exactly one ``ModelResponse`` with the finished assistant message,
its stop reason and its ``container``. The real client talks to the Messages API; the
recorded model (``clients.recorded_model``) streams a ``Replay``'s recording. A client
only streams model steps: replay bookkeeping and the account's Skills and Files APIs
are values of their own. Nothing here imports the SDK at run time, so
the layers above can name these types without paying for ``import anthropic``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from anthropic.types import MessageParam
    from anthropic.types.beta import BetaTokenTaskBudgetParam

__all__ = [
    "CREDENTIAL_ENV_VARS",
    "DEFAULT_MODEL",
    "ContextEdited",
    "ModelClient",
    "ModelRequest",
    "ModelResponse",
    "RetryWait",
    "ServerToolResult",
    "ServerToolUse",
    "StreamItem",
    "TextChunk",
    "ThinkingChunk",
    "ToolUseRequested",
    "Usage",
]

DEFAULT_MODEL = "claude-sonnet-5-5"
"""The newest Sonnet in the installed SDK's ``Model`` literal."""
CREDENTIAL_ENV_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
"""Where the SDK finds the kernel's credentials: never saved, never shown to a tool."""


@dataclass(frozen=True)
class Usage:
    """Token counts of one response, or the sum over a turn."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    @property
    def all_input(self) -> int:
        """Input as the API bills it: uncached, written to the cache and read from it."""
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            self.cache_read_input_tokens + other.cache_read_input_tokens,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Usage:
        data = data or {}
        return cls(**{name: int(data.get(name) or 0) for name in cls.__dataclass_fields__})

    def to_json(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class ModelRequest:
    """Everything one Messages API call needs; the loop builds a new one per step."""

    model: str
    system: str
    messages: Sequence[MessageParam]
    tools: Sequence[Mapping[str, Any]] = ()
    """Client tool definitions and server tool types (``{"type": "code_execution_…", …}``)."""
    max_tokens: int = 16000
    container: str | Mapping[str, Any] | None = None
    """A hosted container to reuse (its id), or ``{"id"?, "skills": […]}``."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Further Messages API parameters, sent as they are (``thinking``, ``metadata``…)."""
    task_budget: BetaTokenTaskBudgetParam | None = None
    """The tokens the model may still spend (``{"type": "tokens", "total": N, "remaining": M}``),
    told to a model that takes a task budget; a client or model without them leaves it out."""
    betas: tuple[str, ...] = ()
    """Beta features the request uses (``context-management-2025-06-27``…), sent in the
    ``anthropic-beta`` header."""


@dataclass(frozen=True)
class TextChunk:
    """A piece of the answer's text, as it streams."""

    text: str


@dataclass(frozen=True)
class ThinkingChunk:
    """A piece of the model's extended thinking, as it streams."""

    text: str


@dataclass(frozen=True)
class ToolUseRequested:
    """A finished client ``tool_use`` block: the caller runs it once the step ends."""

    id: str
    name: str
    input: Mapping[str, Any]


@dataclass(frozen=True)
class ServerToolUse:
    """A finished ``server_tool_use`` block: a tool the API runs itself (code execution)."""

    id: str
    name: str
    input: Mapping[str, Any]


@dataclass(frozen=True)
class ServerToolResult:
    """A server tool's result block, as the API sent it (``bash_code_execution_tool_result``…).

    Kept whole: its ``content`` has many shapes, and the one reading it must be able
    to show an unknown shape raw rather than drop it.
    """

    block: Mapping[str, Any]

    @property
    def tool_use_id(self) -> str:
        return str(self.block.get("tool_use_id", ""))

    @property
    def block_type(self) -> str:
        return str(self.block.get("type", ""))


@dataclass(frozen=True)
class RetryWait:
    """The client waits before trying the request again; nothing of the answer has streamed.

    An item of its own so the person sees why the turn is quiet, instead of a
    silent wait that looks like a hang.
    """

    retry: int
    """Which retry comes next, from 1."""
    of: int
    """How many retries the client makes at most."""
    seconds: float
    reason: str
    """What failed: ``529 overloaded_error``, ``silent for 45 s (silence_timeout), connection
    dropped``…"""

    def describe(self) -> str:
        """A one-line notice, e.g. "waiting for the API: 529 overloaded_error, retry 2 of 2 in 1.3 s"."""
        seconds = f"{self.seconds:.2g}" if self.seconds < 10 else f"{self.seconds:.0f}"
        return f"waiting for the API: {self.reason}, retry {self.retry} of {self.of} in {seconds} s"


@dataclass(frozen=True)
class ContextEdited:
    """What was done to fit the conversation in the model's window, by the API or the
    kernel: a notice of its own, so the person sees why earlier results went missing."""

    text: str
    """``cleared 31 earlier tool results, ~112k tokens``."""

    def describe(self) -> str:
        return self.text


@dataclass(frozen=True)
class ModelResponse:
    """The finished assistant message of one step."""

    message: dict[str, Any]
    """The assistant ``MessageParam`` (role and content blocks), ready to append to the messages."""
    stop_reason: str
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    id: str = ""
    container: Mapping[str, Any] | None = None
    """The hosted container the step ran in (``id``, ``expires_at``), if any."""
    applied_edits: tuple[Mapping[str, Any], ...] = ()
    """The context edits the API applied to this step's prompt (``clear_tool_uses_20250919``
    with ``cleared_tool_uses``, ``cleared_input_tokens``…), as it reported them."""

    def tool_uses(self) -> list[dict[str, Any]]:
        return [block for block in self.message["content"] if block.get("type") == "tool_use"]

    def text(self) -> str:
        return "".join(
            b.get("text", "") for b in self.message["content"] if b.get("type") == "text"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "stop_reason": self.stop_reason,
            "usage": self.usage.to_json(),
            "message": self.message,
            **({"container": dict(self.container)} if self.container else {}),
            **(
                {"applied_edits": [dict(e) for e in self.applied_edits]}
                if self.applied_edits
                else {}
            ),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelResponse:
        """Read a saved response; ``ValueError`` when its message could not be sent back."""
        message = data["message"]
        if not (
            isinstance(message, dict)
            and message.get("role") == "assistant"
            and isinstance(message.get("content"), list)
            and all(isinstance(block, dict) and "type" in block for block in message["content"])
        ):
            raise ValueError(
                "a model step's message is not an assistant message with content blocks"
            )
        for block in message["content"]:
            calls_a_tool = block["type"] in ("tool_use", "server_tool_use", "mcp_tool_use")
            if calls_a_tool and not (isinstance(block.get("id"), str) and block.get("name")):
                raise ValueError(f"a {block['type']} block of a model step has no id or name")
        return cls(
            message=data["message"],
            stop_reason=data["stop_reason"],
            usage=Usage.from_json(data.get("usage")),
            model=data.get("model", ""),
            id=data.get("id", ""),
            container=data.get("container"),
            applied_edits=tuple(dict(edit) for edit in data.get("applied_edits") or ()),
        )


@runtime_checkable
class ModelClient(Protocol):
    """Sends a request and streams the answer."""

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]:
        """Yield stream items, then one ``ModelResponse``; raise ``ModelError`` on failure."""
        ...


StreamItem = (
    TextChunk
    | ThinkingChunk
    | ToolUseRequested
    | ServerToolUse
    | ServerToolResult
    | RetryWait
    | ContextEdited
    | ModelResponse
)
"""What a client's stream yields; the last item is always the ``ModelResponse``."""
