"""Cell output of a turn: the saved bundle and the live view while it runs."""

from __future__ import annotations

import html
import json
from typing import Any

import pytest

from conjure_kernel.clients.base import ModelResponse, Usage
from conjure_kernel.conversation.transcript import TurnRecord
from conjure_kernel.events import (
    ModelStepFinished,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    TurnEnded,
    TurnStarted,
    UsageReported,
)
from conjure_kernel.notebook import display
from conjure_kernel.notebook.display import TURN_MIME_TYPE, LiveTurnView, turn_bundle
from conjure_kernel.notebook.secrets import Redactor
from conjure_kernel.tools.values import ToolCall, ToolResult

SCRIPT = "<script>alert('x')</script>"
LS = ToolCall("t1", "bash_tool", {"command": "ls -1", "description": "List the files"})
VIEW = ToolCall("t2", "view", {"path": "page.html"})
LS_RESULT = ToolResult("t1", "a.txt\nexit code: 0", False, 0, 0.5)
VIEW_RESULT = ToolResult("t2", f"     1\t{SCRIPT}", True, None, 0.25)


def tool_use(call: ToolCall) -> dict[str, Any]:
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}


def make_record(**changes: Any) -> TurnRecord:
    steps = [
        ModelResponse(
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me look."},
                    tool_use(LS),
                    tool_use(VIEW),
                ],
            },
            "tool_use",
            Usage(1000, 20, 0, 500),
        ),
        ModelResponse(
            {"role": "assistant", "content": [{"type": "text", "text": "The page has a script."}]},
            "end_turn",
            Usage(1200, 30),
        ),
    ]
    record = TurnRecord(
        "what is in the folder?",
        "local",
        "claude-test",
        steps=steps,
        tool_calls=[(VIEW, VIEW_RESULT), (LS, LS_RESULT)],
        answer="Let me look.The page has a script.",
        stop_reason="end_turn",
        usage=Usage(2200, 50, 0, 500),
    )
    for name, value in changes.items():
        setattr(record, name, value)
    return record


def every_part(bundle: dict[str, Any]) -> dict[str, str]:
    return {
        mime: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        for mime, value in bundle.items()
    }


def test_the_bundle_holds_the_versioned_record_and_three_fallbacks():
    record = make_record()
    bundle = turn_bundle(record, str)
    assert TURN_MIME_TYPE == "application/vnd.conjure.turn.v1+json"
    assert set(bundle) == {TURN_MIME_TYPE, "text/markdown", "text/html", "text/plain"}
    assert bundle[TURN_MIME_TYPE] == record.to_json()
    assert TurnRecord.from_json(bundle[TURN_MIME_TYPE]) == record


def test_tool_calls_appear_in_the_order_the_model_made_them_with_their_status():
    bundle = turn_bundle(make_record(), str)
    ls_title = "bash_tool List the files · exit 0 · 0.50 s"
    view_title = "view page.html · error · 0.25 s"
    assert bundle["text/plain"] == (
        f"Let me look.\n[{ls_title}]\n[{view_title}]\nThe page has a script."
    )
    for mime in ("text/markdown", "text/html"):
        text = bundle[mime]
        assert text.index("Let me look.") < text.index(ls_title) < text.index(view_title)
        assert text.index(view_title) < text.index("The page has a script.")


def test_a_tool_without_exit_code_or_error_shows_ok_and_a_missing_result_running():
    record = make_record(tool_calls=[(VIEW, ToolResult("t2", "fine", duration=0.1))])
    plain = turn_bundle(record, str)["text/plain"]
    assert "[view page.html · ok · 0.10 s]" in plain
    assert "[bash_tool List the files · running…]" in plain


def test_html_escapes_tool_output_inputs_and_answer_text():
    record = make_record()
    record.steps[1].message["content"][0]["text"] = f"It holds {SCRIPT}."
    record.tool_calls.append((ToolCall("t3", "bash_tool", {"command": SCRIPT}), LS_RESULT))
    rendered = turn_bundle(record, str)["text/html"]
    assert "<script" not in rendered
    assert "&lt;script&gt;alert(" in rendered


def test_html_escapes_the_error_and_drift_reports():
    record = make_record(
        error={"error": "ModelError", "message": f"bad {SCRIPT}", "hint": ""},
        drift=[{"tool_use_id": "t1", "name": "bash_tool", "diff": f"-a\n+{SCRIPT}"}],
        replayed=True,
    )
    bundle = turn_bundle(record, str)
    assert "<script" not in bundle["text/html"]
    assert "drift in bash_tool" in bundle["text/html"]
    assert "**ModelError**: bad" in bundle["text/markdown"]
    assert "replayed from the recording" in bundle["text/markdown"]


def test_the_footer_sums_input_tokens_with_the_cache():
    bundle = turn_bundle(make_record(), str)
    footer = "claude-test · local backend · 2,700 in (500 from cache) / 50 out"
    assert f"*{footer}*" in bundle["text/markdown"]
    assert footer in bundle["text/html"]


def test_a_failed_turn_without_steps_still_shows_its_streamed_answer():
    record = make_record(steps=[], tool_calls=[], answer="Partial answ", stop_reason=None)
    assert turn_bundle(record, str)["text/plain"] == "Partial answ"


def test_the_redaction_function_is_applied_to_every_part():
    record = make_record()
    record.steps[1].message["content"][0]["text"] = "The key is hunter2."
    record.tool_calls[1] = (LS, ToolResult("t1", "hunter2\nexit code: 0", False, 0, 0.5))
    record.message = "use hunter2"
    record.answer = "The key is hunter2."
    bundle = turn_bundle(record, lambda text: text.replace("hunter2", "[secret PW]"))
    for mime, text in every_part(bundle).items():
        assert "hunter2" not in text, mime
    assert bundle[TURN_MIME_TYPE]["message"] == "use [secret PW]"
    assert "[secret PW]" in bundle["text/html"] and "[secret PW]" in bundle["text/markdown"]


def test_a_secret_with_json_or_html_special_characters_is_redacted_everywhere(monkeypatch):
    """Redaction must see the text itself, not its JSON- or HTML-escaped form."""
    secret = 'pa"ss&<word>'
    monkeypatch.setenv("DB_PASSWORD", secret)
    record = make_record()
    record.tool_calls[1] = (LS, ToolResult("t1", f"password={secret}", False, 0, 0.5))
    bundle = turn_bundle(record, Redactor(["DB_PASSWORD"]))
    forms = {secret, json.dumps(secret)[1:-1], html.escape(secret), html.escape(secret, False)}
    leaked = {mime for mime, text in every_part(bundle).items() if any(f in text for f in forms)}
    assert leaked == set()


def test_a_secret_that_looks_like_a_json_number_does_not_break_the_bundle(monkeypatch):
    monkeypatch.setenv("PIN", "2200")
    bundle = turn_bundle(make_record(), Redactor(["PIN"]))
    assert bundle[TURN_MIME_TYPE]["usage"]["input_tokens"] == 2200


class FakeHandle:
    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def update(self, bundle: dict[str, Any], **kwargs: Any) -> None:
        assert kwargs == {"raw": True}
        self.updates.append(bundle)


class FakeDisplay:
    """Stands in for IPython's ``display``: keeps the first bundle and every update."""

    def __init__(self) -> None:
        self.displayed: list[dict[str, Any]] = []
        self.handle = FakeHandle()

    def __call__(self, bundle: dict[str, Any], **kwargs: Any) -> FakeHandle:
        assert kwargs == {"raw": True, "display_id": True}
        self.displayed.append(bundle)
        return self.handle

    @property
    def shown(self) -> list[dict[str, Any]]:
        return self.displayed + self.handle.updates


@pytest.fixture
def screen(monkeypatch) -> FakeDisplay:
    fake = FakeDisplay()
    monkeypatch.setattr(display, "display", fake)
    return fake


def live_events() -> list:
    return [
        TurnStarted("what is in the folder?", "local", "claude-test"),
        TextDelta("Let me "),
        TextDelta("look."),
        ToolCallStarted(LS),
        ToolCallFinished(LS, LS_RESULT),
        ModelStepFinished(1, make_record().steps[0]),
        UsageReported(Usage(1, 1)),
        TurnEnded("end_turn", "", Usage(1, 1)),
    ]


def test_the_live_view_displays_once_then_updates_the_same_area(screen, monkeypatch):
    monkeypatch.setattr(display, "_REFRESH_SECONDS", 0.0)
    view = LiveTurnView(str)
    for event in live_events()[:5]:
        view.update(event)
    assert len(screen.displayed) == 1
    assert len(screen.shown) == 5
    assert "claude-test · local backend · running…" in screen.shown[0]["text/html"]
    assert screen.shown[2]["text/plain"] == "Let me look."
    assert screen.shown[3]["text/plain"] == "Let me look.\n[bash_tool List the files · running…]"
    assert (
        screen.shown[4]["text/plain"]
        == "Let me look.\n[bash_tool List the files · exit 0 · 0.50 s]"
    )
    assert set(screen.shown[4]) == {"text/html", "text/plain"}


def test_steps_usage_and_the_end_do_not_redraw_the_live_view(screen, monkeypatch):
    monkeypatch.setattr(display, "_REFRESH_SECONDS", 0.0)
    view = LiveTurnView(str)
    for event in live_events():
        view.update(event)
    assert len(screen.shown) == 5


def test_streamed_text_is_throttled_but_never_lost(screen, monkeypatch):
    monkeypatch.setattr(display, "_REFRESH_SECONDS", 3600.0)
    view = LiveTurnView(str)
    for event in live_events()[:3]:
        view.update(event)
    assert len(screen.shown) == 1
    view.update(live_events()[3])
    assert len(screen.shown) == 2
    assert screen.shown[1]["text/plain"].startswith("Let me look.\n")


def test_a_running_tool_is_open_and_a_finished_one_closed(screen, monkeypatch):
    monkeypatch.setattr(display, "_REFRESH_SECONDS", 0.0)
    view = LiveTurnView(str)
    for event in live_events()[:5]:
        view.update(event)
    assert (
        "conjure-running" in screen.shown[3]["text/html"]
        and " open>" in screen.shown[3]["text/html"]
    )
    assert (
        "conjure-ok" in screen.shown[4]["text/html"]
        and " open>" not in screen.shown[4]["text/html"]
    )


def test_the_live_view_redacts_what_it_shows(screen, monkeypatch):
    monkeypatch.setattr(display, "_REFRESH_SECONDS", 0.0)
    view = LiveTurnView(lambda text: text.replace("hunter2", "[secret]"))
    view.update(TurnStarted("hi", "local", "m"))
    view.update(TextDelta("the password is hunter2"))
    view.update(ToolCallStarted(ToolCall("t1", "bash_tool", {"command": "echo hunter2"})))
    for bundle in screen.shown:
        assert all("hunter2" not in text for text in bundle.values())
    assert (
        "[secret]" in screen.shown[-1]["text/plain"] and "[secret]" in screen.shown[-1]["text/html"]
    )


def test_finish_replaces_the_live_view_with_the_saved_bundle(screen):
    view = LiveTurnView(str)
    view.update(live_events()[0])
    record = make_record()
    view.finish(record)
    assert len(screen.displayed) == 1
    assert screen.shown[-1] == turn_bundle(record, str)


def test_finish_without_a_record_leaves_the_live_view(screen):
    view = LiveTurnView(str)
    view.update(live_events()[0])
    view.finish(None)
    assert len(screen.shown) == 1
