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
  replaced by a digest (``DIGEST_SHARE`` of the window at most, its text fixed when it
  is made). Both are watermarks that only move forward, so the prompt's prefix stays
  the same between edits and prompt caching keeps working.

A compaction block the next request cannot carry (the model changed, the model no
longer edits, or the conversation was restored) becomes the kernel's compaction: its
summary opens the digest.

Either way the session keeps every message: ``%history``, the notebook's record and a
replay see the whole conversation, and a replay derives the same edits from the same
recorded answers. Each edit is a ``ContextEdited`` notice in the trace.

The token count is estimated from the JSON length of what is sent, scaled by the ratio
the last answer's reported input showed (not a hosted step's, whose input adds up over
its server-side loop), so it follows the real tokenizer within a step; a request the
API still finds too long corrects both the ratio and, if the API names a smaller
maximum, the window. The keeper also applies the ``ModelOptions`` (effort, thinking),
and drops the thinking blocks written before a model change or an edit of the
transcript before them: a thinking block is bound to both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..clients.base import ContextEdited, ModelRequest, ModelResponse
from ..clients.model_facts import ModelFacts, facts_of
from ..clients.model_options import ModelOptions
from ..clients.server_tools import SERVER_CALLS
from .context_api import (
    CLEAR_AT,
    COMPACT_AT,
    CONTEXT_BETAS,
    KEEP_RESULTS,
    api_edits,
    applied_words,
    edits_taken,
    from_compaction,
    is_compaction,
    last_compaction,
    tokens,
    without_compaction,
)
from .context_edits import (
    cleared_results,
    clearing_point,
    digest,
    json_chars,
    results_between,
    turn_starts,
    with_digest,
    without_thinking,
)

__all__ = ["ContextKeeper"]

DIGEST_SHARE = 0.1
"""Share of the window the kernel's digest of the earlier turns may take."""
DEFAULT_WINDOW = 200_000
"""The window assumed for a model whose window no source gives: the smallest in use."""
_FIRST_TOKENS_PER_CHAR = 1 / 3
"""The estimate before any answer reported its input: more tokens than English text has."""
_TOKENS_PER_CHAR = (1 / 6, 1.0)
"""The ratios a report is believed within: from long English words to one token a
character (Chinese, Japanese); outside them the report is not of this request."""


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
        self.compaction_model: str | None = None
        """The model whose compaction block the messages hold (None: none, or not known)."""
        self.tokens_per_char = _FIRST_TOKENS_PER_CHAR
        self.window_caps: dict[str, int] = {}
        """Maxima the API named when it refused a prompt, by model."""
        self.cleared = 0
        self.compactions = 0
        self.sent: _Sent | None = None
        self._digest: tuple[int, str] = (0, "")

    def window(self, model: str) -> int:
        known = self.facts(model).context_window or DEFAULT_WINDOW
        return min(known, self.window_limit or known, self.window_caps.get(model, known))

    def by_api(self, model: str) -> bool:
        """Whether the API makes room for ``model`` (it takes our context edits)."""
        return bool(edits_taken(self.facts(model).supports))

    def shape(self, request: ModelRequest) -> tuple[ModelRequest, list[ContextEdited]]:
        """``request`` as it is sent: options applied, thinking it cannot take dropped,
        and room made in the window; with a notice for each edit made now."""
        length = len(request.messages)
        self.thinking_cut = min(self.thinking_cut, length)
        self.cleared_before = min(self.cleared_before, length)
        notices = [*self._model_changed(request), *self._carried_compaction(request)]
        supports = self.facts(request.model).supports
        extra = dict(request.extra)
        for name, value in self.options.request_fields(supports).items():
            extra[name] = {**extra.get(name, {}), **value} if isinstance(value, dict) else value
        request = replace(request, extra=extra)
        taken = edits_taken(supports)  # the API makes room for this model
        if taken:
            edits = api_edits(self.window(request.model), taken, request.messages)
            betas = tuple(dict.fromkeys([*request.betas, *CONTEXT_BETAS]))
            extra = {**request.extra, "context_management": {"edits": edits}}
            request = replace(request, extra=extra, betas=betas)
        sent = replace(request, messages=self._edited(request.messages))
        if taken:
            return sent, notices
        return self._make_room(request, sent, notices)

    def _make_room(
        self, request: ModelRequest, sent: ModelRequest, notices: list[ContextEdited]
    ) -> tuple[ModelRequest, list[ContextEdited]]:
        """The kernel's edits: clear the earlier results past ``CLEAR_AT`` of the window,
        then, if that was not enough, compact the earlier turns."""
        window = self.window(request.model)
        estimate = self.estimate(sent)
        starts = turn_starts(request.messages)
        if estimate > CLEAR_AT * window:
            # Every result of the earlier turns at once, so the next clearing is turns
            # away and the prefix between stays cached; within the turn, the newest stay.
            point = max(clearing_point(request.messages, KEEP_RESULTS), starts[-1] if starts else 0)
            cleared = results_between(request.messages, self.cleared_before, point)
            if cleared:
                self.cleared_before = point
                self.cleared += cleared
                self._prefix_changed(request)
                sent = replace(request, messages=self._edited(request.messages))
                freed = estimate - self.estimate(sent)
                notices.append(
                    ContextEdited(
                        f"cleared {cleared} earlier tool results, ~{tokens(freed)} tokens"
                    )
                )
                estimate -= freed
        if estimate > CLEAR_AT * window and starts and starts[-1] > self.compacted_through:
            compacted = len(turn_starts(request.messages[self.compacted_through : starts[-1]]))
            self._compact(request.messages, starts[-1], request.model)
            self._prefix_changed(request)
            sent = replace(request, messages=self._edited(request.messages))
            notices.append(
                ContextEdited(
                    f"compacted {compacted} earlier turns into a digest, "
                    f"~{tokens(estimate)} → ~{tokens(self.estimate(sent))} tokens"
                )
            )
        return sent, notices

    def learn(self, sent: ModelRequest, response: ModelResponse) -> list[ContextEdited]:
        """Take in an answer: the input it reports calibrates the estimate, and what the
        API says it edited becomes notices."""
        notices = [ContextEdited(applied_words(edit)) for edit in response.applied_edits]
        compacted = any(is_compaction(block) for block in response.message["content"])
        if compacted:
            self.compactions += 1
            self.compaction_model = response.model or sent.model
            notices.append(
                ContextEdited("the API compacted the earlier conversation into a summary")
            )
        billed = response.usage.all_input
        self.sent = _Sent(sent, billed)
        kinds = {block.get("type") for block in response.message["content"]}
        edited_by_api = (
            response.applied_edits or compacted or last_compaction(sent.messages) is not None
        )
        chars = self._chars(sent)
        # A hosted step's input adds up over its server-side loop: not this prompt's size.
        if billed and chars and not edited_by_api and kinds.isdisjoint(SERVER_CALLS):
            self.tokens_per_char = min(
                max(billed / chars, _TOKENS_PER_CHAR[0]), _TOKENS_PER_CHAR[1]
            )
        return notices

    def counted(self, request: ModelRequest, count: int | None, maximum: int | None) -> bool:
        """Take the API's count and maximum for a request it refused as too long; whether
        either corrects what the keeper knew (a count the estimate fell short of, a
        window smaller than the one assumed)."""
        corrected = False
        if maximum and maximum < self.window(request.model):
            self.window_caps[request.model] = maximum
            corrected = True
        chars = self._chars(request)
        if count and chars and count > self.estimate(request):
            self.tokens_per_char = min(count / chars, _TOKENS_PER_CHAR[1])
            corrected = True
        return corrected

    def compact_now(self, messages: Sequence[Mapping[str, Any]], model: str) -> str:
        """``%compact``: the turns so far go into a digest from the next request on."""
        done = len(turn_starts(messages[self.compacted_through :]))
        if not done:
            return "nothing to compact: no turn since the last compaction"
        before = self._messages_tokens(self._edited(messages, through=0))
        self._compact(messages, len(messages), model)
        after = json_chars(self._digest[1]) * self.tokens_per_char
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

    def _carried_compaction(self, request: ModelRequest) -> list[ContextEdited]:
        """A compaction block this request cannot carry (another model's, one the model
        no longer takes, one restored from a saved notebook) becomes the kernel's
        compaction, from the turn after it; its summary opens the digest."""
        found = last_compaction(request.messages)
        if found is None or self._carries_compaction(request.model):
            return []
        starts = [i for i in turn_starts(request.messages) if i > found[0]]
        if not starts or starts[0] <= self.compacted_through:
            return []
        self._compact(request.messages, starts[0], request.model)
        self._prefix_changed(request)
        return [
            ContextEdited(
                "the API's summary of the earlier conversation goes on as text: "
                f"{request.model} cannot take the compaction block it came in"
            )
        ]

    def _carries_compaction(self, model: str) -> bool:
        return self.by_api(model) and model == self.compaction_model

    def _compact(self, messages: Sequence[Mapping[str, Any]], through: int, model: str) -> None:
        """Move the digest's watermark to ``through`` and write its text, fixed from now on
        (a digest that changed with the estimate would miss the cache)."""
        limit = int(DIGEST_SHARE * self.window(model) / max(self.tokens_per_char, 1e-3))
        found = last_compaction(messages[:through])
        opening = ""
        start = 0
        if found is not None:  # the API's summary, then the turns after it
            summary = messages[found[0]]["content"][found[1]]["content"]
            opening = f"[The API's summary of the earlier conversation:]\n{summary}"
            start = next((i for i in turn_starts(messages) if i > found[0]), through)
        rest = digest(messages[start:through], limit) if start < through else ""
        self._digest = (through, "\n\n".join(part for part in (opening, rest) if part))
        self.compacted_through = through
        self.compactions += 1

    def _prefix_changed(self, request: ModelRequest) -> None:
        """An edit changed what comes before the thinking blocks so far: they are bound
        to the transcript before them, so they are dropped (later ones bind to the
        edited transcript and go back as they come)."""
        self.thinking_cut = max(self.thinking_cut, len(request.messages))

    def _edited(
        self, messages: Sequence[Mapping[str, Any]], *, through: int | None = None
    ) -> list[Any]:
        """The messages as sent: thinking before its cut left out, cleared results, then
        the digest (``through`` overrides how far it reaches), then the compaction block
        first where the model takes it, else none."""
        through = self.compacted_through if through is None else through
        edited, _ = without_thinking(messages, self.thinking_cut)
        edited, _ = cleared_results(edited, self.cleared_before)
        if 0 < through < len(edited) and self._digest[0] == through:
            edited = with_digest(edited, through, self._digest[1])
        found = last_compaction(edited)
        if found is None:
            return edited
        if self.last_model is not None and self._carries_compaction(self.last_model):
            return from_compaction(edited, found)
        return without_compaction(edited)

    def _chars(self, request: ModelRequest) -> int:
        return (
            json_chars(request.system)
            + json_chars(list(request.tools))
            + sum(json_chars(m) for m in request.messages)
        )

    def _messages_tokens(self, messages: Sequence[Any]) -> float:
        return sum(json_chars(m) for m in messages) * self.tokens_per_char
