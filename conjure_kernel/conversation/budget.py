"""Budgets: how much a cell and a notebook may spend, checked before every model call.

A limit is dollars (``$0.50``) or tokens (``200k``). Spend is priced per step with
``clients.pricing``, the table every view uses. ``BudgetedClient`` wraps the session's
model client for one turn: before each request it checks what the cell and the notebook
have spent, and a request that would start over a limit is not sent; ``BudgetExceeded``
ends the turn the way a failed request does, so every backend's loop leaves the history
valid. A replayed turn costs nothing and is not limited.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal

from ..clients.base import ModelClient, ModelRequest, ModelResponse, StreamItem
from ..clients.pricing import Spend, format_tokens, spend_of
from ..errors import BudgetExceeded
from .transcript import TurnRecord

__all__ = ["Budget", "BudgetGuard", "BudgetedClient", "Limit", "steps_spend", "turn_spend"]

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

    def reached(self, spend: Spend) -> bool:
        """Whether ``spend`` is at or over the limit; tokens of a model without a price do
        not count against dollars (the turn says so when it starts)."""
        used = spend.dollars if self.unit == "dollars" else spend.tokens
        return used >= self.amount

    def raised(self, spend: Spend) -> Limit:
        """A round limit well above both this one and ``spend``, to suggest."""
        used = spend.dollars if self.unit == "dollars" else spend.tokens
        wanted = max(self.amount * 2, used * 1.5)
        step = 10 ** math.floor(math.log10(wanted))
        return Limit(math.ceil(wanted / step) * step, self.unit)


@dataclass(frozen=True)
class Budget:
    """The limits of a session: per cell, and for the whole notebook."""

    cell: Limit | None = None
    notebook: Limit | None = None

    def describe(self) -> str:
        return f"cell={self.cell or 'none'} notebook={self.notebook or 'none'}"


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

    def check(self) -> None:
        """Raise ``BudgetExceeded`` if the next model call would start over a limit."""
        scopes = (
            ("cell", self.budget.cell, self.cell_before + self.turn, "in this cell"),
            (
                "notebook",
                self.budget.notebook,
                self.notebook_before + self.turn,
                "in this notebook",
            ),
        )
        for scope, limit, spent, where in scopes:
            if limit is not None and limit.reached(spent):
                this_turn = (
                    f"; this turn made {self.calls} model call(s) for {self.turn.describe()}"
                    if self.calls
                    else ""
                )
                raise BudgetExceeded(
                    f"the {scope} budget of {limit} is spent: {spent.describe()} so far {where}"
                    f"{this_turn}, so the next model call was not made",
                    scope=scope,
                    limit=str(limit),
                    raise_to=str(limit.raised(spent)),
                )


class BudgetedClient:
    """A ``ModelClient`` that checks the budget before each request and counts what each costs."""

    def __init__(self, client: ModelClient, guard: BudgetGuard) -> None:
        self.client = client
        self.guard = guard

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]:
        self.guard.check()
        async for item in self.client.stream(request):
            if isinstance(item, ModelResponse):
                self.guard.add(spend_of(item.model or request.model, item.usage))
            yield item


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


def _short_tokens(amount: float) -> str:
    """``200k``, ``1.5M``, ``800``: how a token limit is typed."""
    for scale, suffix in ((1_000_000, "M"), (1_000, "k")):
        if amount >= scale:
            return f"{amount / scale:g}{suffix}"
    return format_tokens(round(amount))
