"""What a model's tokens cost: one price table per model, read by budgets, footers and widgets.

A model-level fact kept beside the client, so every reader prices a step the same way:
uncached input, output, cache writes (at the 5-minute rate, the one the client's cache
breakpoints use) and cache reads each have their own price per million tokens, as the
API bills them. Some models cost more per token once a request's prompt passes a size;
such a model carries its long-prompt prices, and each step is priced on its own prompt.

A person may price models the table lacks, or price listed ones otherwise (a regional
endpoint, a negotiated rate): ``configure_prices`` sets a table that ``price_of`` reads
before ``PRICES``. It is one table per process, like ``PRICES`` itself, so that every
reader (budgets, footers, widgets, the history) prices a step the same way without each
being handed the table; the notebook layer keeps it in step with its configuration. A
model missing from both is counted in tokens only: its spend is marked ``unpriced``,
and a limit in dollars cannot be checked against it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import Usage

__all__ = [
    "PRICES",
    "PRICES_SHAPE",
    "Price",
    "Spend",
    "base_model",
    "configure_prices",
    "configured_prices",
    "format_dollars",
    "format_tokens",
    "parse_prices",
    "price_of",
    "read_prices",
    "spend_of",
]


@dataclass(frozen=True)
class Price:
    """Dollars per million tokens of each kind."""

    input: float
    output: float
    cache_write: float
    """Writing a prompt prefix to the cache for 5 minutes."""
    cache_read: float
    long_prompt: tuple[int, Price] | None = None
    """(threshold, prices): a request whose prompt (input, cache writes and reads) holds more
    tokens than the threshold pays these prices for every token, output included."""

    def cost(self, usage: Usage) -> float:
        """The dollars of one request's usage."""
        tier = self.for_prompt(usage.all_input)
        if tier is not self:
            return tier.cost(usage)
        return (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_creation_input_tokens * self.cache_write
            + usage.cache_read_input_tokens * self.cache_read
        ) / 1_000_000

    def for_prompt(self, tokens: int) -> Price:
        """The prices a request whose prompt holds ``tokens`` pays."""
        if self.long_prompt is not None and tokens > self.long_prompt[0]:
            return self.long_prompt[1]
        return self

    @property
    def most_per_input(self) -> float:
        """The dearest a prompt token can be: uncached, or written to the cache."""
        return max(self.input, self.cache_write)

    @property
    def most_per_output(self) -> float:
        """The dearest an output token can be, long prompts included."""
        longer = self.long_prompt[1].most_per_output if self.long_prompt else 0.0
        return max(self.output, longer)


_FABLE_5_2 = Price(8, 40, 10, 0.20)
_FABLE_5_1 = Price(10, 50, 12.50, 0.25)
_FABLE_5 = Price(10, 50, 12.50, 1.00)
_OPUS_5_5 = Price(4, 20, 5, 0.20)
_OPUS_5 = Price(5, 25, 6.25, 0.50)
_OPUS_4 = Price(15, 75, 18.75, 1.50)
_SONNET_5_5 = Price(2, 10, 2.50, 0.10)
_SONNET_5 = Price(2, 10, 2.50, 0.20)
_SONNET_4 = Price(3, 15, 3.75, 0.30, long_prompt=(200_000, Price(6, 22.50, 7.50, 0.60)))
_HAIKU_5_5 = Price(0.10, 0.50, 0.125, 0.01, long_prompt=(100_000, Price(0.50, 2.50, 0.625, 0.05)))
_HAIKU_4_5 = Price(1, 5, 1.25, 0.10)

PRICES: dict[str, Price] = {
    "claude-fable-5-2": _FABLE_5_2,
    "claude-mythos-5-2": _FABLE_5_2,
    "claude-fable-5-1": _FABLE_5_1,
    "claude-mythos-5-1": _FABLE_5_1,
    "claude-fable-5": _FABLE_5,
    "claude-mythos-5": _FABLE_5,
    "claude-mythos-preview": _FABLE_5,
    "claude-opus-5-5": _OPUS_5_5,
    "claude-opus-5": _OPUS_5,
    "claude-opus-4-8": _OPUS_5,
    "claude-opus-4-7": _OPUS_5,
    "claude-opus-4-6": _OPUS_5,
    "claude-opus-4-5": _OPUS_5,
    "claude-opus-4-1": _OPUS_4,
    "claude-opus-4": _OPUS_4,
    "claude-sonnet-5-5": _SONNET_5_5,
    "claude-sonnet-5": _SONNET_5,
    "claude-sonnet-4-6": _SONNET_4,
    "claude-sonnet-4-5": _SONNET_4,
    "claude-sonnet-4": _SONNET_4,
    "claude-haiku-5-5": _HAIKU_5_5,
    "claude-haiku-4-5": _HAIKU_4_5,
}
"""List prices of the Claude API (platform.claude.com/docs/en/about-claude/pricing, late
2026), keyed by model id without a date suffix. Fable 5.2 and Mythos 5.2 are from
third-party listings of Anthropic's price; Sonnet 5.5 cache reads are at the rate cut of
2026-10-07. Regional endpoints (``inference_geo``) and batches are priced differently."""

_DATE_SUFFIX = re.compile(r"-\d{8}$")
_configured: dict[str, Price] = {}

PRICES_SHAPE = (
    '{"MODEL-ID": {"input": 3, "output": 15, "cache_write": 3.75, "cache_read": 0.3}}, '
    "dollars per million tokens; cache prices are optional (1.25x and 0.1x input), and "
    '"long_prompt": {"above": 200000, "input": 6, "output": 22.5} adds long-prompt prices'
)
"""The shape of a price table, for the error that finds another."""
_PRICE_KEYS = ("input", "output", "cache_write", "cache_read")


def base_model(model: str) -> str:
    """The model a dated id (``claude-haiku-4-5-20251001``) or a context variant
    (``…[1m]``) names."""
    return _DATE_SUFFIX.sub("", model.split("[", 1)[0].strip())


def price_of(model: str) -> Price | None:
    """The prices of ``model``, configured ones first (by the exact id, then the model it
    names); None when neither table lists it."""
    name = base_model(model)
    return _configured.get(model) or _configured.get(name) or PRICES.get(name)


def configure_prices(prices: Mapping[str, Price]) -> None:
    """Use these prices for their models, in place of those configured before."""
    _configured.clear()
    _configured.update(prices)


def configured_prices() -> dict[str, Price]:
    """The prices set with ``configure_prices``."""
    return dict(_configured)


def parse_prices(data: Any) -> dict[str, Price]:
    """A price table from JSON-like data (see ``PRICES_SHAPE``); ``ValueError`` naming the
    model and the field that is wrong."""
    if not isinstance(data, Mapping):
        raise ValueError(f"a price table must map model ids to prices: {PRICES_SHAPE}")
    return {str(model): _parse_price(str(model), entry) for model, entry in data.items()}


def read_prices(path: str | Path) -> dict[str, Price]:
    """A price table from a JSON or TOML file (TOML if its name ends in ``.toml``);
    ``ValueError`` when it cannot be read or is not a price table."""
    path = Path(path).expanduser()
    kind = "TOML" if path.suffix == ".toml" else "JSON"
    try:
        text = path.read_text(encoding="utf-8")
        data = _toml(text) if kind == "TOML" else json.loads(text)
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror or error}") from None
    except ValueError as error:  # also UnicodeDecodeError and TOMLDecodeError
        raise ValueError(f"{path} is not valid {kind} ({error}); expected {PRICES_SHAPE}") from None
    return parse_prices(data)


def _toml(text: str) -> Any:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        raise ValueError("reading TOML needs Python 3.11 or later; write JSON") from None
    return tomllib.loads(text)


def _parse_price(where: str, entry: Any, *, tier: bool = False) -> Price:
    """One model's prices; with ``tier``, its long-prompt prices and where they start."""
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: expected {PRICES_SHAPE}")
    required = {"input", "output", "above"} if tier else {"input", "output"}
    unknown = entry.keys() - {*_PRICE_KEYS, "above" if tier else "long_prompt"}
    if unknown:
        named = ", ".join(sorted(map(str, unknown)))
        raise ValueError(f"{where}: unknown field {named}; expected {PRICES_SHAPE}")
    if missing := required - entry.keys():
        named = ", ".join(sorted(missing))
        raise ValueError(f"{where}: missing {named}; expected {PRICES_SHAPE}")
    rates = {key: _rate(where, key, entry[key]) for key in _PRICE_KEYS if key in entry}
    rates.setdefault("cache_write", rates["input"] * 1.25)
    rates.setdefault("cache_read", rates["input"] / 10)
    longer = entry.get("long_prompt")
    if longer is None:
        return Price(**rates)
    tier_price = _parse_price(f"{where}.long_prompt", longer, tier=True)
    above = int(_rate(f"{where}.long_prompt", "above", longer["above"]))
    return Price(**rates, long_prompt=(above, tier_price))


def _rate(where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{where}.{key}: {value!r} is not a number of 0 or more")
    return float(value)


@dataclass(frozen=True)
class Spend:
    """What some model calls cost: dollars where the model's price is known, and tokens."""

    dollars: float = 0.0
    tokens: int = 0
    """Every token billed: uncached input, cache writes, cache reads and output."""
    unpriced: bool = False
    """Some of these tokens came from a model without a known price: ``dollars`` leaves them out."""

    def __add__(self, other: Spend) -> Spend:
        return Spend(
            self.dollars + other.dollars,
            self.tokens + other.tokens,
            self.unpriced or other.unpriced,
        )

    def describe(self) -> str:
        """``$0.042 (12,345 tokens)``, or the tokens alone when nothing was priced."""
        if self.unpriced and not self.dollars:
            return self.short()
        return f"{self.short()} ({format_tokens(self.tokens)} tokens)"

    def short(self) -> str:
        """``$0.042``; the tokens when nothing was priced, and a note when part was not."""
        if self.unpriced and not self.dollars:
            return f"{format_tokens(self.tokens)} tokens"
        return format_dollars(self.dollars) + (
            " + tokens at an unknown price" if self.unpriced else ""
        )

    def to_json(self) -> dict[str, Any]:
        return {"dollars": round(self.dollars, 6), "tokens": self.tokens, "unpriced": self.unpriced}

    @classmethod
    def from_json(cls, data: Any) -> Spend:
        return cls(float(data["dollars"]), int(data["tokens"]), bool(data.get("unpriced", False)))


def spend_of(model: str, usage: Usage) -> Spend:
    """The spend of one request to ``model`` that used ``usage``."""
    tokens = usage.all_input + usage.output_tokens
    price = price_of(model)
    if price is None:
        return Spend(0.0, tokens, unpriced=bool(tokens))
    return Spend(price.cost(usage), tokens)


def format_dollars(dollars: float) -> str:
    """``$1.23``; an amount under a dollar keeps two significant digits (``$0.42``,
    ``$0.014``, ``$0.0042``), so a small spend never reads the same as its limit."""
    if dollars >= 1 or dollars <= 0:
        return f"${dollars:,.2f}"
    digits = min(max(2, 1 - math.floor(math.log10(dollars))), 8)
    return f"${dollars:.{digits}f}"


def format_tokens(tokens: int) -> str:
    return f"{tokens:,}"
