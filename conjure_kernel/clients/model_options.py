"""How the model is asked to think: ``%model NAME effort=… thinking=…``.

Today's models think between tool calls, and how hard is set by ``output_config.effort``
rather than a token budget. The kernel asks for *summarised* thinking
(``display: "summarized"``) so the trace can show it: under the ``omitted`` default of
some models the blocks arrive empty and the trace would go quiet between calls.

Each option is checked against what the model supports (model_facts.py, or the Models
API's list) when it is set, so a model that refuses it is one clear line at ``%model``,
never a 400 in the middle of a turn: a model that always thinks refuses
``thinking=off``, one without effort refuses ``effort=``. What is unknown is sent as
asked, and the API has the last word.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from ..errors import ConjureError

if TYPE_CHECKING:
    from .model_facts import Supports

__all__ = ["EFFORTS", "THINKING_MODES", "ModelOptions"]

Effort = Literal["low", "medium", "high", "xhigh", "max"]
ThinkingMode = Literal["auto", "on", "off"]
EFFORTS: tuple[str, ...] = get_args(Effort)
THINKING_MODES: tuple[str, ...] = get_args(ThinkingMode)


@dataclass(frozen=True)
class ModelOptions:
    """The effort and thinking a session's requests ask for.

    ``thinking``: ``auto`` asks for summarised adaptive thinking where the model is known
    to think, and says nothing elsewhere; ``on`` asks for it whatever the model; ``off``
    turns it off. ``effort``: None leaves the model's default.
    """

    effort: Effort | None = None
    thinking: ThinkingMode = "auto"

    def updated(self, words: Iterable[str]) -> ModelOptions:
        """These options with ``effort=…`` / ``thinking=…`` words applied; a ``ConjureError``
        names a word that is neither, or a value the option does not take."""
        options = self
        for word in words:
            name, _, value = word.partition("=")
            if name == "effort" and value in EFFORTS:
                options = replace(options, effort=cast(Effort, value))
            elif name == "effort" and value in ("", "default"):
                options = replace(options, effort=None)
            elif name == "thinking" and value in THINKING_MODES:
                options = replace(options, thinking=cast(ThinkingMode, value))
            elif name in ("effort", "thinking"):
                allowed = (*EFFORTS, "default") if name == "effort" else THINKING_MODES
                raise ConjureError(
                    f"{name}={value!r} is not a choice; {name} takes {', '.join(allowed)}"
                )
            else:
                raise ConjureError(
                    f"unknown model option {word!r}",
                    hint="%model NAME [effort=low|medium|high|xhigh|max] [thinking=on|off|auto]",
                )
        return options

    def refusal(self, model: str, supports: Supports) -> str:
        """Why ``model`` would refuse these options, in one line; ``""`` when it would not."""
        if self.thinking == "off" and supports.thinking_off is False:
            return (
                f"{model} always thinks, so thinking=off is refused: use thinking=auto, "
                "and a lower effort to make it think less"
            )
        if self.thinking == "on" and supports.thinking is False:
            return f"{model} does not think, so thinking=on is refused"
        if self.effort is not None and not self._effort_taken(supports):
            levels = ", ".join(supports.efforts or ())
            taken = f"only effort {levels}" if levels else "no effort setting"
            return f"{model} takes {taken}, so effort={self.effort} is refused"
        return ""

    def request_fields(self, supports: Supports) -> dict[str, Any]:
        """The Messages API parameters these options add for a model with ``supports``."""
        fields: dict[str, Any] = {}
        always = supports.thinking_off is False  # it thinks whatever it is told: show it
        if self.thinking == "off" and not always:
            fields["thinking"] = {"type": "disabled"}
        elif supports.adaptive is not False and (
            self.thinking == "on" or supports.thinking or always
        ):
            fields["thinking"] = {"type": "adaptive", "display": "summarized"}
        if self.effort is not None and self._effort_taken(supports):
            fields["output_config"] = {"effort": self.effort}
        return fields

    def _effort_taken(self, supports: Supports) -> bool:
        """Whether the effort set is one the model takes, as far as is known."""
        if supports.effort is False:
            return False
        return supports.efforts is None or self.effort in supports.efforts

    def describe(self) -> str:
        """``effort=high thinking=on``: the options set, as ``%model`` takes them; ``""``
        while both are the defaults."""
        words = [f"effort={self.effort}"] if self.effort else []
        return " ".join(words + ([f"thinking={self.thinking}"] if self.thinking != "auto" else []))
