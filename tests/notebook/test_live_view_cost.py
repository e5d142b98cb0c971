"""What the live view costs grows with the answer, not with its square.

Counted, never timed: the bytes of the display messages a turn sends, and the Markdown
renders it makes. benchmarks/stream_view.py measures CPU time and iopub bytes in a real
kernel next to the bare SDK.
"""

from __future__ import annotations

import re

import pytest
from golden.scenarios import record_of
from live_frontends import answer_of
from view_feed import ViewFeed

from conjure_kernel.clients.base import Usage
from conjure_kernel.events import (
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    TurnEnded,
    TurnStarted,
)
from conjure_kernel.notebook import turn_html, views
from conjure_kernel.notebook.display import LiveTurnView
from conjure_kernel.tools.values import ToolCall, ToolResult


def pieces_of(answer: str, size: int) -> list[str]:
    return [answer[i : i + size] for i in range(0, len(answer), size)]


def words_of(answer: str) -> list[str]:
    """One piece per word, as the API streams."""
    return re.findall(r"\s*\S+\s*", answer)


def turn_events(answer: str, pieces: list[str]) -> list:
    """A turn with a tool call, then ``answer`` streamed in ``pieces``."""
    call = ToolCall("t1", "bash_tool", {"command": "ls"})
    deltas = [TextDelta(piece) for piece in pieces]
    return [
        TurnStarted("write", "local", "claude-test"),
        ToolCallStarted(call),
        ToolCallFinished(call, ToolResult("t1", "notes.txt", False, 0, 0.1)),
        *deltas,
        TurnEnded("end_turn", answer, Usage(10, 10)),
    ]


def run_turn(events: list) -> None:
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    for event in events:
        tell(event)
    view.finish(record_of(events))


@pytest.fixture
def every_redraw(monkeypatch) -> None:
    """No throttle: the open block is redrawn at every delta, the worst case."""
    monkeypatch.setattr(views, "REFRESH_SECONDS", 0.0)


def sent_for(paragraphs: int, frontends) -> int:
    before = frontends.sent_bytes
    answer = answer_of(paragraphs)
    run_turn(turn_events(answer, pieces_of(answer, 7)))
    return frontends.sent_bytes - before


@pytest.mark.usefixtures("every_redraw")
def test_the_bytes_a_turn_sends_grow_in_proportion_to_its_answer(frontends):
    small, large = sent_for(40, frontends), sent_for(80, frontends)
    assert large <= 2.2 * small, (small, large)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def test_at_a_realistic_pace_the_live_view_sends_about_twice_the_saved_bundle(
    frontends, monkeypatch
):
    """50 words a second, one word per delta (the old view resent all it showed
    every 0.15 s)."""
    clock = Clock()
    monkeypatch.setattr(views, "time", clock)
    answer = answer_of(60)
    events = turn_events(answer, words_of(answer))
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    for event in events:
        clock.now += 0.02
        tell(event)
    view.finish(record_of(events))
    saved = frontends.messages[-1].size
    assert frontends.sent_bytes - saved < 2.5 * saved


@pytest.fixture
def renders(monkeypatch) -> list[str]:
    """The Markdown texts rendered, in order."""
    rendered: list[str] = []
    markdown = turn_html._markdown

    def counting(text: str) -> str:
        rendered.append(text)
        return markdown(text)

    monkeypatch.setattr(turn_html, "_markdown", counting)
    return rendered


@pytest.mark.parametrize("piece", [1, 7, 40])
def test_markdown_of_each_finished_block_is_rendered_once(monkeypatch, frontends, renders, piece):
    monkeypatch.setattr(views, "REFRESH_SECONDS", 3600.0)  # the open block: its first text only
    answer = answer_of(30)
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    for event in turn_events(answer, pieces_of(answer, piece)):
        tell(event)
    view.finish(None)
    blocks = answer_blocks(answer)
    finished = [text for text in renders if text in blocks]
    assert finished == blocks
    assert len(renders) <= 2 * len(blocks)  # each block's first words, then the block


def answer_blocks(answer: str) -> list[str]:
    """The blocks the answer is shown in: its paragraphs, a code block whole."""
    blocks = views.MarkdownBlocks()
    return [*blocks.feed(answer), blocks.close()]
