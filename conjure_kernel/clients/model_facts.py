"""What the package knows of Claude models without asking the API: the built-in catalog.

Split from models.py: these are facts copied from documents, each with its source, kept
apart from fetching and caching the API's own list. The Models API (``GET /v1/models``)
says all of it live (``max_input_tokens``, ``capabilities``, ``lifecycle``); this table
serves a kernel without a key or a network, and names a replacement for a model the
API has retired, which the API does not. Where no source gives a fact it is ``None``
(shown as unknown), never a guess.

Sources, as they are named in the comments below:

- [SDK]: the installed ``anthropic`` SDK: the ``Model`` literal (``types/model.py``),
  its deprecations (``_data/deprecated_models.py``) and the models it warns about when
  thinking is ``enabled`` (``_data/models_to_warn_with_thinking_enabled.py``);
- [models.md]: the July 2026 model catalog (``shared/models.md`` of Anthropic's
  claude-api skill), tables and descriptions;
- [README]: that skill's ``python/README.md`` (thinking, compaction);
- [whats-new]: the lineup table of platform.claude.com's "what's new in Opus 5" page,
  quoted in the reference notes on the SDK (section 14);
- [api-2026-12]: the December 2026 notes on the Messages API.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

import anthropic

from .pricing import base_model

__all__ = [
    "BUILT_IN_FACTS",
    "RETIRED",
    "ModelFacts",
    "Retirement",
    "Supports",
    "built_in_ids",
    "deprecations",
    "display_name_of",
    "facts_of",
    "retirement_of",
]


@dataclass(frozen=True)
class Supports:
    """What a model takes beyond plain messages; ``None`` where it is not known."""

    thinking: bool | None = None
    """Any ``thinking`` configuration (adaptive or enabled)."""
    effort: bool | None = None
    """``output_config.effort``."""
    context_editing: bool | None = None
    """``context_management`` edits: clearing tool uses or thinking, compaction."""
    thinking_off: bool | None = None
    """``thinking: {"type": "disabled"}``: False for a model that always thinks."""
    adaptive: bool | None = None
    """``thinking: {"type": "adaptive"}``; a model may take only a token budget."""
    efforts: tuple[str, ...] | None = None
    """The effort levels it takes (``low`` … ``max``); None: not known which."""
    edits: tuple[str, ...] | None = None
    """The context edits it takes (``clear_tool_uses_20250919``…); None: not known which."""

    def __post_init__(self) -> None:  # read back from JSON, the lists are tuples again
        for name in ("efforts", "edits"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))

    def describe(self) -> str:
        """``thinking, effort?`` : what it supports, unknown ones marked ``?``; ``-`` for none."""
        named = (
            ("thinking", self.thinking),
            ("effort", self.effort),
            ("context editing", self.context_editing),
        )
        words = [
            name + ("?" if known is None else "") for name, known in named if known is not False
        ]
        return ", ".join(words) or "-"


@dataclass(frozen=True)
class ModelFacts:
    """A model's context window (tokens; ``None``: unknown) and what it supports."""

    context_window: int | None
    supports: Supports


@dataclass(frozen=True)
class Retirement:
    """A model the API no longer serves, when that happened, and what to use instead."""

    date: str | None
    """``2026-11-30``; ``None`` where no source gives the day."""
    replacement: str | None

    def describe(self, model: str) -> str:
        """``claude-sonnet-4-5 was retired on 2026-11-30; use claude-sonnet-5-5 instead``."""
        when = f" on {self.date}" if self.date else ""
        advice = f"use {self.replacement} instead" if self.replacement else "choose a current model"
        return f"{model} was retired{when}; {advice}"


_MILLION = 1_000_000
_UNKNOWN = ModelFacts(None, Supports())
# [whats-new]: Fable 5.1, Opus 5.5, Sonnet 5.5 and Haiku 5.5 have a 1M context, adaptive
# thinking and a default effort (so they take one); context editing is not listed there.
_GENERATION_5_5 = ModelFacts(_MILLION, Supports(thinking=True, effort=True))
# [api-2026-12]: Opus 5.5 cannot have thinking disabled (effort replaces it).
_OPUS_5_5 = ModelFacts(_MILLION, Supports(thinking=True, effort=True, thinking_off=False))
# [models.md]: Fable 5, Opus 4.8 and 4.7 have a 1M context and adaptive thinking (always on
# for Fable); Opus 4.8 "same API surface as Opus 4.7", Fable 5 "same as Opus 4.7/4.8", and
# the Models API example for Opus 4.8 shows effort supported. [README]: compaction (context
# management) on Fable 5, Opus 4.8 and 4.7. Mythos 5 is Fable 5 under another id [models.md].
_FABLE_5 = ModelFacts(_MILLION, Supports(thinking=True, effort=True, context_editing=True))
# [models.md]: Opus 4.6 and Sonnet 4.6: 1M, adaptive thinking. [README]: compaction on both.
# Effort is not stated for them.
_GENERATION_4_6 = ModelFacts(_MILLION, Supports(thinking=True, context_editing=True))
# [models.md]: Sonnet 5: 1M, adaptive thinking on by default, effort low to max.
_SONNET_5 = ModelFacts(_MILLION, Supports(thinking=True, effort=True))
# [models.md]: Haiku 4.5: 200K context; nothing said of thinking, effort or editing.
_HAIKU_4_5 = ModelFacts(200_000, Supports())
# [SDK]: warns when thinking is `enabled` on Mythos Preview (adaptive is preferred), so it
# takes thinking; its context window is in no source.
_MYTHOS_PREVIEW = ModelFacts(None, Supports(thinking=True))

BUILT_IN_FACTS: dict[str, ModelFacts] = {
    "claude-fable-5-1": _GENERATION_5_5,
    "claude-opus-5-5": _OPUS_5_5,
    "claude-sonnet-5-5": _GENERATION_5_5,
    "claude-haiku-5-5": _GENERATION_5_5,
    "claude-fable-5": _FABLE_5,
    "claude-mythos-5": _FABLE_5,
    "claude-opus-4-8": _FABLE_5,
    "claude-opus-4-7": _FABLE_5,
    "claude-opus-4-6": _GENERATION_4_6,
    "claude-sonnet-4-6": _GENERATION_4_6,
    "claude-sonnet-5": _SONNET_5,
    "claude-haiku-4-5": _HAIKU_4_5,
    "claude-mythos-preview": _MYTHOS_PREVIEW,
}
"""Facts keyed by model id without a date suffix. Fable 5.2 and Mythos 5.2 (specs from a
third party only), Mythos 5.1, Opus 5 and Opus 4.5 are in no source's table: unknown."""

RETIRED: dict[str, Retirement] = {
    # [api-2026-12] and [SDK] (gone from the Model literal in 2.16): end of life 2026-11-30.
    "claude-sonnet-4-5": Retirement("2026-11-30", "claude-sonnet-5-5"),
    # [models.md], "Retired Models". Replacements: the newest model of the same line in
    # the [SDK] Model literal (Claude 2 had no lines: the balanced one).
    "claude-3-7-sonnet": Retirement("2026-02-19", "claude-sonnet-5-5"),
    "claude-3-5-haiku": Retirement("2026-02-19", "claude-haiku-5-5"),
    "claude-3-opus": Retirement("2026-01-05", "claude-opus-5-5"),
    "claude-3-5-sonnet": Retirement("2025-10-28", "claude-sonnet-5-5"),
    "claude-3-sonnet": Retirement("2025-07-21", "claude-sonnet-5-5"),
    "claude-2.1": Retirement("2025-07-21", "claude-sonnet-5-5"),
    "claude-2.0": Retirement("2025-07-21", "claude-sonnet-5-5"),
}
"""Models retired for good, keyed by id without a date suffix. A model only scheduled to
retire is not here: the API keeps serving it until the day, and may move the day."""


def facts_of(model: str) -> ModelFacts:
    """The built-in facts of ``model`` (dated ids and ``[1m]`` variants included)."""
    return BUILT_IN_FACTS.get(base_model(model), _UNKNOWN)


def retirement_of(model: str) -> Retirement | None:
    """The built-in record of ``model``'s retirement; ``None`` if it is not known retired."""
    return RETIRED.get(base_model(model))


def built_in_ids() -> tuple[str, ...]:
    """The model ids the installed SDK knows, newest first as it lists them, without
    dated ids whose undated alias is listed too, and without retired ones.

    Read from the SDK's ``Model`` literal rather than copied here, so a newer SDK brings
    its new models without a change to this package."""
    ids = [
        name
        for member in typing.get_args(anthropic.types.Model)
        for name in typing.get_args(member)
        if isinstance(name, str)
    ]
    undated = set(ids)
    return tuple(
        name
        for name in ids
        if retirement_of(name) is None
        and (name == base_model(name) or base_model(name) not in undated)
    )


def deprecations() -> dict[str, str]:
    """[SDK] deprecated model ids and the end of life it names (``January 22nd, 2027``).

    Kept in a private module of the SDK: an SDK without it has no deprecations to tell."""
    try:
        from anthropic._data import DEPRECATED_MODELS
    except ImportError:
        return {}
    return dict(DEPRECATED_MODELS)


def display_name_of(model: str) -> str:
    """``claude-sonnet-5-5`` → ``Claude Sonnet 5.5``: the name for a model the API did not
    name, laid out as the API names its models."""
    words, numbers = [], []
    for part in base_model(model).split("-"):
        (numbers if part.replace(".", "").isdigit() else words).append(part)
    title = " ".join(word.capitalize() for word in words)
    return f"{title} {'.'.join(numbers)}".strip()
