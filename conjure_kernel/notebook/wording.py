"""Words for the notebook: backend help, and error hints phrased as the magic that helps.

The layers below say what to change in neutral words ("raise max_iterations"), since
a plain script has no magics; here those hints become the magic or ``%config`` line a
person in a notebook would type.
"""

from __future__ import annotations

import inspect

from ..backends.base import Backend
from ..backends.settings import describe_settings
from ..errors import (
    BackendError,
    BudgetExceeded,
    ConjureError,
    MissingApiKey,
    RecordingMismatch,
    TurnLimitReached,
)

__all__ = ["backend_help", "worded_for_notebook"]


def backend_help(backend: Backend) -> str:
    """What ``%backend NAME --help`` prints: the backend's purpose and its settings."""
    name = backend.backend_type
    purpose = (inspect.getdoc(type(backend)) or "").split("\n", 1)[0].replace("``", "")
    lines = [f"{name}: {purpose}".rstrip(": ")]
    declared = backend.settings_class.declared()
    if declared:
        lines.append(f"settings (%backend {name} key=value ...):")
        lines += describe_settings(declared)
    else:
        lines.append(f"{name} takes no settings")
    lines += getattr(backend, "help_forms", ())  # forms beyond key=value (hybrid's routes)
    return "\n".join(lines)


def worded_for_notebook(error: BaseException) -> BaseException:
    """``error`` with its hint worded as the magic that acts on it (the same object)."""
    if not isinstance(error, ConjureError):
        return error
    if isinstance(error, TurnLimitReached):
        error.hint = (
            "raise the limit with %config ConjureMagics.max_iterations = 50, "
            "or ask for a smaller step"
        )
    elif isinstance(error, MissingApiKey):
        error.hint = (
            "set ANTHROPIC_API_KEY in the environment that starts Jupyter "
            "(export ANTHROPIC_API_KEY=sk-ant-...), or replay a recorded notebook with %replay"
        )
    elif isinstance(error, BudgetExceeded):
        error.hint = (
            f"raise the limit with %budget {error.scope}={error.raise_to}, "
            f"or lift it with %budget {error.scope}=none"
        )
    elif isinstance(error, RecordingMismatch):
        error.hint = error.hint.replace("turn replay off", "run %replay off")
    elif isinstance(error, BackendError):
        error.hint = error.hint.replace(
            "switch to tools on this machine with the local backend", "use %backend local"
        ).replace("with image=NAME", "with %backend docker image=NAME")
    return error
