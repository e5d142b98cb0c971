"""Cell output of a turn: the saved bundle and the live view while it runs.

Both draw the turn model (the record's timeline); tests/golden holds the full
renderings of representative turns, these tests the behaviour around them.
"""

from __future__ import annotations

import dataclasses
import html
import json
from pathlib import Path
from typing import Any

import pytest
from golden import label_lists
from golden.scenarios import EVENTS, record_of
from live_frontends import Frontends
from view_feed import ViewFeed

from conjure_kernel.clients.base import ModelResponse, Usage
from conjure_kernel.conversation.labels import call_title
from conjure_kernel.conversation.timeline import Timeline
from conjure_kernel.conversation.transcript import TurnRecord
from conjure_kernel.conversation.turn import ApprovalEntry, Entry, TextEntry, ToolEntry
from conjure_kernel.errors import ModelError
from conjure_kernel.events import (
    ApprovalAnswered,
    ApprovalAsked,
    FileCreated,
    ModelStepFinished,
    Notice,
    ServerToolCallFinished,
    ServerToolCallStarted,
    TextDelta,
    ThinkingDelta,
    ToolCallFinished,
    ToolCallStarted,
    ToolOutput,
    TurnEnded,
    TurnFailed,
    TurnStarted,
    UsageReported,
)
from conjure_kernel.notebook import views
from conjure_kernel.notebook.display import TURN_MIME_TYPE, LiveTurnView, turn_bundle
from conjure_kernel.notebook.magics import ConjureMagics
from conjure_kernel.notebook.secrets import Redactor
from conjure_kernel.notebook.turn_text import entry_plain
from conjure_kernel.notebook.views import TurnView
from conjure_kernel.tools.printed_limits import LIVE_TAIL
from conjure_kernel.tools.values import ToolCall, ToolResult

SCRIPT = "<script>alert('x')</script>"
LS = ToolCall("t1", "bash_tool", {"command": "ls -1", "description": "List the files"})
VIEW = ToolCall("t2", "view", {"path": "page.html"})
LS_RESULT = ToolResult("t1", "a.txt\nexit code: 0", False, 0, 0.5)
VIEW_RESULT = ToolResult("t2", f"     1\t{SCRIPT}", True, None, 0.25)
RENDERINGS = ("text/html", "text/markdown", "text/plain")


def tool_use(call: ToolCall) -> dict[str, Any]:
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}


STEP_1 = ModelResponse(
    {
        "role": "assistant",
        "content": [{"type": "text", "text": "Let me look."}, tool_use(LS), tool_use(VIEW)],
    },
    "tool_use",
    Usage(1000, 20, 0, 500),
)
STEP_2 = ModelResponse(
    {"role": "assistant", "content": [{"type": "text", "text": "The page has a script."}]},
    "end_turn",
    Usage(1200, 30),
)


def turn_events(final_text: str = "The page has a script.") -> list:
    return [
        TurnStarted("what is in the folder?", "local", "claude-test"),
        TextDelta("Let me "),
        TextDelta("look."),
        ModelStepFinished(1, STEP_1),
        UsageReported(STEP_1.usage),
        ToolCallStarted(LS),
        ToolCallStarted(VIEW),
        ToolCallFinished(VIEW, VIEW_RESULT),
        ToolCallFinished(LS, LS_RESULT),
        TextDelta(final_text),
        ModelStepFinished(2, STEP_2),
        UsageReported(STEP_1.usage + STEP_2.usage),
        TurnEnded("end_turn", final_text, STEP_1.usage + STEP_2.usage),
    ]


def make_record(**changes: Any) -> TurnRecord:
    return dataclasses.replace(record_of(turn_events()), **changes)


def every_part(bundle: dict[str, Any]) -> dict[str, str]:
    return {
        mime: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        for mime, value in bundle.items()
    }


def test_the_bundle_holds_the_versioned_record_and_three_fallbacks():
    record = make_record()
    bundle = turn_bundle(record, str)
    assert TURN_MIME_TYPE == "application/vnd.conjure.turn.v1+json"
    assert set(bundle) == {TURN_MIME_TYPE, *RENDERINGS}
    assert bundle[TURN_MIME_TYPE] == record.to_json()
    assert TurnRecord.from_json(bundle[TURN_MIME_TYPE]) == record


def test_tool_calls_appear_in_the_order_the_model_made_them_with_their_status():
    bundle = turn_bundle(make_record(), str)
    ls_title = "bash_tool List the files · exit 0 · 500 ms"
    view_title = "view page.html · error · 250 ms"
    assert bundle["text/plain"] == (
        f"Let me look.\n[{ls_title}]\n[{view_title}]\nThe page has a script.\n"
        "claude-test · local backend · 2,700 in (500 from cache) / 50 out"
    )
    page = bundle["text/html"]
    assert page.index("Let me look.") < page.index(ls_title) < page.index(view_title)
    assert page.index(view_title) < page.index("The page has a script.")
    assert label_lists.of_markdown(bundle["text/markdown"])[:2] == [ls_title, view_title]


def test_a_call_that_never_finished_is_running_live_and_interrupted_once_saved(frontends):
    events = [*turn_events()[:8], TurnFailed(ModelError("the connection dropped"))]
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    for event in events[:-1]:
        tell(event)
    plain = [output.get("text/plain") for output in frontends.notebook()]
    assert "[bash_tool List the files · running…]" in plain
    plain = turn_bundle(record_of(events), str)["text/plain"]
    assert "[bash_tool List the files · interrupted]" in plain
    assert "[view page.html · error · 250 ms]" in plain


def test_a_server_side_call_is_shown_like_a_local_one_and_marked():
    call = ToolCall("srv1", "bash_code_execution", {"command": "ls"})
    events = [
        TurnStarted("list", "anthropic", "m"),
        ServerToolCallStarted(call),
        ServerToolCallFinished(call, ToolResult("srv1", "a.txt", False, 0, 1.0)),
        TurnEnded("end_turn", "", Usage()),
    ]
    bundle = turn_bundle(record_of(events), str)
    title = "bash_code_execution ls · exit 0 · 1.00 s · on the server"
    assert ["title", title] in label_lists.of_html(bundle["text/html"])
    assert title in label_lists.of_markdown(bundle["text/markdown"])
    assert title in label_lists.of_plain(bundle["text/plain"])
    assert 'class="conjure-tool conjure-ok conjure-server"' in bundle["text/html"]


def test_html_escapes_tool_output_inputs_and_answer_text():
    call = ToolCall("t3", "bash_tool", {"command": SCRIPT})
    events = [
        *turn_events(f"It holds {SCRIPT}."),
        ToolCallStarted(call),
        ToolCallFinished(call, LS_RESULT),
    ]
    rendered = turn_bundle(record_of(events), str)["text/html"]
    assert "<script" not in rendered
    assert "&lt;script&gt;alert(" in rendered


def test_html_escapes_notices_files_and_approvals():
    call = ToolCall("t9", "bash_tool", {"command": "rm -rf /"})
    events = [
        TurnStarted("hi", "local", "m"),
        Notice(f"retrying {SCRIPT}", "warning"),
        FileCreated(f"/tmp/{SCRIPT}.txt"),
        ApprovalAsked(call, f"run {SCRIPT}?"),
        ApprovalAnswered(call, False, f"no {SCRIPT}"),
    ]
    rendered = turn_bundle(record_of(events), str)["text/html"]
    assert "<script" not in rendered
    assert rendered.count("&lt;script&gt;") == 4  # the notice, the file, the prompt, the reason


def test_files_in_the_notebook_folder_are_links_and_images_show_inline(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    events = [
        TurnStarted("hi", "anthropic", "m"),
        FileCreated(str(tmp_path / "out" / "<b onclick='x'>.PNG")),
        FileCreated(str(tmp_path / "data (1).csv")),
        FileCreated(str(tmp_path.parent / "outside.png")),
    ]
    bundle = turn_bundle(record_of(events), str)
    rendered = bundle["text/html"]
    encoded = "out/%3Cb%20onclick%3D%27x%27%3E.PNG"
    lines = [
        f"created {tmp_path}/out/<b onclick='x'>.PNG",
        f"created {tmp_path}/data (1).csv",
        f"created {tmp_path.parent}/outside.png",
    ]
    assert "<b " not in rendered
    line = f'<code data-label="file">created {html.escape(str(tmp_path))}/out/&lt;b onclick'
    assert f'<a href="{encoded}">{line}' in rendered
    assert f'<img src="{encoded}" alt="&lt;b onclick=&#x27;x&#x27;&gt;.PNG"' in rendered
    assert '<a href="data%20%281%29.csv">' in rendered
    assert (
        f'<div class="conjure-file"><code data-label="file">{html.escape(lines[2])}</code>'
        in rendered
    )
    assert rendered.count("<img") == 1
    markdown = bundle["text/markdown"]
    assert label_lists.of_markdown(markdown)[:3] == lines
    assert f"![\\<b onclick='x'>.PNG]({encoded})" in markdown
    assert "](data%20%281%29.csv)*" in markdown and "outside.png](" not in markdown
    assert bundle["text/plain"].splitlines()[1] == f"[{lines[1]}]"
    data = bundle[TURN_MIME_TYPE]
    assert [entry["labels"].get("link") for entry in data["timeline"]] == [
        encoded,
        "data%20%281%29.csv",
        None,
    ]


def test_html_escapes_the_error_and_drift_reports():
    record = make_record(
        error={"error": "ModelError", "message": f"bad {SCRIPT}", "hint": f"see {SCRIPT}"},
        drift=[{"tool_use_id": "t1", "name": "bash_tool", "diff": f"-a\n+{SCRIPT}"}],
        replayed=True,
    )
    bundle = turn_bundle(record, str)
    assert "<script" not in bundle["text/html"]
    assert "drift in bash_tool" in bundle["text/html"]
    assert f"ModelError: bad {SCRIPT}" in label_lists.of_markdown(bundle["text/markdown"])
    assert "replayed from the recording" in bundle["text/markdown"]


def test_the_footer_sums_input_tokens_with_the_cache():
    bundle = turn_bundle(make_record(), str)
    footer = "claude-test · local backend · 2,700 in (500 from cache) / 50 out"
    assert f"*{footer}*" in bundle["text/markdown"]
    assert footer in bundle["text/html"]


def test_a_failed_turn_without_steps_still_shows_its_streamed_answer_and_the_error():
    events = [
        TurnStarted("hi", "local", "m"),
        TextDelta("Partial answ"),
        TurnFailed(ModelError("the API is overloaded", hint="try again")),
    ]
    plain = turn_bundle(record_of(events), str)["text/plain"]
    assert plain == (
        "Partial answ\n[ModelError: the API is overloaded]\n[hint: try again]\n"
        "m · local backend · 0 in / 0 out"
    )


def test_a_turn_saved_without_its_steps_renders_exactly_as_with_them():
    """``record = False`` drops the replay data only: every rendering keeps the tool calls."""
    full = turn_bundle(make_record(), str)
    stripped = turn_bundle(make_record(steps=[]), str)
    for mime in RENDERINGS:
        assert stripped[mime] == full[mime], mime
    assert "[bash_tool List the files · exit 0 · 500 ms]" in stripped["text/plain"]
    assert stripped[TURN_MIME_TYPE]["steps"] == []
    assert stripped[TURN_MIME_TYPE]["timeline"] == full[TURN_MIME_TYPE]["timeline"]


SECRET = "hunter2-secret"


def a_turn_with_the_secret_in_every_field() -> TurnRecord:
    call = ToolCall(
        f"id-{SECRET}", f"tool-{SECRET}", {"command": f"echo {SECRET}", "env": {"PW": [SECRET]}}
    )
    thought = {"type": "thinking", "thinking": f"maybe {SECRET}", "signature": "sig"}
    step = ModelResponse(
        {
            "role": "assistant",
            "content": [thought, {"type": "text", "text": f"I see {SECRET}"}, tool_use(call)],
        },
        "tool_use",
        Usage(1, 1),
    )
    events = [
        TurnStarted(f"use {SECRET}", f"backend-{SECRET}", f"model-{SECRET}"),
        ThinkingDelta(f"maybe {SECRET}"),
        TextDelta(f"I see {SECRET}"),
        ModelStepFinished(1, step),
        Notice(f"retrying with {SECRET}"),
        ApprovalAsked(call, f"run with {SECRET}?"),
        ApprovalAnswered(call, True, f"rule {SECRET}"),
        ToolCallStarted(call),
        ToolCallFinished(call, ToolResult(call.id, f"{SECRET}\nexit code: 0", False, 0, 0.5)),
        FileCreated(f"/tmp/{SECRET}.txt", call.id),
        ServerToolCallStarted(ToolCall("srv", "bash_code_execution", {"command": SECRET})),
        TurnFailed(ModelError(f"bad {SECRET}", hint=f"hint {SECRET}")),
    ]
    record = record_of(events)
    record.paths = {"workdir": f"/home/{SECRET}"}
    record.drift = [{"tool_use_id": call.id, "name": call.name, "diff": f"-{SECRET}"}]
    record.skills_changed = [f"skill-{SECRET}"]
    return record


def test_the_redaction_function_is_applied_to_every_part_and_field():
    record = a_turn_with_the_secret_in_every_field()
    assert SECRET in json.dumps(record.to_json())
    bundle = turn_bundle(record, lambda text: text.replace(SECRET, "[secret PW]"))
    for mime, text in every_part(bundle).items():
        assert SECRET not in text, mime
    assert bundle[TURN_MIME_TYPE]["message"] == "use [secret PW]"
    for mime in RENDERINGS:
        assert "[secret PW]" in bundle[mime], mime
    assert SECRET in record.message  # the record itself is left as it was


def test_a_secret_with_json_or_html_special_characters_is_redacted_everywhere(monkeypatch):
    """Redaction must see the text itself, not its JSON- or HTML-escaped form."""
    secret = 'pa"ss&<word>'
    monkeypatch.setenv("DB_PASSWORD", secret)
    record = make_record()
    record.timeline.tools[0].result = ToolResult("t1", f"password={secret}", False, 0, 0.5)
    bundle = turn_bundle(record, Redactor(["DB_PASSWORD"]))
    forms = {secret, json.dumps(secret)[1:-1], html.escape(secret), html.escape(secret, False)}
    leaked = {mime for mime, text in every_part(bundle).items() if any(f in text for f in forms)}
    assert leaked == set()


def test_a_secret_that_looks_like_a_json_number_does_not_break_the_bundle(monkeypatch):
    monkeypatch.setenv("PIN", "2200")
    bundle = turn_bundle(make_record(), Redactor(["PIN"]))
    assert bundle[TURN_MIME_TYPE]["usage"]["input_tokens"] == 2200


def live_events() -> list:
    return [
        TurnStarted("what is in the folder?", "local", "claude-test"),
        TextDelta("Let me "),
        TextDelta("look."),
        ToolCallStarted(LS),
        ToolCallFinished(LS, LS_RESULT),
        ModelStepFinished(1, STEP_1),
        UsageReported(Usage(1, 1)),
        TurnEnded("end_turn", "", Usage(1, 1)),
    ]


def test_the_live_view_is_a_turn_view():
    assert isinstance(LiveTurnView(str), TurnView)


def test_a_view_class_that_is_not_a_turn_view_is_refused_before_the_turn_starts():
    class NotAView:
        def __init__(self, redact: Any) -> None:
            self.redact = redact

    magics = ConjureMagics(shell=None)
    magics.view_class = NotAView
    with pytest.raises(Exception, match="NotAView is not a TurnView"):
        magics.chat("hi")
    assert magics._session is None


def plain_outputs(frontends: Frontends) -> list[str]:
    """The notebook's live outputs that have text (blank areas and the open block have none)."""
    return [output["text/plain"] for output in frontends.notebook() if "text/plain" in output]


def test_each_piece_of_the_live_view_has_an_area_redrawn_alone(frontends, monkeypatch):
    monkeypatch.setattr(views, "REFRESH_SECONDS", 0.0)
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    for event in live_events()[:5]:
        tell(event)
    kinds = [message.kind for message in frontends.messages]
    # the status line; the open text, drawn then redrawn; blanked, and shown finished
    # once the tool call ends it; the tool call's row, then its redraw when it finished,
    # and its new line for a terminal, which shows no redraw.
    assert kinds == [
        "display",
        "display",
        "update",
        "update",
        "display",
        "display",
        "update",
        "display",
    ]
    assert "claude-test · local backend · running…" in frontends.messages[0].bundle["text/html"]
    redrawn = frontends.messages[2].bundle
    assert "<p>Let me look.</p>" in redrawn["text/html"] and "text/plain" not in redrawn
    finished = "[bash_tool List the files · exit 0 · 500 ms]"
    assert plain_outputs(frontends) == [
        "claude-test · local backend · running…",
        "Let me look.\n",
        finished,
        finished,
    ]
    assert frontends.messages[-2].display_id == frontends.messages[-3].display_id
    assert frontends.messages[-1].bundle == {"text/html": "", "text/plain": finished}


def test_a_step_redraws_only_the_status_line_and_usage_and_the_end_nothing(frontends, monkeypatch):
    monkeypatch.setattr(views, "REFRESH_SECONDS", 0.0)
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    for event in live_events()[:5]:
        tell(event)
    before = len(frontends.messages)
    for event in live_events()[5:]:
        tell(event)
    [step] = frontends.messages[before:]
    assert step.kind == "update" and step.display_id == frontends.messages[0].display_id
    assert "so far" in step.bundle["text/plain"]


def test_the_first_streamed_text_shows_at_once_then_redraws_are_throttled(frontends, monkeypatch):
    monkeypatch.setattr(views, "REFRESH_SECONDS", 3600.0)
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    for event in live_events()[:3]:
        tell(event)
    assert "<p>Let me</p>" in frontends.shown_html()
    assert "look." not in frontends.shown_html()  # throttled, not lost:
    tell(live_events()[3])
    assert "Let me look." in plain_outputs(frontends)[1]


@pytest.mark.parametrize(
    "event",
    [
        Notice("retrying"),
        FileCreated("/tmp/out.txt"),
        ApprovalAsked(LS, "run ls?"),
        ServerToolCallStarted(ToolCall("s1", "bash_code_execution", {"command": "ls"})),
    ],
    ids=lambda event: event.type,
)
def test_notices_files_approvals_and_server_calls_show_at_once(frontends, monkeypatch, event):
    monkeypatch.setattr(views, "REFRESH_SECONDS", 3600.0)
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    tell(live_events()[0])
    tell(event)
    assert len(frontends.notebook()) == 2


def shown_last(frontends: Frontends) -> str:
    """The HTML of the last live output a notebook shows (a terminal's line shows none)."""
    return [output["text/html"] for output in frontends.notebook() if output["text/html"]][-1]


def test_a_running_tool_is_open_and_a_finished_one_closed(frontends, monkeypatch):
    monkeypatch.setattr(views, "REFRESH_SECONDS", 0.0)
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    for event in live_events()[:4]:
        tell(event)
    running = shown_last(frontends)
    assert "conjure-running" in running and " open>" in running
    tell(live_events()[4])
    finished = shown_last(frontends)
    assert "conjure-ok" in finished and " open>" not in finished


def test_a_running_command_shows_its_latest_output_until_its_result_replaces_it(
    frontends, monkeypatch
):
    monkeypatch.setattr(views, "REFRESH_SECONDS", 3600.0)
    view = LiveTurnView(lambda text: text.replace("hunter2", "[secret]"))
    tell = ViewFeed(view)
    for event in live_events()[:4]:
        tell(event)
    tell(ToolOutput(LS.id, "building <step 1> hunter2\n"))
    shown = frontends.notebook()[-1]["text/html"]
    assert "conjure-tool-output" in shown and "building &lt;step 1&gt; [secret]" in shown
    tell(ToolOutput(LS.id, "step 2\n"))  # within the throttle: not drawn yet
    assert "step 2" not in frontends.notebook()[-1]["text/html"]
    tell(live_events()[4])
    finished = shown_last(frontends)
    assert "conjure-tool-output" not in finished and "conjure-tool-result" in finished


class Clock:
    """``views.time``, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def test_output_the_throttle_held_back_shows_once_the_turn_waits(frontends, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(views, "time", clock)
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    tell(*live_events()[:4], ToolOutput(LS.id, "step 1\n"), ToolOutput(LS.id, "step 2\n"))
    assert "step 1" in frontends.notebook()[-1]["text/html"]
    assert "step 2" not in frontends.notebook()[-1]["text/html"]
    view.idle()  # within the throttle still
    assert "step 2" not in frontends.notebook()[-1]["text/html"]
    clock.now += 1.0
    view.idle()
    assert "step 1\nstep 2" in frontends.notebook()[-1]["text/html"]


def test_the_timeline_keeps_only_the_end_of_what_a_call_printed_and_never_saves_it():
    timeline = Timeline()
    timeline.add(ToolCallStarted(LS))
    for _ in range(3):
        timeline.add(ToolOutput(LS.id, "x" * LIVE_TAIL))
    assert timeline.add(ToolOutput(LS.id, "end")) == (timeline.tools[0],)
    assert len(timeline.tools[0].printed) == LIVE_TAIL
    assert timeline.tools[0].printed.endswith("end")
    assert "printed" not in json.dumps(timeline.tools[0].to_json())
    timeline.add(ToolCallFinished(LS, LS_RESULT))
    assert timeline.add(ToolOutput(LS.id, "late")) == ()


def test_the_live_view_redacts_what_it_shows(frontends, monkeypatch):
    monkeypatch.setattr(views, "REFRESH_SECONDS", 0.0)
    view = LiveTurnView(lambda text: text.replace("hunter2", "[secret]"))
    tell = ViewFeed(view)
    tell(TurnStarted("hi", "local", "m"))
    tell(TextDelta("the password is hunter2"))
    tell(ToolCallStarted(ToolCall("t1", "bash_tool", {"command": "echo hunter2"})))
    tell(Notice("hunter2 was retried"))
    for message in frontends.messages:
        assert all("hunter2" not in text for text in message.bundle.values())
    shown = frontends.notebook()
    assert "[secret]" in shown[-1]["text/plain"] and "[secret]" in shown[-1]["text/html"]
    assert plain_outputs(frontends)[1] == "the password is [secret]\n"


def thinking_events() -> list:
    return [
        TurnStarted("hi", "local", "m"),
        ThinkingDelta("The password hunter2 "),
        ThinkingDelta("is <old>."),
    ]


def test_thinking_shows_muted_and_open_as_it_streams_and_a_terminal_prints_none_of_it(
    frontends, monkeypatch
):
    monkeypatch.setattr(views, "REFRESH_SECONDS", 0.0)
    view = LiveTurnView(lambda text: text.replace("hunter2", "[secret]"))
    tell = ViewFeed(view)
    for event in thinking_events():
        tell(event)
    streaming = frontends.notebook()[-1]
    assert set(streaming) == {"text/html"}
    assert '<details class="conjure-thinking" style="opacity:' in streaming["text/html"]
    assert ' open><summary data-label="thinking">thinking…</summary>' in streaming["text/html"]
    assert "The password [secret] is &lt;old&gt;." in streaming["text/html"]
    assert frontends.console() == "m · local backend · running…\n"


def test_thinking_folds_to_one_line_once_the_step_goes_on(frontends, monkeypatch):
    monkeypatch.setattr(views, "REFRESH_SECONDS", 0.0)
    view = LiveTurnView(lambda text: text.replace("hunter2", "[secret]"))
    tell = ViewFeed(view)
    for event in [*thinking_events(), TextDelta("Done.\n\n")]:
        tell(event)
    [folded] = [out for out in frontends.notebook() if "conjure-thinking" in out["text/html"]]
    assert folded["text/plain"] == "[thinking · 5 words]"
    assert '<summary data-label="thinking">thinking · 5 words</summary>' in folded["text/html"]
    assert " open" not in folded["text/html"] and "[secret] is &lt;old&gt;." in folded["text/html"]
    assert plain_outputs(frontends)[1:] == ["[thinking · 5 words]", "Done.\n"]
    sent = json.dumps([message.bundle for message in frontends.messages])
    assert "hunter2" not in sent and "password" not in frontends.console()


def test_streamed_thinking_is_redrawn_at_most_every_refresh_and_folds_whole(frontends, monkeypatch):
    monkeypatch.setattr(views, "REFRESH_SECONDS", 3600.0)
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    for event in thinking_events():
        tell(event)
    assert "The password hunter2" in frontends.shown_html()
    assert "&lt;old&gt;" not in frontends.shown_html()  # throttled, not lost:
    tell(ToolCallStarted(LS))
    assert "The password hunter2 is &lt;old&gt;." in frontends.shown_html()


def printed_form(entry: Entry) -> str:
    """What a terminal shows of a saved entry at the latest when it first appears: the
    text, a call or approval by its title (its outcome line follows, see
    test_console_lines.py), a notice or file by its line."""
    if isinstance(entry, TextEntry):
        return " ".join(entry.text.split())
    if isinstance(entry, ToolEntry):
        return call_title(entry.call)
    if isinstance(entry, ApprovalEntry):
        return f"approval for {call_title(entry.call)}"
    return entry_plain(entry)


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_the_live_view_shows_the_turn_as_it_is_saved(frontends, monkeypatch, name):
    """One turn model: a terminal, which keeps each piece as first shown, sees the saved
    turn's text and each of its entries, in order."""
    monkeypatch.setattr(views, "REFRESH_SECONDS", 0.0)
    events = EVENTS[name]()
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    for event in events:
        tell(event)
    view.finish(None)
    printed, at = " ".join(frontends.console().split()), 0
    for entry in record_of(events).timeline.entries:
        at = printed.index(printed_form(entry), at)


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_the_live_view_leaves_the_golden_labels_once_the_turn_finished(frontends, name):
    """The live view's finish shows exactly the labels the saved record carries
    (tests/golden/NAME.labels.json), and a terminal's last line is the footer."""
    events = EVENTS[name]()
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    for event in events:
        tell(event)
    view.finish(record_of(events))
    [left] = frontends.notebook()
    expected = label_lists.of_record(left[TURN_MIME_TYPE])
    golden = Path(label_lists.__file__).with_name(f"{name}.labels.json")
    assert expected == json.loads(golden.read_text(encoding="utf-8"))
    assert label_lists.of_html(left["text/html"]) == expected
    assert frontends.console().splitlines()[-1] == expected[-1][1]


def test_finish_replaces_the_live_view_with_the_saved_bundle(frontends):
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    for event in live_events():
        tell(event)
    record = make_record()
    view.finish(record)
    assert frontends.notebook() == [turn_bundle(record, str)]


def test_a_terminal_gets_a_summary_line_not_the_saved_answer_again(frontends):
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    for event in live_events():
        tell(event)
    view.finish(make_record())
    printed = frontends.console().splitlines()
    assert printed[-1].startswith("claude-test · local backend · 2,700 in")
    assert frontends.console().count("Let me look.") == 1


def test_finish_without_a_record_leaves_the_live_view(frontends):
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    tell(live_events()[0])
    view.finish(None)
    assert [message.kind for message in frontends.messages] == ["display"]
