"""The live view in a real kernel: what goes over iopub, and what a saved notebook keeps."""

from __future__ import annotations

import json

import nbformat
from fakeapi import FakeMessagesAPI, replies
from kernel_harness import TURN_MIME
from live_frontends import answer_of
from test_recording import RUN_TOOLS, conjure_notebook, execute

SAVED_TYPES = [TURN_MIME, "text/html", "text/markdown", "text/plain"]


def iopub_bytes(messages: list[dict]) -> int:
    return sum(len(json.dumps(m["content"], default=str)) for m in messages)


def test_a_turn_shows_pieces_live_then_clears_them_for_its_saved_bundle(api, kernel):
    api.script(replies.tool_use("bash_tool", {"command": "ls"}), replies.text(answer_of(6)))
    result = kernel.run("Write six paragraphs")
    assert result.status == "ok", result.error
    shown = [m for m in result.messages if "display" in m["msg_type"] or "clear" in m["msg_type"]]
    kinds = [m["msg_type"] for m in shown]
    clear = kinds.index("clear_output")
    assert kinds[clear:] == ["clear_output", "display_data", "update_display_data"]
    assert kinds.count("display_data") > 6  # a status line, a row, blocks of text
    assert shown[clear]["content"]["wait"] is True
    assert sorted(shown[-1]["content"]["data"]) == sorted(SAVED_TYPES)


def test_what_a_turn_sends_over_iopub_grows_in_proportion_to_its_answer(api, kernel):
    sent = []
    for paragraphs in (30, 60):
        api.script(replies.text(answer_of(paragraphs)))
        result = kernel.run("Write")
        assert result.status == "ok", result.error
        sent.append(iopub_bytes(result.messages))
        assert kernel.run("%reset").status == "ok"
    assert sent[1] <= 2.2 * sent[0], sent


def test_a_saved_notebook_keeps_one_output_per_turn(tmp_path):
    with FakeMessagesAPI() as api:
        api.script(
            replies.tool_use("bash_tool", {"command": "ls"}),
            replies.text(answer_of(3)),
            replies.text("The first of two turns in one cell."),
            replies.text("The second."),
        )
        notebook = conjure_notebook("List the files", "%conjure one\n%conjure two")
        env = {"ANTHROPIC_API_KEY": "sk-test-key", "ANTHROPIC_BASE_URL": api.url}
        execute(notebook, tmp_path, env, extra_arguments=RUN_TOOLS)
    nbformat.validate(notebook)
    outputs = [cell.outputs for cell in notebook.cells]
    assert [len(cell) for cell in outputs] == [1, 2]
    for output in [*outputs[0], *outputs[1]]:
        assert output.output_type == "display_data"
        assert sorted(output.data) == sorted(SAVED_TYPES)
    first, second = (o.data[TURN_MIME]["message"] for o in outputs[1])
    assert (first, second) == ("one", "two")
