"""The model catalog against the local fake API: the real SDK pages through ``GET
/v1/models``; the list is kept in memory and on disk; without the API the built-in list
stands in; a request to a retired model fails with a line naming its replacement."""

from __future__ import annotations

import asyncio

import pytest
from fakeapi import FakeMessagesAPI, replies
from fakeapi.models import model_info

from conjure_kernel.clients.anthropic_client import AnthropicClient
from conjure_kernel.clients.base import ModelRequest
from conjure_kernel.clients.model_cache import ModelListCache
from conjure_kernel.clients.model_facts import BUILT_IN_FACTS, RETIRED, built_in_ids
from conjure_kernel.clients.models import (
    CACHE_TTL,
    RETRY_AFTER_FAILURE,
    Catalog,
    ModelCatalog,
    built_in_catalog,
    describe_catalog,
)
from conjure_kernel.errors import ModelError


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch, tmp_path):
    """Keep the developer's key, base URL, profiles and model lists out of every test."""
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))


@pytest.fixture
def api():
    with FakeMessagesAPI() as server:
        yield server


class Clock:
    """Seconds that move only when a test moves them."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def catalog_of(client: AnthropicClient, catalog: ModelCatalog, **options) -> Catalog:
    return asyncio.run(catalog.get(client, **options))


def listings(api: FakeMessagesAPI) -> int:
    return len(api.requests_to("GET", "/v1/models"))


def test_the_catalog_is_every_page_the_models_api_lists(api, tmp_path):
    api.models.page_limit = 2
    unknown = {**model_info("claude-nova-1", "Claude Nova 1", context=None), "capabilities": None}
    api.models.models.insert(0, unknown)
    client = AnthropicClient(api_key="test-key", base_url=api.url)
    catalog = catalog_of(client, ModelCatalog(ModelListCache(tmp_path / "models.json")))
    assert catalog.from_api and listings(api) == 3  # six models, two to a page
    assert api.requests_to("GET", "/v1/models")[0].query.get("limit") == "100"
    assert [model.id for model in catalog.usable] == [
        "claude-nova-1",
        "claude-sonnet-5-5",
        "claude-opus-5-5",
        "claude-haiku-5-5",
        "claude-opus-4-5-20251101",
    ]
    table = describe_catalog(catalog, "claude-sonnet-5-5")
    assert table[0].startswith("models the API lists (as of ")
    rows = {row.lstrip("* ").split()[0]: " ".join(row.split()) for row in table[2:7]}
    assert rows == {
        "claude-nova-1": "claude-nova-1 unknown unpriced thinking?, effort?, context editing?",
        "claude-sonnet-5-5": "* claude-sonnet-5-5 1M $2 / $10 thinking, effort, context editing",
        "claude-opus-5-5": "claude-opus-5-5 1M $4 / $20 thinking, effort, context editing",
        "claude-haiku-5-5": "claude-haiku-5-5 1M $0.1 / $0.5 thinking, effort",  # no editing
        "claude-opus-4-5-20251101": "claude-opus-4-5-20251101 200K $5 / $25 thinking, effort, "
        "context editing deprecated, retires 2027-01-22",
    }
    assert table[7:] == ["?: not known without the API's list"]
    assert "claude-sonnet-4-5" not in "\n".join(table)  # retired: known, but not offered
    assert catalog.find("claude-opus-4-5").id == "claude-opus-4-5-20251101"  # the alias


def test_a_second_look_asks_the_server_nothing_until_the_list_is_a_day_old(api, tmp_path):
    client = AnthropicClient(api_key="test-key", base_url=api.url)
    cache, clock = ModelListCache(tmp_path / "models.json"), Clock()
    first = ModelCatalog(cache, clock=clock)
    assert catalog_of(client, first).from_api and listings(api) == 1
    assert catalog_of(client, first) is catalog_of(client, first)  # this kernel's memory
    another_kernel = ModelCatalog(cache, clock=clock)
    assert catalog_of(client, another_kernel).from_api  # from the disk
    assert listings(api) == 1
    clock.now += CACHE_TTL + 1
    assert catalog_of(client, another_kernel).from_api and listings(api) == 2
    catalog_of(client, another_kernel, refresh=True)
    assert listings(api) == 3


def test_a_listed_model_is_known_to_turns_once_listed_and_nothing_is_asked(api, tmp_path):
    api.models.models.append(model_info("claude-small-1", "Claude Small 1", context=20_000))
    client = AnthropicClient(api_key="test-key", base_url=api.url)
    catalog = ModelCatalog(ModelListCache(tmp_path / "models.json"))
    assert catalog.known("claude-small-1") is None  # nothing is fetched for a turn
    catalog_of(client, catalog)
    found = catalog.known("claude-small-1")
    assert found is not None and found.context_window == 20_000
    assert listings(api) == 1


def test_lists_are_kept_apart_by_base_url_and_old_ones_are_dropped(api, tmp_path):
    cache = ModelListCache(tmp_path / "models.json")
    with FakeMessagesAPI() as other:
        other.models.models = [model_info("claude-elsewhere-1", "Claude Elsewhere 1")]
        catalog_of(AnthropicClient(api_key="k", base_url=other.url), ModelCatalog(cache))
        old = cache.read(other.url)
        assert old is not None and old.models[0]["id"] == "claude-elsewhere-1"
        clock = Clock()
        clock.now = old.fetched_at + CACHE_TTL + 1
        here = catalog_of(
            AnthropicClient(api_key="k", base_url=api.url), ModelCatalog(cache, clock=clock)
        )
        assert "claude-elsewhere-1" not in [model.id for model in here.usable]
        assert cache.read(api.url) is not None
        assert cache.read(other.url) is None  # older than a day when the file was written


def test_when_the_api_fails_the_built_in_list_stands_in_and_it_is_asked_again_later(api, tmp_path):
    api.fail("GET", "/v1/models", replies.error(503, "overloaded_error", "Overloaded"))
    client = AnthropicClient(api_key="test-key", base_url=api.url)
    clock = Clock()
    catalog = ModelCatalog(ModelListCache(tmp_path / "models.json"), clock=clock)
    fallback = catalog_of(client, catalog)
    assert not fallback.from_api and listings(api) == 1  # one try: no retries
    assert fallback.notice.startswith(
        "the API's list could not be read: the Models API answered 503"
    )
    assert catalog_of(client, catalog) is fallback and listings(api) == 1
    clock.now += RETRY_AFTER_FAILURE + 1
    assert catalog_of(client, catalog).from_api and listings(api) == 2


def test_with_the_server_down_the_listing_says_so_in_one_notice(tmp_path):
    with FakeMessagesAPI() as gone:
        url = gone.url
    client = AnthropicClient(api_key="test-key", base_url=url)
    catalog = catalog_of(client, ModelCatalog(ModelListCache(tmp_path / "models.json")))
    assert not catalog.from_api
    lines = describe_catalog(catalog, "claude-sonnet-5-5")
    assert lines[0].startswith(
        f"models the installed SDK knows (the API's list could not be read: connection to {url} failed"
    )
    assert sum("could not be read" in line for line in lines) == 1
    assert any(line.startswith("*") and "claude-sonnet-5-5" in line for line in lines)
    assert not (tmp_path / "models.json").exists()  # nothing to keep


def test_without_a_key_the_built_in_list_is_used_and_nothing_is_sent(api, tmp_path):
    catalog = catalog_of(
        AnthropicClient(base_url=api.url), ModelCatalog(ModelListCache(tmp_path / "m.json"))
    )
    assert catalog.notice == "no API key is set, so the API was not asked"
    assert api.requests == []
    assert catalog.find("claude-sonnet-5-5") is not None
    assert catalog.retirement("claude-sonnet-4-5-20250929").describe("claude-sonnet-4-5") == (
        "claude-sonnet-4-5 was retired on 2026-11-30; use claude-sonnet-5-5 instead"
    )


def request_to(model: str) -> ModelRequest:
    return ModelRequest(model, "", [{"role": "user", "content": "Hi"}], (), 100, None, {})


def stream_error(client: AnthropicClient, model: str) -> ModelError:
    async def run() -> None:
        async for _ in client.stream(request_to(model)):
            pass

    with pytest.raises(ModelError) as caught:
        asyncio.run(run())
    return caught.value


def test_a_request_to_a_retired_model_names_the_replacement(api):
    client = AnthropicClient(api_key="test-key", base_url=api.url, max_retries=0)
    error = stream_error(client, "claude-sonnet-4-5")
    assert str(error).startswith(
        "the Messages API answered 404 not_found_error: model: claude-sonnet-4-5"
    )
    assert (
        error.hint == "claude-sonnet-4-5 was retired on 2026-11-30; use claude-sonnet-5-5 instead"
    )
    assert api.requests_to("GET", "/v1/models") == []  # known without asking
    api.fail("POST", "/v1/messages", replies.error(404, "not_found_error", "model: claude-sonet-5"))
    typo = stream_error(client, "claude-sonet-5")
    assert typo.hint.startswith("check the model name 'claude-sonet-5' and the base URL")


def test_a_model_the_api_listed_as_retired_is_named_with_the_newest_of_its_line(api):
    api.models.models = [
        model_info("claude-nova-2", "Claude Nova 2", line="nova"),
        model_info(
            "claude-nova-1", "Claude Nova 1", line="nova", lifecycle="retired", retires="2026-12-01"
        ),
    ]
    client = AnthropicClient(api_key="test-key", base_url=api.url, max_retries=0)
    before = stream_error(client, "claude-nova-1")
    assert before.hint.startswith("check the model name 'claude-nova-1'")  # nothing known yet
    catalog_of(client, ModelCatalog())  # the list is kept on disk, as a kernel keeps it
    after = stream_error(client, "claude-nova-1")
    assert after.hint == "claude-nova-1 was retired on 2026-12-01; use claude-nova-2 instead"


def test_the_api_saying_a_model_is_served_wins_over_the_built_in_retirement(api, tmp_path):
    api.models.models = [model_info("claude-sonnet-4-5", "Claude Sonnet 4.5", line="sonnet")]
    client = AnthropicClient(api_key="test-key", base_url=api.url)
    catalog = catalog_of(client, ModelCatalog(ModelListCache(tmp_path / "models.json")))
    assert catalog.retirement("claude-sonnet-4-5") is None
    assert built_in_catalog().retirement("claude-sonnet-4-5") is not None


def test_a_typo_is_near_one_listed_model():
    catalog = built_in_catalog()
    assert catalog.close_to("claude-sonet-5-5") == "claude-sonnet-5-5"
    assert catalog.close_to("gpt-4") is None
    assert catalog.find("claude-haiku-4-5-20251001").id == "claude-haiku-4-5"
    assert catalog.find("claude-sonnet-5-5[1m]").id == "claude-sonnet-5-5"


def test_the_built_in_tables_name_only_models_the_sdk_knows_or_retired_ones():
    known = set(built_in_ids())
    assert set(BUILT_IN_FACTS) <= known
    assert not known & set(RETIRED)
    assert {retired.replacement for retired in RETIRED.values()} <= known
