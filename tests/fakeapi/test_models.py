"""The fake Models API as the SDK reads it: pages both ways, the lifecycle filter, one
model by id, and a 404 for a Messages API request naming a retired model."""

from __future__ import annotations

import anthropic
import pytest

from fakeapi import FakeMessagesAPI


@pytest.fixture
def sdk():
    with FakeMessagesAPI() as api:
        yield anthropic.Anthropic(api_key="test-key", base_url=api.url, max_retries=0)


def test_pages_go_forward_and_back_and_leave_retired_models_out_unless_asked(sdk):
    first = sdk.models.list(limit=2)
    assert [m.id for m in first.data] == ["claude-sonnet-5-5", "claude-opus-5-5"]
    assert first.has_more and first.first_id == "claude-sonnet-5-5"
    assert first.last_id == "claude-opus-5-5"
    assert [m.id for m in first] == [
        "claude-sonnet-5-5",
        "claude-opus-5-5",
        "claude-haiku-5-5",
        "claude-opus-4-5-20251101",
    ]
    back = sdk.models.list(before_id="claude-haiku-5-5", limit=1)
    assert [m.id for m in back.data] == ["claude-opus-5-5"] and back.has_more
    retired = sdk.models.list(lifecycle=["retired"])
    assert [(m.id, m.lifecycle) for m in retired.data] == [
        ("claude-sonnet-4-5-20250929", "retired")
    ]
    assert retired.data[0].retires_at.date().isoformat() == "2026-11-30"


def test_one_model_by_id_with_its_capabilities(sdk):
    model = sdk.models.retrieve("claude-haiku-5-5")
    assert model.max_input_tokens == 1_000_000 and model.line == "haiku"
    assert model.capabilities.thinking.types.adaptive.supported
    assert not model.capabilities.context_management.supported
    with pytest.raises(anthropic.NotFoundError):
        sdk.models.retrieve("claude-nova-1")


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "claude-sonnet-4-5-20250929"])
def test_a_message_to_a_retired_model_is_not_found(sdk, model):
    with pytest.raises(anthropic.NotFoundError) as caught:
        sdk.messages.create(
            model=model, max_tokens=10, messages=[{"role": "user", "content": "Hi"}]
        )
    assert caught.value.body["error"]["message"] == f"model: {model}"
