"""The display areas a live view draws in, and the cutting of streamed Markdown into blocks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conjure_kernel.notebook import views
from conjure_kernel.notebook.views import (
    DisplayArea,
    LiveOutputs,
    MarkdownBlocks,
    StreamedMarkdown,
)

TEXT = (
    "# Title\n\nA paragraph\nover two lines.\n\n\n\n- one\n- two\n\n"
    "```python\nx = 1\n\ny = 2\n```\n\n~~~~\n~~~\n\n~~~~\n\n| a | b |\n|---|---|\n\nLast"
)
BLOCKS = [
    "# Title",
    "A paragraph\nover two lines.",
    "- one\n- two",
    "```python\nx = 1\n\ny = 2\n```",
    "~~~~\n~~~\n\n~~~~",  # a fence closes only with one at least as long
    "| a | b |\n|---|---|",
]


def cut(pieces: list[str]) -> list[str]:
    blocks = MarkdownBlocks()
    found = [block for piece in pieces for block in blocks.feed(piece)]
    return [*found, blocks.close()]


@pytest.mark.parametrize("size", [1, 3, 7, len(TEXT)], ids=lambda size: f"{size}-char pieces")
def test_markdown_is_cut_at_blank_lines_outside_code_however_it_is_streamed(size):
    pieces = [TEXT[i : i + size] for i in range(0, len(TEXT), size)]
    assert cut(pieces) == [*BLOCKS, "Last"]


def test_only_the_open_block_is_kept_and_blank_text_makes_no_block():
    blocks = MarkdownBlocks()
    assert blocks.feed("one\n\ntwo ") == ["one"]
    assert blocks.open == "two "
    assert blocks.feed("\n\n  \n\n") == ["two "]
    assert blocks.close() == ""


def test_a_redraw_that_changes_nothing_is_not_sent(frontends):
    area = DisplayArea({"text/plain": "a"})
    area.show({"text/plain": "a"})
    area.show({"text/plain": "b"})
    area.blank()
    assert [(m.kind, m.bundle) for m in frontends.messages] == [
        ("display", {"text/plain": "a"}),
        ("update", {"text/plain": "b"}),
        ("update", {"text/html": ""}),
    ]


def test_the_saved_bundle_replaces_the_live_outputs_and_a_terminal_gets_one_line(frontends):
    outputs = LiveOutputs()
    outputs.add({"text/plain": "live"})
    outputs.replace({"text/plain": "the whole answer"}, "a summary")
    assert frontends.notebook() == [{"text/plain": "the whole answer"}]
    assert frontends.console() == "live\na summary\n"


def test_nothing_is_cleared_when_the_turn_showed_nothing_live(frontends):
    """One message: the saved bundle itself, whose text a terminal prints."""
    LiveOutputs().replace({"text/plain": "saved"}, "saved")
    assert [(m.kind, m.bundle) for m in frontends.messages] == [
        ("display", {"text/plain": "saved"})
    ]


def test_a_terminal_prints_only_the_lines_it_is_given_of_a_turn_shown_at_once(frontends):
    """A failed turn's saved text less its error, which the cell raises; the notebook
    keeps the whole bundle, and nothing is cleared."""
    LiveOutputs().replace({"text/plain": "answer\n[error]"}, "answer")
    assert [m.kind for m in frontends.messages] == ["display", "update"]
    assert frontends.notebook() == [{"text/plain": "answer\n[error]"}]
    assert frontends.console() == "answer\n"


def test_earlier_turns_of_the_running_cell_are_shown_again_after_the_clear(frontends, monkeypatch):
    cell = "request-1"
    monkeypatch.setattr(views, "_running_cell", lambda: cell)
    for saved in ({"text/plain": "turn 1"}, {"text/plain": "turn 2"}):
        outputs = LiveOutputs()
        outputs.add({"text/plain": "live"})
        outputs.replace(saved, "summary")
    assert frontends.notebook() == [{"text/plain": "turn 1"}, {"text/plain": "turn 2"}]
    cell = "request-2"  # the next cell starts afresh
    outputs = LiveOutputs()
    outputs.add({"text/plain": "live"})
    outputs.replace({"text/plain": "turn 3"}, "summary")
    assert frontends.notebook() == [{"text/plain": "turn 3"}]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def draw(block: str, *, finished: bool) -> dict[str, str]:
    return {"text/html": block, **({"text/plain": block} if finished else {})}


def test_a_long_open_block_costs_in_proportion_to_its_length(frontends, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(views, "time", clock)
    text = StreamedMarkdown(LiveOutputs(), draw)
    streamed = ""
    for _ in range(2000):  # 60,000 characters in one block, over 200 s
        streamed += "word " * 6
        clock.now += 0.1
        text.follow(streamed)
    sent = sum(message.size for message in frontends.messages)
    # redrawn every 0.15 s, it would send ~40 MB: 660 times the text
    assert sent < 15 * len(streamed)


def test_the_first_text_of_each_block_shows_at_once(frontends, monkeypatch):
    monkeypatch.setattr(views, "time", Clock())
    text = StreamedMarkdown(LiveOutputs(), draw)
    text.follow("One")
    text.follow("One, two.\n\nThree")
    assert frontends.shown_html() == "One, two.Three"


def test_no_view_folds_events_into_a_timeline_of_its_own():
    """One turn model: the session's recorder folds the events into the turn's timeline,
    and the notebook only lays it out (see views.py)."""
    for path in Path(views.__file__).parent.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert "Timeline(" not in source, f"{path.name} makes a timeline"
        assert not re.search(r"timeline\.add\(", source), f"{path.name} folds into one"
