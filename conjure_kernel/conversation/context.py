"""Fitting a conversation of any length in the model's context window, and asking the
model to think as the person set it.

A notebook is one long conversation, kept open for days. Before each request the
``ContextKeeper`` makes room, in one of two ways:

- **by the API**, where the model supports context editing: the request carries
  ``context_management`` edits that clear old tool results past ``CLEAR_AT`` of the
  window and compact the early conversation past ``COMPACT_AT``; the API says what it
  did in each answer (``applied_edits``, a ``compaction`` block kept in the messages);
- **by the kernel**, where it does not (or it is not known to): the same two steps on
  what is sent (context_edits.py). Past ``CLEAR_AT`` the tool results of the earlier
  turns are replaced by a placeholder, and within the current turn all but the last
  ``KEEP_RESULTS``; if that is not enough, the turns before the current one are
  replaced by a digest (``DIGEST_SHARE`` of the window at most). Both are watermarks that only move forward, so
  the prompt's prefix stays the same between edits and prompt caching keeps working.

Either way the session keeps every message: ``%history``, the notebook's record and a
replay see the whole conversation, and a replay derives the same edits from the same
recorded answers. Each edit is a ``ContextEdited`` notice in the trace.

The token count is estimated from the JSON length of what is sent, scaled by the ratio
the last answer's reported input showed, so it follows the real tokenizer within a
step. The keeper also applies the ``ModelOptions`` (effort, thinking), and drops the
thinking blocks of earlier models when the model changes: they are bound to the model
that wrote them and another would refuse the request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..clients.base import ContextEdited, ModelClient, ModelRequest, ModelResponse, StreamItem
from ..clients.model_facts import ModelFacts, facts_of
from ..clients.model_options import ModelOptions
from ..errors import PromptTooLong
from .context_edits import (
    cleared_results,
    clearing_point,
    digest,
    from_last_compaction,
    json_chars,
    results_between,
    turn_starts,
    with_digest,
    without_thinking,
)

__all__ = ["CLEAR_AT", "COMPACT_AT", "ContextClient", "ContextKeeper", "tokens"]

CLEAR_AT = 0.5
"""Share of the window past which old tool results are cleared."""
COMPACT_AT = 0.7
"""Share of the window past which the API compacts the earlier turns."""
KEEP_RESULTS = 4
"""Tool results kept whole when the older ones are cleared: the ones the model is using."""
DIGEST_SHARE = 0.1
"""Share of the window the kernel's digest of the earlier turns may take."""
DEFAULT_WINDOW = 200_000
"""The window assumed for a model whose window no source gives: the smallest in use."""
CONTEXT_BETAS = ("context-management-2025-06-27", "compact-2026-01-12")
_FIRST_TOKENS_PER_CHAR = 1 / 3
"""The estimate before any answer reported its input: more tokens than English text has."""
_TOKENS_PER_CHAR = (1 / 6, 1.0)
"""The ratios a report is believed within: from long English words to one token a
character (Chinese, Japanese); outside them the report is not of this request."""


def tokens(count: float) -> str:
    """``112k``, ``1.2M``, ``640``: a token count for a notice."""
    if count >= 1_000_000:
        return f"{count / 1_000_000:.3g}M"
    return f"{count / 1000:.3g}k" if count >= 1000 else f"{count:.0f}"


@dataclass(frozen=True)
class _Sent:
    """The last request as sent, and the input it was billed for, for ``%context``."""

    request: ModelRequest
    input_tokens: int


class ContextKeeper:
    """One session's context state: the options and edits applied to each request."""

    def __init__(
        self, facts: Callable[[str], ModelFacts] = facts_of, *, window: int | None = None
    ) -> None:
        self.facts = facts
        """What is known of a model (its window, what it supports): the built-in facts, or
        the notebook's catalog of the API's list."""
        self.window_limit = window
        """A smaller window set by the person (``ConjureMagics.context_window``); None: the model's."""
        self.options = ModelOptions()
        self.reset()

    def reset(self, *, thinking_cut: int = 0) -> None:
        """Start again for a new conversation, or one rebuilt from saved turns whose
        thinking, before ``thinking_cut``, is not sent again."""
        self.cleared_before = 0
        self.compacted_through = 0
        self.thinking_cut = thinking_cut
        self.last_model: str | None = None
        self.tokens_per_char = _FIRST_TOKENS_PER_CHAR
        self.cleared = 0
        self.compactions = 0
        self.sent: _Sent | None = None
        self._digest: tuple[int, int, str] = (0, 0, "")

    def window(self, model: str) -> int:
        known = self.facts(model).context_window or DEFAULT_WINDOW
        return min(known, self.window_limit) if self.window_limit else known

    def by_api(self, model: str) -> bool:
        """Whether the API makes room for ``model`` (it supports context editing)."""
        return self.facts(model).supports.context_editing is True

    def shape(self, request: ModelRequest) -> tuple[ModelRequest, list[ContextEdited]]:
        """``request`` as it is sent: options applied, earlier models' thinking dropped,
        and room made in the window; with a notice for each edit made now."""
        notices = self._model_changed(request)
        supports = self.facts(request.model).supports
        extra = dict(request.extra)
        for name, value in self.options.request_fields(supports).items():
            extra[name] = {**extra.get(name, {}), **value} if isinstance(value, dict) else value
        request = replace(request, extra=extra)
        if self.by_api(request.model):
            request = self._with_api_edits(request)
            messages = from_last_compaction(self._edited(request.messages))
            return replace(request, messages=messages), notices
        window = self.window(request.model)
        sent = replace(request, messages=self._edited(request.messages))
        estimate = self.estimate(sent)
        if estimate > CLEAR_AT * window:
            # Every result of the earlier turns at once, so the next clearing is turns
            # away and the prefix between stays cached; within the turn, the newest stay.
            starts = turn_starts(request.messages)
            point = max(clearing_point(request.messages, KEEP_RESULTS), starts[-1] if starts else 0)
            if point > self.cleared_before:
                cleared = results_between(request.messages, self.cleared_before, point)
                self.cleared_before = point
                self._prefix_changed(request)
                sent = replace(request, messages=self._edited(request.messages))
                self.cleared += cleared
                freed = estimate - self.estimate(sent)
                notices.append(
                    ContextEdited(
                        f"cleared {cleared} earlier tool results, ~{tokens(freed)} tokens"
                    )
                )
                estimate -= freed
        if estimate > CLEAR_AT * window:  # clearing was not enough: compact
            starts = turn_starts(request.messages)
            if starts and starts[-1] > self.compacted_through:
                compacted = len(turn_starts(request.messages[: starts[-1]]))
                self.compacted_through = starts[-1]
                self.compactions += 1
                self._prefix_changed(request)
                sent = replace(request, messages=self._edited(request.messages))
                after = self.estimate(sent)
                notices.append(
                    ContextEdited(
                        f"compacted {compacted} earlier turns into a digest, "
                        f"~{tokens(estimate)} → ~{tokens(after)} tokens"
                    )
                )
        return sent, notices

    def learn(self, sent: ModelRequest, response: ModelResponse) -> list[ContextEdited]:
        """Take in an answer: the input it reports calibrates the estimate, and what the
        API says it edited becomes notices."""
        notices = [ContextEdited(_applied(edit)) for edit in response.applied_edits]
        if any(block.get("type") == "compaction" for block in response.message["content"]):
            self.compactions += 1
            notices.append(
                ContextEdited("the API compacted the earlier conversation into a summary")
            )
        billed = response.usage.all_input
        self.sent = _Sent(sent, billed)
        edited_by_api = response.applied_edits or _holds_compaction(sent.messages)
        chars = self._chars(sent)
        if billed and chars and not edited_by_api:
            self.tokens_per_char = min(
                max(billed / chars, _TOKENS_PER_CHAR[0]), _TOKENS_PER_CHAR[1]
            )
        return notices

    def counted(self, request: ModelRequest, count: int | None) -> bool:
        """Take the API's token count of a request it refused as too long; whether it
        corrects the estimate (a count the estimate fell short of)."""
        chars = self._chars(request)
        if not count or not chars or count <= self.estimate(request):
            return False
        self.tokens_per_char = min(count / chars, _TOKENS_PER_CHAR[1])
        return True

    def compact_now(self, messages: Sequence[Mapping[str, Any]]) -> str:
        """``%compact``: the turns so far go into a digest from the next request on."""
        done = len(turn_starts(messages))
        if len(messages) <= self.compacted_through or not done:
            return "nothing to compact: no turn since the last compaction"
        before = self._messages_tokens(self._edited(messages, through=0))
        self.compacted_through = len(messages)
        self.compactions += 1
        summary = self._digest_of(messages, len(messages), self._digest_chars(self.last_model))
        after = json_chars(summary) * self.tokens_per_char
        return (
            f"compacted {done} turns into a digest, ~{tokens(before)} → ~{tokens(after)} tokens; "
            "it is sent from the next turn on, and %history still lists every turn"
        )

    def estimate(self, request: ModelRequest) -> float:
        """The request's input tokens, as the last answer's ratio predicts them."""
        return self._chars(request) * self.tokens_per_char

    def describe(self, model: str) -> list[str]:
        """``%context``: how full the window is, what takes it, and what was done."""
        window = self.window(model)
        if self.by_api(model):
            how = (
                f"the API clears old tool results past {tokens(CLEAR_AT * window)} and "
                f"compacts past {tokens(COMPACT_AT * window)} (context editing)"
            )
        else:
            how = (
                f"the kernel clears old tool results past {tokens(CLEAR_AT * window)}, "
                "and compacts the earlier turns if that is not enough"
            )
        lines = [f"{model}: a window of {tokens(window)} tokens; {how}"]
        if self.sent is None:
            return [*lines, "no request was sent yet in this conversation"]
        request, billed = self.sent.request, self.sent.input_tokens
        starts = turn_starts(request.messages)
        last = starts[-1] if starts else 0
        parts = {
            "system": json_chars(request.system),
            "tools": json_chars(list(request.tools)),
            "history": sum(json_chars(m) for m in request.messages[:last]),
            "last turn": sum(json_chars(m) for m in request.messages[last:]),
        }
        share = billed / window if window else 0.0
        lines.append(
            f"last request: {tokens(billed)} input tokens, {share:.0%} of the window: "
            + " · ".join(f"{name} ~{tokens(n * self.tokens_per_char)}" for name, n in parts.items())
        )
        lines.append(f"so far: {self.cleared} tool results cleared, {self.compactions} compactions")
        return lines

    def _model_changed(self, request: ModelRequest) -> list[ContextEdited]:
        """Drop every thinking block so far when the model is not the one that wrote them."""
        previous, self.last_model = self.last_model, request.model
        if previous is None or previous == request.model:
            return []
        _, dropped = without_thinking(request.messages[self.thinking_cut :], len(request.messages))
        self.thinking_cut = len(request.messages)
        if not dropped:
            return []
        return [
            ContextEdited(
                f"dropped {dropped} thinking blocks written by {previous}: "
                f"{request.model} would refuse them"
            )
        ]

    def _prefix_changed(self, request: ModelRequest) -> None:
        """An edit changed what comes before the thinking blocks so far: they are bound
        to the transcript before them, so they are dropped (later ones bind to the
        edited transcript and go back as they come)."""
        self.thinking_cut = max(self.thinking_cut, len(request.messages))

    def _with_api_edits(self, request: ModelRequest) -> ModelRequest:
        window = self.window(request.model)
        edits = [
            {
                "type": "clear_tool_uses_20250919",
                "trigger": {"type": "input_tokens", "value": int(CLEAR_AT * window)},
                "keep": {"type": "tool_uses", "value": KEEP_RESULTS},
                "clear_at_least": {"type": "input_tokens", "value": int(0.05 * window)},
            },
            {
                "type": "compact_20260112",
                "trigger": {"type": "input_tokens", "value": int(COMPACT_AT * window)},
            },
        ]
        extra = {**request.extra, "context_management": {"edits": edits}}
        betas = tuple(dict.fromkeys([*request.betas, *CONTEXT_BETAS]))
        return replace(request, extra=extra, betas=betas)

    def _edited(
        self, messages: Sequence[Mapping[str, Any]], *, through: int | None = None
    ) -> list[Any]:
        """The messages with the watermarks applied: thinking of earlier models, cleared
        results, then the digest (``through`` overrides how far it reaches)."""
        through = self.compacted_through if through is None else through
        edited, _ = without_thinking(messages, self.thinking_cut)
        edited, _ = cleared_results(edited, self.cleared_before)
        if 0 < through < len(edited):
            summary = self._digest_of(messages, through, self._digest_chars(self.last_model))
            edited = with_digest(edited, through, summary)
        return edited

    def _digest_of(self, messages: Sequence[Mapping[str, Any]], through: int, limit: int) -> str:
        """The digest of ``messages[:through]``, made once per watermark."""
        if self._digest[:2] != (through, limit):
            self._digest = (through, limit, digest(messages[:through], limit))
        return self._digest[2]

    def _digest_chars(self, model: str | None) -> int:
        window = self.window(model) if model else DEFAULT_WINDOW
        return int(DIGEST_SHARE * window / max(self.tokens_per_char, 1e-3))

    def _chars(self, request: ModelRequest) -> int:
        return (
            json_chars(request.system)
            + json_chars(list(request.tools))
            + sum(json_chars(m) for m in request.messages)
        )

    def _messages_tokens(self, messages: Sequence[Any]) -> float:
        return sum(json_chars(m) for m in messages) * self.tokens_per_char


def _holds_compaction(messages: Sequence[Mapping[str, Any]]) -> bool:
    return any(
        isinstance(block, Mapping) and block.get("type") == "compaction"
        for message in messages
        if isinstance(message.get("content"), list)
        for block in message["content"]
    )


def _applied(edit: Mapping[str, Any]) -> str:
    """An edit the API reported, in words."""
    freed = f", ~{tokens(int(edit.get('cleared_input_tokens') or 0))} tokens"
    if edit.get("type") == "clear_tool_uses_20250919":
        return f"the API cleared {edit.get('cleared_tool_uses', 0)} earlier tool results{freed}"
    if edit.get("type") == "clear_thinking_20251015":
        return f"the API cleared the thinking of {edit.get('cleared_thinking_turns', 0)} earlier turns{freed}"
    return f"the API edited the context ({edit.get('type', 'unknown edit')}){freed}"


class ContextClient:
    """A ``ModelClient`` that sends each request as its ``ContextKeeper`` shapes it, and
    passes the keeper's notices on as stream items before the answer."""

    def __init__(self, client: ModelClient, keeper: ContextKeeper) -> None:
        self.client = client
        self.keeper = keeper

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]:
        """The shaped request's stream. A prompt the API finds too long (the estimate
        was short of its count) is shaped again with the API's count and sent once more,
        if that makes room; else its error stands."""
        sent, notices = self.keeper.shape(request)
        for again in (False, True):
            for notice in notices:
                yield notice
            try:
                async for item in self.client.stream(sent):
                    if isinstance(item, ModelResponse):
                        for notice in self.keeper.learn(sent, item):
                            yield notice
                    yield item
                return
            except PromptTooLong as error:
                if again or not self.keeper.counted(sent, error.tokens):
                    raise
                retried, notices = self.keeper.shape(request)
                if retried.messages == sent.messages:
                    raise
                sent = retried
