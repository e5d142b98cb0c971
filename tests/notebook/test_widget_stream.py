"""The widget trace sends a streamed answer at a cost in proportion to its length.

A real kernel whose client opened the widget manager's control comm, as JupyterLab does,
so chat cells are drawn by the widget trace; counted, never timed: the bytes of every
iopub message a cell caused, comm messages included. The block being written is drawn
once (its first words) and then finished, so the count does not depend on the pace of
the machine. benchmarks/stream_view.py measures CPU time and bytes at a realistic pace
next to the bare SDK and the HTML view.
"""

from __future__ import annotations

import ipywidgets as widgets
import pytest
from fakeapi import FakeMessagesAPI, replies
from kernel_harness import RunningKernel
from live_frontends import answer_of
from widget_frontend import message_bytes, open_widget_manager

from conjure_kernel.notebook.widgets.column import COLUMN_CLASS, Column

DRAW_ONCE = """%%python
from conjure_kernel.notebook import views
from conjure_kernel.notebook.widgets import TraceWidget
views.REFRESH_SECONDS = 3600
TraceWidget.start_after = 0
"""
SMALL, LARGE = 33, 133
"""Paragraphs of about 60 words: answers of about 2,000 and 8,000 words."""


@pytest.fixture(scope="module")
def api():
    with FakeMessagesAPI() as server:
        yield server


@pytest.fixture(scope="module")
def kernel(api, tmp_path_factory):
    env = {"ANTHROPIC_API_KEY": "sk-test-key-123", "ANTHROPIC_BASE_URL": api.url}
    with RunningKernel("conjure", cwd=tmp_path_factory.mktemp("stream"), env=env) as running:
        open_widget_manager(running.client)
        assert running.run(DRAW_ONCE).status == "ok"
        yield running


def sent_for(kernel: RunningKernel, api: FakeMessagesAPI, paragraphs: int) -> float:
    """Bytes the kernel sent for a chat cell streaming ``paragraphs``, per byte of answer."""
    answer = answer_of(paragraphs)
    api.script(replies.text(answer))
    result = kernel.run("write", timeout=600)
    assert result.status == "ok", result.error
    opened = [m for m in result.messages if m["msg_type"] == "comm_open"]
    assert len(opened) > paragraphs, "the widget trace drew the answer, a widget per block"
    sent = sum(message_bytes(kernel.client, message) for message in result.messages)
    return sent / len(answer.encode())


def test_the_bytes_a_streamed_answer_sends_grow_in_proportion_to_its_length(kernel, api):
    small, large = sent_for(kernel, api, SMALL), sent_for(kernel, api, LARGE)
    assert large <= 1.12 * small, f"{small:.1f} then {large:.1f} bytes per byte of the answer"
    assert large <= 20, f"{large:.1f} bytes sent per byte of the answer"


def boxes_of(column: widgets.Widget) -> list[widgets.VBox]:
    """The boxes a column is made of."""
    if not (isinstance(column, widgets.VBox) and COLUMN_CLASS in column._dom_classes):
        return []
    return [column, *(box for child in column.children for box in boxes_of(child))]


def held_by(column: widgets.Widget) -> list[widgets.Widget]:
    """The widgets a column holds, in order."""
    if not boxes_of(column):
        return [column]
    return [widget for child in column.children for widget in held_by(child)]


def test_a_column_keeps_its_widgets_in_order_sending_short_lists_of_children(monkeypatch):
    monkeypatch.setattr(Column, "FAN_OUT", 3)  # three levels of boxes from 10 widgets on
    column = Column()
    items = [widgets.HTML(value=str(n)) for n in range(40)]
    sent: list[int] = []

    def count(change: dict) -> None:
        sent.append(len(change["new"]))

    for item in items:
        boxes = boxes_of(column.box)
        for box in boxes:
            box.observe(count, names="children")
        column.extend([item])
        for box in boxes:
            box.unobserve(count, names="children")
    assert held_by(column.box) == items
    assert max(sent) <= Column.FAN_OUT
    assert len(sent) <= 1.5 * len(items)
    assert len(boxes_of(column.box)[1].children) == 3  # the outer box's first holds 27


def test_widgets_added_together_fill_the_last_box_in_one_change():
    column = Column()
    items = [widgets.HTML(value=str(n)) for n in range(Column.FAN_OUT * 3)]
    column.extend(items[:5])
    changes: list[int] = []
    column.box.observe(lambda change: changes.append(len(change["new"])), names="children")
    column.extend(items[5 : Column.FAN_OUT])
    assert changes == [Column.FAN_OUT]
    column.extend(items[Column.FAN_OUT :])
    assert held_by(column.box) == items
