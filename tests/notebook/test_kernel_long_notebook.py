"""Long notebooks and model switches through real kernels, against the fake API, which
enforces each model's window and checks every thinking block that comes back.

A notebook of 60 chat cells whose tool results add up to several windows runs to the
end, says where it made room, and replays with no key and no drift; a switch of model
after a turn that thought drops the old model's thinking instead of failing.
"""

from __future__ import annotations

import os
import subprocess
import sys

import nbformat
from fakeapi import FakeMessagesAPI, replies
from fakeapi.models import capabilities, model_info
from kernel_harness import RunningKernel
from test_recording import RUN_TOOLS, conjure_notebook, execute, records_of

TURNS = 60
WINDOW = 20_000


def reader(body: dict) -> replies.Reply:
    """Each turn views a 2,500-character page, thinking first, then says it did."""
    last = body["messages"][-1]["content"]
    if isinstance(last, list) and any(b.get("type") == "tool_result" for b in last):
        return replies.text("Read it.")
    view = {"path": "page.txt", "description": "read the page"}
    use = {"type": "tool_use", "id": replies.new_tool_use_id(), "name": "view", "input": view}
    return replies.message(replies.thinking("Once more."), use, stop_reason="tool_use")


def test_a_notebook_several_windows_long_runs_to_the_end_and_replays(tmp_path):
    (tmp_path / "page.txt").write_text(("x" * 99 + "\n") * 25)
    cells = [f"Read the page ({turn})" for turn in range(TURNS)]
    notebook = conjure_notebook(
        "%model claude-small-1", f"%config ConjureMagics.context_window = {WINDOW}", *cells
    )
    with FakeMessagesAPI(responder=reader) as api:
        api.models.models.append(
            model_info(
                "claude-small-1", "Claude Small 1", context=WINDOW, caps=capabilities(editing=False)
            )
        )
        env = {"ANTHROPIC_API_KEY": "sk-long", "ANTHROPIC_BASE_URL": api.url}
        execute(notebook, tmp_path, env, extra_arguments=RUN_TOOLS)
    records = records_of(notebook)
    assert len(records) == TURNS and all(record.ok for record in records)
    said = [
        entry.text
        for record in records
        for entry in record.timeline.entries
        if type(entry).__name__ == "NoticeEntry"
    ]
    assert any(text.startswith(("cleared ", "compacted ")) for text in said)
    path = tmp_path / "long.ipynb"
    nbformat.write(notebook, path)
    no_key = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    replayed = subprocess.run(
        [sys.executable, "-m", "conjure_kernel", "replay", str(path), "--strict"],
        capture_output=True,
        text=True,
        env=no_key,
        timeout=600,
    )
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert f"drift: 0 of {TURNS} turn(s)" in replayed.stdout


def test_a_model_switch_after_thinking_drops_the_old_thinking_and_goes_on(tmp_path):
    with FakeMessagesAPI() as api:
        api.script(
            replies.message(replies.thinking("Hmm."), {"type": "text", "text": "One."}),
            replies.text("Two."),
        )
        env = {
            "ANTHROPIC_API_KEY": "sk-switch",
            "ANTHROPIC_BASE_URL": api.url,
            "JUPYTER_DATA_DIR": str(tmp_path / "jupyter"),
        }
        with RunningKernel("conjure", cwd=tmp_path, env=env) as kernel:
            assert kernel.run("First").status == "ok"
            assert kernel.run("%model claude-haiku-5-5").status == "ok"
            second = kernel.run("Second")
            assert second.status == "ok", second.error
            assert "dropped 1 thinking blocks written by claude-sonnet-5-5" in second.text()
        sent = api.requests_to("POST", "/v1/messages")[-1].body["messages"]
        assert all(
            block.get("type") != "thinking"
            for message in sent
            if isinstance(message["content"], list)
            for block in message["content"]
        )
