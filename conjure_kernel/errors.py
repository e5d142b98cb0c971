"""Every exception conjure-kernel raises on purpose.

::

    ConjureError
     ├─ SkillError                      a skill could not be found, read or unpacked
     │   └─ SkillValidationError        a SKILL.md breaks a rule of the spec (path, field, problem)
     ├─ BackendError                    a backend cannot serve the session
     │   ├─ BackendUnavailable          its infrastructure is missing or down
     │   ├─ UnknownBackend              no backend is registered under that name
     │   ├─ BackendSettingError         a backend setting is unknown or has a bad value
     │   ├─ McpServerError              an MCP server is misdefined, will not start or broke
     │   └─ ToolExecutionError          a tool failed in a way the model cannot be told about
     ├─ ModelError                      the Messages API failed (wraps the SDK's exception)
     │   ├─ MissingApiKey               no credential is configured
     │   └─ IncompleteResponse          the stream ended without a stop reason
     ├─ TurnLimitReached                the tool loop hit max_iterations
     ├─ BudgetExceeded                  a spending limit stopped the turn before a model call
     ├─ TurnInterrupted                 the user interrupted the turn
     └─ RecordingError                  a recorded notebook cannot be read or replayed
         ├─ RecordingMismatch           the recording has no turn for this message
         └─ ReplayedFailure             a replayed turn ends where its recording ended early

Each error says what failed, where, and what to do. ``_render_traceback_`` is the
hook IPython calls to show an exception: a short two-line message instead of a
Python stack, so Run All and nbclient stop on the cell with something readable.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "BackendError",
    "BackendSettingError",
    "BackendUnavailable",
    "BudgetExceeded",
    "ConjureError",
    "IncompleteResponse",
    "McpServerError",
    "MissingApiKey",
    "ModelError",
    "PromptTooLong",
    "RecordingError",
    "RecordingMismatch",
    "ReplayedFailure",
    "SkillError",
    "SkillValidationError",
    "ToolExecutionError",
    "TurnInterrupted",
    "TurnLimitReached",
    "UnknownBackend",
]


class ConjureError(Exception):
    """Base class; ``hint`` tells the user what to do next."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    def _render_traceback_(self) -> list[str]:
        lines = [f"{type(self).__name__}: {self}"]
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return lines


class SkillError(ConjureError):
    """A skill could not be found, read or unpacked."""


class SkillValidationError(SkillError):
    """A SKILL.md breaks a rule of the Agent Skills specification."""

    def __init__(self, path: Path | str, field: str, problem: str) -> None:
        self.path = Path(path)
        self.field = field
        self.problem = problem
        super().__init__(f"{self.path}: {field}: {problem}")


class BackendError(ConjureError):
    """A backend cannot serve the session."""


class BackendUnavailable(BackendError):
    """The backend's infrastructure (an engine, a service) is missing or down."""


class UnknownBackend(BackendError):
    """No backend is registered under the requested name."""

    def __init__(self, name: str, available: list[str]) -> None:
        self.name = name
        self.available = available
        super().__init__(
            f"unknown backend {name!r}; available backends: {', '.join(available)}",
            hint="third-party backends register in the entry-point group conjure_kernel.backends",
        )


class BackendSettingError(BackendError):
    """A ``key=value`` backend setting is unknown, or its value has the wrong type."""


class McpServerError(BackendError):
    """An MCP server is misdefined, would not start, or broke its connection."""


class ToolExecutionError(BackendError):
    """A tool failed in a way that cannot be reported back to the model."""


class ModelError(ConjureError):
    """The Messages API failed; ``cause`` keeps the SDK's exception when there is one."""

    def __init__(
        self, message: str, *, cause: BaseException | None = None, hint: str | None = None
    ):
        super().__init__(message, hint=hint)
        self.cause = cause


class MissingApiKey(ModelError):
    """No Anthropic credential is configured."""

    hint = (
        "set ANTHROPIC_API_KEY in the environment that starts Jupyter "
        "(export ANTHROPIC_API_KEY=sk-ant-...), or replay a recorded notebook"
    )


class PromptTooLong(ModelError):
    """The API refused a request whose prompt outgrew the model's window.

    Its own class so that the session can make room and send it once more; ``tokens``
    and ``maximum`` (what the API counted and allows, when it says) correct the
    session's estimate and window.
    """

    def __init__(
        self,
        message: str,
        *,
        tokens: int | None,
        maximum: int | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(
            message,
            cause=cause,
            hint="the conversation no longer fits the model's window: %compact makes room, "
            "%reset starts afresh",
        )
        self.tokens = tokens
        self.maximum = maximum


class IncompleteResponse(ModelError):
    """The stream ended before the model gave a stop reason; the answer is not complete."""


class TurnLimitReached(ConjureError):
    """The tool-use loop reached ``max_iterations`` without the model ending its turn."""


class BudgetExceeded(ConjureError):
    """A limit on what a cell or the notebook may spend was reached, or what is left could
    not cover the next model call's worst case, so that call was not made; the messages
    stay valid.

    ``scope`` is ``"cell"`` or ``"notebook"``, ``limit`` the limit as written (``$1.00``,
    ``200,000 tokens``) and ``raise_to`` a higher one to suggest, in the same unit
    (``$2``, ``400k``), so the notebook layer can word the hint as its magic.
    """

    def __init__(self, message: str, *, scope: str, limit: str, raise_to: str) -> None:
        self.scope = scope
        self.limit = limit
        self.raise_to = raise_to
        super().__init__(
            message, hint=f"raise the {scope} limit (to {raise_to}, for example) or remove it"
        )


class TurnInterrupted(ConjureError):
    """The user interrupted the turn; the messages were repaired and stays valid."""


class RecordingError(ConjureError):
    """A recorded notebook cannot be read or replayed."""


class RecordingMismatch(RecordingError):
    """The recording has no turn for the message being sent."""


class ReplayedFailure(RecordingError):
    """The recorded turn was interrupted or failed, and its replay ends at the same point."""
