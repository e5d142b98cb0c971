"""Server tool blocks read as tool calls and results: every shape the SDK defines, and unknown ones."""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest
from anthropic.types import (
    BashCodeExecutionToolResultBlock,
    CodeExecutionToolResultBlock,
    TextEditorCodeExecutionToolResultBlock,
)
from fakeapi import replies

from conjure_kernel.clients.base import ServerToolResult, ServerToolUse
from conjure_kernel.clients.server_tools import (
    ENCRYPTED_STDOUT,
    file_ids,
    is_server_tool_result,
    tool_call,
    tool_result,
)
from conjure_kernel.tools.values import ToolCall, ToolResult

ID = "srvtoolu_01abc"


def result(block_type: str, content: Any) -> ServerToolResult:
    return ServerToolResult(replies.server_tool_result(block_type, ID, content))


def bash(content: dict[str, Any]) -> ServerToolResult:
    return result("bash_code_execution_tool_result", content)


def editor(content: dict[str, Any]) -> ServerToolResult:
    return result("text_editor_code_execution_tool_result", content)


SAMPLES: dict[str, ServerToolResult] = {
    "bash_code_execution_result": ServerToolResult(
        replies.bash_result(ID, stdout="ok\n", stderr="warn\n", file_ids=["file_1"])
    ),
    "bash_code_execution_tool_result_error": bash(
        {"type": "bash_code_execution_tool_result_error", "error_code": "unavailable"}
    ),
    "text_editor_code_execution_view_result": editor(
        {"type": "text_editor_code_execution_view_result", "content": "x", "file_type": "text"}
    ),
    "text_editor_code_execution_create_result": editor(
        {"type": "text_editor_code_execution_create_result", "is_file_update": True}
    ),
    "text_editor_code_execution_str_replace_result": editor(
        {"type": "text_editor_code_execution_str_replace_result", "lines": ["a"]}
    ),
    "text_editor_code_execution_tool_result_error": editor(
        {"type": "text_editor_code_execution_tool_result_error", "error_code": "file_not_found"}
    ),
    "code_execution_result": ServerToolResult(replies.code_execution_result(ID, stdout="42\n")),
    "encrypted_code_execution_result": result(
        "code_execution_tool_result",
        {
            "type": "encrypted_code_execution_result",
            "encrypted_stdout": "EkJ…",
            "stderr": "",
            "return_code": 0,
            "content": [{"type": "code_execution_output", "file_id": "file_2"}],
        },
    ),
    "code_execution_tool_result_error": result(
        "code_execution_tool_result",
        {"type": "code_execution_tool_result_error", "error_code": "execution_time_exceeded"},
    ),
}
"""One result per content shape the installed SDK defines for code execution."""


def sdk_content_types() -> set[str]:
    """Every ``content`` type of the SDK's three code execution result blocks."""
    found = set()
    for block in (
        BashCodeExecutionToolResultBlock,
        TextEditorCodeExecutionToolResultBlock,
        CodeExecutionToolResultBlock,
    ):
        for shape in typing.get_args(block.model_fields["content"].annotation):
            found.update(typing.get_args(shape.model_fields["type"].annotation))
    return found


def test_every_sdk_result_shape_has_a_sample_and_none_is_shown_raw():
    assert set(SAMPLES) == sdk_content_types()
    for name, sample in SAMPLES.items():
        shown = tool_result(sample)
        assert shown.tool_use_id == ID and shown.content, name
        assert '"tool_use_id"' not in shown.content, f"{name} fell through to raw JSON"


def test_bash_result_reads_like_the_local_bash_tool():
    shown = tool_result(SAMPLES["bash_code_execution_result"])
    assert shown == ToolResult(ID, "ok\nstderr:\nwarn\nexit code: 0", exit_code=0)


def test_nonzero_return_code_is_an_error_with_its_exit_code():
    block = replies.bash_result(ID, stderr="No such file\n", return_code=2)
    shown = tool_result(ServerToolResult(block))
    assert shown.is_error and shown.exit_code == 2
    assert shown.content == "stderr:\nNo such file\nexit code: 2"


def test_long_output_is_cut_to_the_limit():
    block = replies.bash_result(ID, stdout="line\n" * 10_000)
    shown = tool_result(ServerToolResult(block), limit=2_000)
    assert len(shown.content) < 2_300 and "characters" in shown.content


def test_legacy_and_encrypted_code_execution_results():
    assert tool_result(SAMPLES["code_execution_result"]).content == "42\nexit code: 0"
    encrypted = tool_result(SAMPLES["encrypted_code_execution_result"])
    assert encrypted.content == f"{ENCRYPTED_STDOUT}\nexit code: 0"
    assert "EkJ" not in encrypted.content and not encrypted.is_error


@pytest.mark.parametrize(
    ("content", "text"),
    [
        (
            {"type": "bash_code_execution_tool_result_error", "error_code": "too_many_requests"},
            "error: too_many_requests",
        ),
        (
            {
                "type": "text_editor_code_execution_tool_result_error",
                "error_code": "file_not_found",
                "error_message": "/tmp/x does not exist",
            },
            "error: file_not_found: /tmp/x does not exist",
        ),
        (
            {"type": "web_fetch_tool_result_error", "error_code": "url_not_accessible"},
            "error: url_not_accessible",
        ),
    ],
)
def test_error_objects_are_errors_naming_code_and_message(content, text):
    shown = tool_result(result("any_tool_result", content))
    assert shown == ToolResult(ID, text, is_error=True)


def test_text_editor_view_results():
    whole = {
        "type": "text_editor_code_execution_view_result",
        "content": "1\talpha\n2\tbeta",
        "file_type": "text",
        "num_lines": 2,
        "start_line": 1,
        "total_lines": 2,
    }
    assert tool_result(editor(whole)).content == "1\talpha\n2\tbeta"
    part = {**whole, "content": "5\tepsilon", "num_lines": 1, "start_line": 5, "total_lines": 9}
    assert tool_result(editor(part)).content == "(lines 5-5 of 9)\n5\tepsilon"
    image = {**whole, "content": "iVBORw0KGgo", "file_type": "image"}
    assert tool_result(editor(image)).content == "(image file, not shown as text)"
    empty = {"type": "text_editor_code_execution_view_result", "content": "", "file_type": "text"}
    assert tool_result(editor(empty)).content == "(empty file)"


def test_text_editor_create_and_str_replace_results():
    create = {"type": "text_editor_code_execution_create_result", "is_file_update": False}
    assert tool_result(editor(create)) == ToolResult(ID, "file created")
    assert tool_result(SAMPLES["text_editor_code_execution_create_result"]).content == (
        "file updated"
    )
    replace = {
        "type": "text_editor_code_execution_str_replace_result",
        "lines": ["x = 1", "y = 2"],
        "old_start": 3,
        "old_lines": 1,
        "new_start": 3,
        "new_lines": 2,
    }
    assert tool_result(editor(replace)).content == "@@ -3,1 +3,2 @@\nx = 1\ny = 2"
    bare = {"type": "text_editor_code_execution_str_replace_result"}
    assert tool_result(editor(bare)).content == "edited"


@pytest.mark.parametrize(
    "block",
    [
        replies.server_tool_result("future_tool_result", ID, {"type": "new_shape", "n": 1}),
        replies.server_tool_result("web_search_tool_result", ID, [{"url": "https://x"}]),
        replies.server_tool_result(
            "bash_code_execution_tool_result", ID, {"type": "bash_code_execution_result"}
        ),  # a known type without its fields
    ],
)
def test_unknown_shapes_are_shown_as_their_raw_json(block):
    shown = tool_result(ServerToolResult(block))
    assert json.loads(shown.content) == block
    assert not shown.is_error


def test_file_ids_of_bash_and_code_execution_outputs():
    assert file_ids(SAMPLES["bash_code_execution_result"]) == ["file_1"]
    assert file_ids(SAMPLES["encrypted_code_execution_result"]) == ["file_2"]
    both = replies.code_execution_result(ID, file_ids=["file_a", "file_b"])
    assert file_ids(ServerToolResult(both)) == ["file_a", "file_b"]
    assert file_ids(SAMPLES["bash_code_execution_tool_result_error"]) == []
    assert file_ids(SAMPLES["text_editor_code_execution_view_result"]) == []
    assert file_ids(result("future_tool_result", [{"file_id": "not_an_output"}])) == []


def test_tool_call_keeps_id_name_and_input():
    use = ServerToolUse(ID, "bash_code_execution", {"command": "ls"})
    assert tool_call(use) == ToolCall(ID, "bash_code_execution", {"command": "ls"})


def test_result_block_types():
    assert is_server_tool_result("bash_code_execution_tool_result")
    assert is_server_tool_result("some_future_tool_result")
    assert not is_server_tool_result("tool_result")
    assert not is_server_tool_result("server_tool_use")
