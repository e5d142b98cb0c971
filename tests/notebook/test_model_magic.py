"""``%model`` in a real kernel against the local fake API: the list the Models API gives,
kept for the next look and the next kernel; a typo warned of, a retired model refused;
the built-in list, with one notice, when the API cannot be reached."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fakeapi import FakeMessagesAPI, replies
from kernel_harness import CellResult, RunningKernel


def kernel_for(base_url: str, tmp_path: Path) -> RunningKernel:
    env = {
        "ANTHROPIC_API_KEY": "sk-test-key-123",
        "ANTHROPIC_BASE_URL": base_url,
        "JUPYTER_DATA_DIR": str(tmp_path / "jupyter"),  # the model lists kept on disk
    }
    return RunningKernel("conjure", cwd=tmp_path, env=env)


@pytest.fixture
def kernel(api, tmp_path):
    with kernel_for(api.url, tmp_path) as running:
        yield running


def streams(result: CellResult, name: str) -> str:
    return "".join(
        message["content"]["text"]
        for message in result.messages
        if message["msg_type"] == "stream" and message["content"]["name"] == name
    )


def listings(api: FakeMessagesAPI) -> int:
    return len(api.requests_to("GET", "/v1/models"))


def test_model_alone_lists_the_models_the_api_gives_and_keeps_the_list(api, kernel, tmp_path):
    result = kernel.run("%model")
    assert result.status == "ok", result.error
    lines = streams(result, "stdout").splitlines()
    assert lines[0] == "claude-sonnet-5-5"
    assert lines[1].startswith("models the API lists (as of ")
    assert lines[2].split() == ["id", "context", "$/MTok", "in", "/", "out", "supports"]
    rows = [" ".join(line.split()) for line in lines[3:]]
    assert rows == [
        "* claude-sonnet-5-5 1M $2 / $10 thinking, effort, context editing",
        "claude-opus-5-5 1M $4 / $20 thinking, effort, context editing",
        "claude-haiku-5-5 1M $0.1 / $0.5 thinking, effort",
        "claude-opus-4-5-20251101 200K $5 / $25 thinking, effort, context editing "
        "deprecated, retires 2027-01-22",
    ]
    assert streams(result, "stderr") == ""
    assert kernel.run("%model").text() == result.text()
    assert listings(api) == 1  # the second look asked nothing
    with kernel_for(api.url, tmp_path) as next_kernel:  # nor does a new kernel, within a day
        assert "claude-opus-5-5" in next_kernel.run("%model").text()
    assert listings(api) == 1
    refreshed = kernel.run("%model --refresh")
    assert refreshed.status == "ok" and listings(api) == 2


def test_a_model_the_api_does_not_list_is_set_with_a_one_line_warning(api, kernel):
    typo = kernel.run("%model claude-sonet-5-5")
    assert typo.status == "ok", typo.error
    assert streams(typo, "stdout") == "claude-sonet-5-5\n"
    assert streams(typo, "stderr") == (
        "warning: claude-sonet-5-5 is not among the models the API lists, but is set; "
        "did you mean claude-sonnet-5-5? (%model claude-sonnet-5-5)\n"
    )
    listed = kernel.run("%model claude-opus-5-5")
    assert streams(listed, "stdout") == "claude-opus-5-5\n" and streams(listed, "stderr") == ""
    alias = kernel.run("%model claude-opus-4-5")  # the API lists it with its date
    assert (
        streams(alias, "stderr") == "warning: claude-opus-4-5 is deprecated, retires 2027-01-22\n"
    )
    api.script(replies.text("Hello"))
    assert kernel.run("Hi").status == "ok"
    assert api.requests_to("POST", "/v1/messages")[-1].body["model"] == "claude-opus-4-5"


def test_a_retired_model_is_refused_in_one_line_naming_its_replacement(api, kernel):
    result = kernel.run("%model claude-sonnet-4-5")
    assert result.status == "error"
    assert len(result.reply["content"]["traceback"]) <= 2  # one line, no Python stack
    assert result.error == (
        "UsageError: claude-sonnet-4-5 was retired on 2026-11-30; use claude-sonnet-5-5: "
        "%model claude-sonnet-5-5"
    )
    assert kernel.run("%model").text().splitlines()[0] == "claude-sonnet-5-5"  # unchanged


def test_a_turn_on_a_retired_model_fails_with_the_replacement_and_the_session_goes_on(api, kernel):
    assert kernel.run("%config ConjureMagics.model = 'claude-sonnet-4-5'").status == "ok"
    failed = kernel.run("Hello there")
    assert failed.status == "error"
    traceback = "\n".join(failed.reply["content"]["traceback"])
    assert "404 not_found_error: model: claude-sonnet-4-5" in traceback
    assert "claude-sonnet-4-5 was retired on 2026-11-30; use claude-sonnet-5-5" in traceback
    assert kernel.run("%model claude-sonnet-5-5").status == "ok"
    api.script(replies.text("Hi"))
    assert kernel.run("Hello again").status == "ok"


def test_without_the_api_the_built_in_list_shows_with_one_notice(tmp_path):
    with FakeMessagesAPI() as gone:
        url = gone.url
    with kernel_for(url, tmp_path) as kernel:
        result = kernel.run("%model")
        assert result.status == "ok", result.error
        text = result.text()
        assert re.search(
            r"^models the installed SDK knows \(the API's list could not be read: "
            rf"connection to {re.escape(url)} failed",
            text,
            re.MULTILINE,
        )
        assert text.count("could not be read") == 1
        assert re.search(r"^\* +claude-sonnet-5-5 +1M +\$2 / \$10", text, re.MULTILINE)
        known = kernel.run("%model claude-haiku-5-5")
        assert known.status == "ok" and streams(known, "stderr") == ""
        unknown = kernel.run("%model claude-nova-1")
        assert streams(unknown, "stderr") == (
            "warning: claude-nova-1 is not among the built-in list of models, but is set; "
            "%model lists them\n"
        )
        retired = kernel.run("%model claude-sonnet-4-5-20250929")
        assert retired.error.startswith("UsageError: claude-sonnet-4-5-20250929 was retired on")


def test_a_model_is_set_even_while_the_configured_backend_cannot_be_made(api, tmp_path):
    env = {"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": api.url, "CONJURE_BACKEND": "nope"}
    with RunningKernel(
        "conjure", cwd=tmp_path, env={**env, "JUPYTER_DATA_DIR": str(tmp_path)}
    ) as kernel:
        result = kernel.run("%model claude-haiku-5-5")
        assert result.status == "ok", result.error
        assert streams(result, "stdout") == "claude-haiku-5-5\n" and streams(result, "stderr") == ""
        assert "no session to ask the API from" in kernel.run("%model").text()
        assert kernel.run("Hi").error.startswith("UnknownBackend: ")  # the turn says what is wrong
