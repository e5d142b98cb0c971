"""Budgets: how much a cell and a notebook may spend, held before every model call.

A limit is dollars (``$0.50``) or tokens (``200k``). Spend is priced per step with
``clients.pricing``, the table every view uses. ``BudgetedClient`` wraps the session's
model client for one turn. Before each request it bounds what the request could bill at
worst (``WorstCase``): its prompt, known from the tokens the previous prompt was billed
plus one token per byte of what changed since (``PromptLedger``), and the longest answer
it may write, thinking included. The request goes out only if that worst case fits what
the cell and the notebook have left: ``max_tokens`` is lowered until it does, and a
request that cannot afford even a short answer (``MIN_ANSWER_TOKENS``) is not sent.
``BudgetExceeded`` then ends the turn the way a failed request does, so every backend's
loop leaves the messages valid. So spend never passes a limit, rather than passing it by
one call. The tightest limit also goes with the request as a task budget, which the
client tells a model that takes one. A replayed turn costs nothing and is not limited.
"""

from __future__ import annotations

import math
import re
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from ..clients.base import ModelClient, ModelRequest, ModelResponse, StreamItem
from ..clients.pricing import Spend, format_dollars, format_tokens, price_of, spend_of
from ..errors import BudgetExceeded
from .transcript import TurnRecord
from .worst_case import PromptLedger, WorstCase

__all__ = [
    "MIN_ANSWER_TOKENS",
    "Budget",
    "BudgetGuard",
    "BudgetedClient",
    "Limit",
    "steps_spend",
    "turn_spend",
]

MIN_ANSWER_TOKENS = 1_024
"""The shortest answer worth a call (a tool call with a short script, a few paragraphs):
a call that cannot afford it is not made, since its answer would mostly be cut off."""
MIN_THINKING_TOKENS = 1_024
"""The smallest ``thinking.budget_tokens`` the API takes."""

_TOKENS = re.compile(r"(\d+(?:\.\d+)?)\s*([km]?)(?:\s*tokens?)?", re.IGNORECASE)
_DOLLARS = re.compile(r"\$\s*(\d+(?:\.\d+)?)|(\d+(?:\.\d+)?)\s*\$")
_NO_LIMIT = ("", "none", "off")


@dataclass(frozen=True)
class Limit:
    """At most ``amount`` dollars or tokens."""

    amount: float
    unit: Literal["dollars", "tokens"]

    @classmethod
    def parse(cls, text: str) -> Limit | None:
        """``$0.50``, ``2$``, ``200k``, ``1.5M``, ``50000``; ``none`` or ``off`` is no limit.
        ``ValueError`` saying what is accepted."""
        text = text.strip()
        if text.lower() in _NO_LIMIT:
            return None
        if dollars := _DOLLARS.fullmatch(text):
            limit = cls(float(dollars.group(1) or dollars.group(2)), "dollars")
        elif tokens := _TOKENS.fullmatch(text):
            scale = {"": 1, "k": 1_000, "m": 1_000_000}[tokens.group(2).lower()]
            limit = cls(float(tokens.group(1)) * scale, "tokens")
        else:
            raise ValueError(
                f"{text!r} is not a limit: write dollars ($0.50) or tokens (200k), or none"
            )
        if limit.amount <= 0:
            raise ValueError(f"{text!r} is not a limit: it must be more than 0 (or none)")
        return limit

    def __str__(self) -> str:
        """As a person types it: ``$0.50``, ``$0.005``, ``200k``."""
        if self.unit == "dollars":
            cents = round(self.amount, 2) == self.amount
            return f"${self.amount:,.2f}" if cents else f"${self.amount:g}"
        return _short_tokens(self.amount)

    def used(self, spend: Spend) -> float:
        """What ``spend`` takes of this limit; tokens of a model without a price take no
        dollars (the turn says so when it starts)."""
        return spend.dollars if self.unit == "dollars" else spend.tokens

    def describe(self, amount: float) -> str:
        """``amount`` in this limit's unit: ``$0.012``, ``3,000 tokens``."""
        if self.unit == "dollars":
            return format_dollars(amount)
        return f"{format_tokens(math.ceil(amount))} tokens"

    def raised(self, spend: Spend, needed: float = 0.0) -> Limit:
        """A round limit well above this one and above ``spend`` with ``needed`` more, to suggest."""
        wanted = max(self.amount * 2, (self.used(spend) + needed) * 1.5)
        step = 10 ** math.floor(math.log10(wanted))
        return Limit(math.ceil(wanted / step) * step, self.unit)


@dataclass(frozen=True)
class Budget:
    """The limits of a session: per cell, and for the whole notebook."""

    cell: Limit | None = None
    notebook: Limit | None = None

    def describe(self) -> str:
        return f"cell={self.cell or 'none'} notebook={self.notebook or 'none'}"

    def unchecked(self, model: str) -> str:
        """Why a dollar limit cannot be checked for ``model`` (no price is known), or ``""``."""
        limits = [limit for limit in (self.cell, self.notebook) if limit]
        if price_of(model) is not None or not any(limit.unit == "dollars" for limit in limits):
            return ""
        return (
            f"no price is known for the model {model}, so dollar limits cannot be "
            "checked; its tokens are counted, and a limit in tokens still applies"
        )


@dataclass(frozen=True)
class _Scope:
    """One limit and what has been spent against it."""

    name: Literal["cell", "notebook"]
    limit: Limit
    spent: Spend

    @property
    def left(self) -> float:
        return self.limit.amount - self.limit.used(self.spent)


class BudgetGuard:
    """What one turn has spent, with the cell and the notebook before it, against a budget."""

    def __init__(self, budget: Budget, *, cell: Spend, notebook: Spend) -> None:
        self.budget = budget
        self.cell_before = cell
        self.notebook_before = notebook
        self.turn = Spend()
        self.calls = 0

    def add(self, spend: Spend) -> None:
        self.turn = self.turn + spend
        self.calls += 1

    def fit(self, request: ModelRequest, prompts: PromptLedger) -> ModelRequest:
        """``request`` as it may go out: ``max_tokens`` lowered until its worst case fits
        what every limit leaves, with the tightest limit as its task budget.

        ``BudgetExceeded`` when even the shortest useful answer does not fit.
        """
        scopes = list(self._scopes())
        if not scopes:
            return request
        worst = WorstCase.of(request, prompts.bound(request))
        answer, tightest = request.max_tokens, None
        for scope in scopes:
            longest = worst.longest_answer(scope.limit.unit, scope.left)
            if longest is not None and longest < answer:
                answer, tightest = longest, scope
        shortest = min(request.max_tokens, _shortest_answer(request))
        if tightest is not None and answer < shortest:
            raise self._exceeded(tightest, worst, shortest)
        return _lowered(request, answer, _task_budget(request.model, scopes))

    def _scopes(self) -> Iterator[_Scope]:
        if self.budget.cell is not None:
            yield _Scope("cell", self.budget.cell, self.cell_before + self.turn)
        if self.budget.notebook is not None:
            yield _Scope("notebook", self.budget.notebook, self.notebook_before + self.turn)

    def _exceeded(self, scope: _Scope, worst: WorstCase, shortest: int) -> BudgetExceeded:
        limit, spent = scope.limit, scope.spent
        needed = worst.cost(shortest, limit.unit) or 0.0
        this_turn = (
            f"; this turn made {self.calls} model call(s) for {self.turn.describe()}"
            if self.calls
            else ""
        )
        so_far = f"{spent.describe()} so far in this {scope.name}{this_turn}"
        if scope.left <= 0:
            message = (
                f"the {scope.name} budget of {limit} is spent: {so_far}, "
                "so the next model call was not made"
            )
        else:
            after = f"after {so_far}" if spent.tokens else f"in this {scope.name}, none spent yet"
            reads = f", read up to {worst.reads} times by server tools" if worst.reads > 1 else ""
            message = (
                f"the {scope.name} budget of {limit} has {limit.describe(scope.left)} left "
                f"{after}; the next model call could cost up to {limit.describe(needed)} "
                f"(a prompt of up to {format_tokens(worst.prompt)} tokens{reads} and an answer "
                f"of {format_tokens(shortest)}), so it was not made"
            )
        return BudgetExceeded(
            message,
            scope=scope.name,
            limit=str(limit),
            raise_to=str(limit.raised(spent, needed)),
        )


class BudgetedClient:
    """A ``ModelClient`` that fits each request to the budget and counts what each costs."""

    def __init__(self, client: ModelClient, guard: BudgetGuard) -> None:
        self.client = client
        self.guard = guard
        self.prompts = _ledger_of(client)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]:
        sent = self.guard.fit(request, self.prompts)
        async for item in self.client.stream(sent):
            if isinstance(item, ModelResponse):
                self.guard.add(spend_of(item.model or sent.model, item.usage))
                self.prompts.record(sent, item.usage)
            yield item


_LEDGERS: weakref.WeakKeyDictionary[ModelClient, PromptLedger] = weakref.WeakKeyDictionary()
"""Each model client's ledger. A session wraps its client anew for each turn but keeps the
client, so the first call of a turn is bounded from the last call of the turn before, not
from every byte of the messages. Any earlier prompt is a sound start (see ``PromptLedger``),
so two sessions sharing a client only bound less tightly."""


def _ledger_of(client: ModelClient) -> PromptLedger:
    try:
        return _LEDGERS.setdefault(client, PromptLedger())
    except TypeError:  # a client that cannot be weakly referenced: a ledger per turn
        return PromptLedger()


def turn_spend(record: TurnRecord) -> Spend:
    """What a recorded turn spent: as saved, else priced from its steps (a record saved before
    spend was), else from its total usage; a replayed turn spent nothing."""
    if record.spend is not None:
        return record.spend
    if record.replayed:
        return Spend()
    return (
        steps_spend(record.steps, record.model)
        if record.steps
        else spend_of(record.model, record.usage)
    )


def steps_spend(steps: Sequence[ModelResponse], model: str) -> Spend:
    """The spend of a turn's model responses, each priced on its own."""
    return sum((spend_of(step.model or model, step.usage) for step in steps), Spend())


def _task_budget(model: str, scopes: Sequence[_Scope]) -> dict[str, Any] | None:
    """The tightest limit as tokens the model may still spend: a token limit as it is, a
    dollar limit at the model's dearest output price (the fewest tokens it could buy)."""
    price = price_of(model)
    budgets = []
    for scope in scopes:
        if scope.limit.unit == "tokens":
            tokens_per_unit = 1.0
        elif price is not None and price.most_per_output > 0:
            tokens_per_unit = 1_000_000 / price.most_per_output
        else:
            continue
        total = math.floor(scope.limit.amount * tokens_per_unit + 1e-6)  # not 49,999.9999
        left = math.floor(scope.left * tokens_per_unit + 1e-6)
        budgets.append((max(0, min(total, left)), total))
    if not budgets:
        return None
    remaining, total = min(budgets)
    return {"type": "tokens", "total": total, "remaining": remaining}


def _lowered(
    request: ModelRequest, answer: int, task_budget: dict[str, Any] | None
) -> ModelRequest:
    """``request`` with at most ``answer`` tokens of answer, a thinking budget below it,
    and ``task_budget``."""
    answer = min(answer, request.max_tokens)
    extra = request.extra
    thinking = extra.get("thinking")
    if _thinking_budget(thinking) >= answer:
        budget = max(MIN_THINKING_TOKENS, answer - MIN_ANSWER_TOKENS)
        extra = {**extra, "thinking": {**thinking, "budget_tokens": budget}}
    return replace(request, max_tokens=answer, extra=extra, task_budget=task_budget)


def _shortest_answer(request: ModelRequest) -> int:
    """A short answer, after the smallest thinking budget where thinking has a budget."""
    thinks = _thinking_budget(request.extra.get("thinking")) > 0
    return MIN_ANSWER_TOKENS + (MIN_THINKING_TOKENS if thinks else 0)


def _thinking_budget(thinking: Any) -> int:
    """``budget_tokens`` of enabled thinking; 0 for none or adaptive (which has none)."""
    if isinstance(thinking, Mapping) and thinking.get("type") == "enabled":
        return int(thinking.get("budget_tokens") or 0)
    return 0


def _short_tokens(amount: float) -> str:
    """``200k``, ``1.5M``, ``800``: how a token limit is typed."""
    for scale, suffix in ((1_000_000, "M"), (1_000, "k")):
        if amount >= scale:
            return f"{amount / scale:g}{suffix}"
    return format_tokens(round(amount))
