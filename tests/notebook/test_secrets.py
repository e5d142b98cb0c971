"""The redactor: secret environment values never reach saved output."""

from __future__ import annotations

import pytest

from conjure_kernel.notebook.secrets import ALWAYS_SECRET, Redactor


@pytest.fixture(autouse=True)
def no_real_secrets(monkeypatch):
    for name in ALWAYS_SECRET:
        monkeypatch.delenv(name, raising=False)


def test_the_api_key_is_always_secret(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-123456")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "tok-abcdef")
    redact = Redactor()
    assert redact("key sk-ant-123456, token tok-abcdef") == (
        "key [secret ANTHROPIC_API_KEY], token [secret ANTHROPIC_AUTH_TOKEN]"
    )


def test_named_variables_are_secret_from_construction_or_added_later(monkeypatch):
    monkeypatch.setenv("DB_PASSWORD", "hunter2!")
    monkeypatch.setenv("TOKEN", "abcd-efgh")
    redact = Redactor(["DB_PASSWORD"])
    assert redact("pw=hunter2! t=abcd-efgh") == "pw=[secret DB_PASSWORD] t=abcd-efgh"
    redact.add("TOKEN")
    assert redact("pw=hunter2! t=abcd-efgh") == "pw=[secret DB_PASSWORD] t=[secret TOKEN]"
    assert {"DB_PASSWORD", "TOKEN", *ALWAYS_SECRET} == redact.names


def test_every_occurrence_is_replaced(monkeypatch):
    monkeypatch.setenv("PW", "s3cret")
    assert Redactor(["PW"])("s3cret s3cret,s3cret") == "[secret PW] [secret PW],[secret PW]"


def test_values_are_read_when_redacting_not_when_marked(monkeypatch):
    redact = Redactor(["LATER"])
    assert redact("value-one") == "value-one"
    monkeypatch.setenv("LATER", "value-one")
    assert redact("value-one") == "[secret LATER]"


def test_unset_empty_and_very_short_values_are_left_alone(monkeypatch):
    monkeypatch.setenv("EMPTY", "")
    monkeypatch.setenv("SHORT", "abc")
    redact = Redactor(["EMPTY", "SHORT", "UNSET_FOR_THIS_TEST"])
    assert redact("abc abcd") == "abc abcd"
    monkeypatch.setenv("SHORT", "abcd")
    assert redact("abc abcd") == "abc [secret SHORT]"


def test_a_secret_that_contains_another_is_redacted_whole(monkeypatch):
    """With a prefix redacted first, the rest of the longer secret would leak."""
    monkeypatch.setenv("A_PIN", "4711")
    monkeypatch.setenv("B_PASSWORD", "4711-tail-of-password")
    redacted = Redactor(["A_PIN", "B_PASSWORD"])("pw: 4711-tail-of-password")
    assert "tail-of-password" not in redacted
    assert redacted == "pw: [secret B_PASSWORD]"
