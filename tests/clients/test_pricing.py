"""The price table: each kind of token at its own price, long prompts, ids and formatting."""

from __future__ import annotations

from typing import get_args

import pytest
from anthropic.types.model import Model

from conjure_kernel.clients.base import Usage
from conjure_kernel.clients.pricing import (
    PRICES,
    Price,
    Spend,
    format_dollars,
    price_of,
    spend_of,
)


def test_each_kind_of_token_is_priced_as_the_api_bills_it():
    price = Price(input=3, output=15, cache_write=3.75, cache_read=0.30)
    usage = Usage(
        input_tokens=1_000_000,
        output_tokens=1_000_000,
        cache_creation_input_tokens=1_000_000,
        cache_read_input_tokens=1_000_000,
    )
    assert price.cost(usage) == pytest.approx(3 + 15 + 3.75 + 0.30)


def test_a_long_prompt_pays_the_higher_prices_for_every_token_of_that_request():
    haiku = PRICES["claude-haiku-5-5"]
    short = Usage(input_tokens=60_000, output_tokens=1_000, cache_read_input_tokens=40_000)
    long = Usage(input_tokens=60_000, output_tokens=1_000, cache_read_input_tokens=40_001)
    assert haiku.cost(short) == pytest.approx((60_000 * 0.10 + 1_000 * 0.50 + 40_000 * 0.01) / 1e6)
    assert haiku.cost(long) == pytest.approx((60_000 * 0.50 + 1_000 * 2.50 + 40_001 * 0.05) / 1e6)


def test_dated_ids_and_context_variants_are_priced_as_their_model():
    assert price_of("claude-haiku-4-5-20251001") is PRICES["claude-haiku-4-5"]
    assert price_of("claude-sonnet-4-5[1m]") is PRICES["claude-sonnet-4-5"]
    assert price_of("claude-sonnet-5-5") is PRICES["claude-sonnet-5-5"]


def test_every_model_the_sdk_names_has_a_price():
    literal = get_args(get_args(Model)[0])
    assert [model for model in literal if price_of(model) is None] == []


def test_a_model_without_a_price_is_counted_in_tokens_only():
    spend = spend_of("claude-someday-9", Usage(100, 20, 5, 1000))
    assert spend == Spend(0.0, 1125, unpriced=True)
    assert spend.describe() == "1,125 tokens"
    mixed = spend + spend_of("claude-sonnet-5-5", Usage(1_000_000))
    assert mixed.short() == "$2.00 + tokens at an unknown price"


@pytest.mark.parametrize(
    ("dollars", "shown"),
    [
        (0, "$0.00"),
        (0.0042, "$0.0042"),
        (0.00421, "$0.0042"),
        (0.014, "$0.014"),
        (0.42, "$0.42"),
        (1234.5, "$1,234.50"),
    ],
)
def test_dollars_keep_two_significant_digits_under_a_dollar(dollars, shown):
    assert format_dollars(dollars) == shown


def test_a_spend_survives_json():
    spend = Spend(0.012345678, 4321, unpriced=True)
    assert Spend.from_json(spend.to_json()) == Spend(0.012346, 4321, unpriced=True)
