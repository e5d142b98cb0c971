"""What ``jupyter console`` prints of a live turn, and what a notebook keeps of the same
messages.

A console prints an output's ``text/plain`` when the output is added and ignores
redraws, so a call's row is printed running, then again in the saved record's words once
it ended; a notebook redraws the row and shows nothing of the console's extra line.
``live_frontends.Frontends`` plays the messages as each kind of frontend does, a view's
here and a real kernel's in the last test; the real console is driven in test_console.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fakeapi import replies
from golden.scenarios import EVENTS, LS, SLOW, VIEW, record_of
from kernel_harness import TURN_MIME
from live_frontends import Frontends
from view_feed import ViewFeed

from conjure_kernel.conversation.transcript import TurnRecord
from conjure_kernel.conversation.turn import TextEntry, ThinkingEntry
from conjure_kernel.events import Event, ToolCallFinished
from conjure_kernel.notebook.display import LiveTurnView, turn_bundle
from conjure_kernel.notebook.turn_text import entry_plain

GOLDEN = Path(__file__).parents[1] / "golden"


def row_lines(record: TurnRecord) -> list[str]:
    """The saved plain lines of the turn's rows: calls, notices, files, approvals."""
    entries = record.timeline.entries
    return [entry_plain(e) for e in entries if not isinstance(e, TextEntry | ThinkingEntry)]


def play(events: list[Event], *, ended: bool = True) -> TurnRecord:
    """Show a turn live, then finish it with its record; with ``ended`` false the view never
    gets the turn's last event, as when Ctrl-C stops the loop that hands events over."""
    record = record_of(events)
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    for event in events if ended else events[:-1]:
        tell(event)
    view.finish(record)
    return record


def test_a_console_prints_each_call_running_then_as_it_ended(frontends: Frontends):
    play(EVENTS["tool_calls"]())
    footer = (GOLDEN / "tool_calls.txt").read_text().splitlines()[-1]
    assert frontends.console().splitlines() == [
        "claude-golden · local backend · running…",
        "Let me look.",
        "",
        "[bash_tool List the files · running…]",
        "[view page.html · running…]",
        "[view page.html · error · 250 ms]",
        "[bash_tool List the files · exit 0 · 500 ms]",
        "The page has a `<script>` tag.",
        "",
        footer,
    ]


def test_a_call_is_printed_as_it_ended_at_once_not_at_the_turns_end(frontends: Frontends):
    events = EVENTS["tool_calls"]()
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    for event in events:
        tell(event)
        if isinstance(event, ToolCallFinished) and event.call == LS:
            break
    assert frontends.console().splitlines()[-1] == "[bash_tool List the files · exit 0 · 500 ms]"
    assert f"[{VIEW.name} page.html · error · 250 ms]" in frontends.console()


@pytest.mark.parametrize("ended", [True, False], ids=["ended", "cut short"])
@pytest.mark.parametrize("name", sorted(EVENTS))
def test_a_console_prints_every_row_in_its_saved_words_once(frontends, name, ended):
    record = play(EVENTS[name](), ended=ended)
    printed = frontends.console().splitlines()
    saved = row_lines(record)
    for line in saved:
        assert printed.count(line) == saved.count(line), f"{line!r} in\n{frontends.console()}"


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_a_console_prints_the_answer_once(frontends, name):
    record = play(EVENTS[name]())
    printed = " ".join(frontends.console().split())
    for entry in record.timeline.entries:
        if isinstance(entry, TextEntry):
            assert printed.count(" ".join(entry.text.split())) == 1, entry.text


def test_an_interrupted_call_is_printed_interrupted_before_the_footer(frontends: Frontends):
    play(EVENTS["interrupted"](), ended=False)
    printed = frontends.console().splitlines()
    interrupted = "[bash_tool sleep 600 && make report · interrupted]"
    assert printed[-2:] == [interrupted, printed[-1]]
    assert printed[-1].startswith("claude-golden · local backend · ")
    assert printed.count(f"[{SLOW.name} sleep 600 && make report · running…]") == 1


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_a_notebook_shows_none_of_the_consoles_lines_and_keeps_the_saved_bundle(frontends, name):
    """Every live output has HTML, so a notebook never falls back to its ``text/plain``;
    the console's lines have none to show, and the turn's end clears them with the rest."""
    record = play(EVENTS[name]())
    kinds = [message.kind for message in frontends.messages]
    live = frontends.messages[: kinds.index("clear")]
    assert all("text/html" in m.bundle for m in live if m.kind == "display")
    assert frontends.notebook() == [turn_bundle(record, str)]


def played(messages: list[dict[str, Any]]) -> Frontends:
    """A real kernel's display messages, kept as ``Frontends`` keeps a view's."""
    frontends = Frontends()
    for message in messages:
        kind, content = message["msg_type"], message["content"]
        if kind in ("display_data", "update_display_data"):
            display_id = content["transient"]["display_id"]
            frontends.display(
                content["data"], raw=True, display_id=display_id, update=kind != "display_data"
            )
        elif kind == "clear_output":
            frontends.clear_output(wait=content["wait"])
    return frontends


def test_a_real_kernel_sends_the_outcome_line_a_console_prints_and_a_notebook_drops(api, kernel):
    api.script(
        replies.tool_use("bash_tool", {"command": "sleep 0.5; echo done"}),
        replies.text("It printed done."),
    )
    result = kernel.run("Run it")
    assert result.status == "ok", result.error
    frontends = played(result.messages)
    printed = frontends.console().splitlines()
    [outcome] = [
        line for line in printed if line.startswith("[bash_tool sleep 0.5; echo done · exit 0 · ")
    ]
    assert printed.index("[bash_tool sleep 0.5; echo done · running…]") < printed.index(outcome)
    assert printed.count("It printed done.") == 1
    [saved] = frontends.notebook()
    assert TURN_MIME in saved
    assert f"{outcome}\nIt printed done." in saved["text/plain"]
