"""``%backend`` settings and ``%model``/``%config`` in a real conjure kernel, as a user types them."""

from __future__ import annotations

import pytest
from fakeapi import FakeMessagesAPI, replies
from kernel_harness import RunningKernel


@pytest.fixture(scope="module")
def api():
    with FakeMessagesAPI() as server:
        yield server


@pytest.fixture(scope="module")
def kernel(api, tmp_path_factory):
    env = {"ANTHROPIC_API_KEY": "sk-test-key-123", "ANTHROPIC_BASE_URL": api.url}
    with RunningKernel("conjure", cwd=tmp_path_factory.mktemp("work"), env=env) as running:
        yield running


def one_line_error(result) -> str:
    """The error a cell ended with, which must fit on one line of the traceback."""
    assert result.status == "error"
    traceback = result.reply["content"]["traceback"]
    assert len(traceback) <= 2, traceback
    return result.error


def test_backend_help_lists_each_setting_with_type_and_default(kernel):
    result = kernel.run("%backend local --help")
    assert result.status == "ok", result.error
    text = result.text()
    assert text.startswith("local: Runs tools on the host")
    assert "settings (%backend local key=value ...):" in text
    assert "  timeout=number (default 300.0)  seconds before one tool call is killed" in text
    assert "  workdir=text  folder the tools work in" in text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("%backend local timeout=abc", "timeout=abc: expected a finite number"),
        ("%backend local timeout=nan", "timeout=nan: expected a finite number"),
        ("%backend local timeout=-5", "timeout=-5: expected a number greater than 0"),
        (
            "%backend local timout=5",
            "unknown setting 'timout' for backend 'local'; accepted settings: workdir, timeout",
        ),
        ("%backend local timeout", "backend settings are key=value pairs, got 'timeout'"),
        ("%backend nope", "unknown backend 'nope'; available backends:"),
    ],
)
def test_a_bad_backend_setting_is_one_readable_line_and_changes_nothing(kernel, line, expected):
    before = kernel.run("%backend").text()
    error = one_line_error(kernel.run(line))
    assert error.startswith("UsageError: ") and expected in error
    assert kernel.run("%backend").text() == before


def test_good_settings_switch_and_show_in_backend(kernel, tmp_path):
    result = kernel.run(f"%backend local workdir={tmp_path} timeout=60")
    assert result.status == "ok", result.error
    assert result.text().strip() == f"local: bash on this machine in {tmp_path} (timeout=60 s)"


def test_config_model_mid_session_applies_to_the_next_turn(api, kernel):
    api.script(replies.text("one"), replies.text("two"))
    assert kernel.run("First message").status == "ok"
    assert kernel.run("%config ConjureMagics.model = 'claude-haiku-5-5'").status == "ok"
    second = kernel.run("Second message")
    assert second.status == "ok", second.error
    assert [request.body["model"] for request in api.requests[-2:]] == [
        "claude-sonnet-5-5",
        "claude-haiku-5-5",
    ]
    assert second.turn()["model"] == "claude-haiku-5-5"
    assert kernel.run("%model").text().strip() == "claude-haiku-5-5"


@pytest.mark.parametrize("line", ["%model ''", '%model "   "'])
def test_an_empty_model_name_is_refused(kernel, line):
    before = kernel.run("%model").text()
    error = one_line_error(kernel.run(line))
    assert error == "UsageError: a model id cannot be empty; e.g. %model claude-sonnet-5-5"
    assert kernel.run("%model").text() == before
