"""The price table: each kind of token at its own price, long prompts, ids, formatting, and
prices a person configures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import get_args

import pytest
from anthropic.types.model import Model

from conjure_kernel.clients.base import Usage
from conjure_kernel.clients.pricing import (
    PRICES,
    Price,
    Spend,
    configure_prices,
    format_dollars,
    parse_prices,
    price_of,
    read_prices,
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


# -- configured prices -------------------------------------------------------------------


@pytest.fixture
def priced() -> Iterator[None]:
    """Prices configured by a test are forgotten after it."""
    yield
    configure_prices({})


def test_configured_prices_reach_every_reader_and_win_over_the_table(priced):
    configure_prices(parse_prices({"claude-someday-9": {"input": 3, "output": 15}}))
    assert price_of("claude-someday-9-20270101") == Price(3, 15, 3.75, 0.3)
    assert spend_of("claude-someday-9", Usage(1_000_000)) == Spend(3.0, 1_000_000)
    configure_prices({"claude-sonnet-5-5": Price(1, 1, 1, 1)})  # a negotiated rate
    assert price_of("claude-sonnet-5-5") == Price(1, 1, 1, 1)
    assert price_of("claude-someday-9") is None  # replaced, not added to
    configure_prices({})
    assert price_of("claude-sonnet-5-5") is PRICES["claude-sonnet-5-5"]


def test_a_price_table_may_give_cache_and_long_prompt_prices():
    table = parse_prices(
        {
            "m": {
                "input": 3,
                "output": 15,
                "cache_write": 4,
                "cache_read": 0.5,
                "long_prompt": {"above": 200_000, "input": 6, "output": 22.5},
            }
        }
    )
    assert table["m"] == Price(3, 15, 4, 0.5, long_prompt=(200_000, Price(6, 22.5, 7.5, 0.6)))
    assert table["m"].for_prompt(200_001) == Price(6, 22.5, 7.5, 0.6)
    assert (table["m"].most_per_input, table["m"].most_per_output) == (4, 22.5)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([1, 2], "a price table must map model ids to prices"),
        ({"m": 3}, "m: expected"),
        ({"m": {"input": 3}}, "m: missing output; expected"),
        ({"m": {"input": 3, "ouput": 15}}, "m: unknown field ouput; expected"),
        ({"m": {"input": -1, "output": 15}}, "m.input: -1 is not a number of 0 or more"),
        ({"m": {"input": "3", "output": 15}}, "m.input: '3' is not a number of 0 or more"),
        ({"m": {"input": True, "output": 15}}, "m.input: True is not a number"),
        (
            {"m": {"input": 3, "output": 15, "long_prompt": {"input": 6, "output": 22.5}}},
            "m.long_prompt: missing above",
        ),
    ],
)
def test_a_price_table_of_another_shape_says_which_field_is_wrong(data, problem):
    with pytest.raises(ValueError) as raised:
        parse_prices(data)
    assert problem in str(raised.value) and "\n" not in str(raised.value)


def test_a_price_file_is_json_or_toml(tmp_path):
    (tmp_path / "prices.json").write_text('{"my-model": {"input": 1, "output": 2}}')
    (tmp_path / "prices.toml").write_text('["my-model"]\ninput = 1\noutput = 2\n')
    expected = {"my-model": Price(1, 2, 1.25, 0.1)}
    assert (
        read_prices(tmp_path / "prices.json") == expected == read_prices(tmp_path / "prices.toml")
    )


def test_a_price_file_that_cannot_be_read_says_why_and_what_is_expected(tmp_path):
    (tmp_path / "broken.json").write_text('{"my-model": {"input": 1,')
    with pytest.raises(
        ValueError, match=r"broken.json is not valid JSON .*expected \{\"MODEL-ID\""
    ):
        read_prices(tmp_path / "broken.json")
    (tmp_path / "broken.toml").write_text("[my-model\n")
    with pytest.raises(ValueError, match=r"broken.toml is not valid TOML"):
        read_prices(tmp_path / "broken.toml")
    with pytest.raises(ValueError, match=r"cannot read .*missing.json: No such file"):
        read_prices(tmp_path / "missing.json")
