"""MCP results as tool results: text, structured content, images, errors, all within the cap."""

from __future__ import annotations

import base64

from mcp import types

from conjure_kernel.mcp.offered import offer_tools
from conjure_kernel.mcp.results import tool_result

PNG = base64.b64encode(b"\x89PNG" + b"\0" * 300).decode()


def result(*content, structured=None, is_error=False) -> types.CallToolResult:
    return types.CallToolResult(
        content=list(content), structured_content=structured, is_error=is_error
    )


def text(value: str) -> types.TextContent:
    return types.TextContent(type="text", text=value)


def image(data: str = PNG, mime: str = "image/png") -> types.ImageContent:
    return types.ImageContent(type="image", data=data, mime_type=mime)


def test_structured_content_is_added_only_when_no_text_says_it():
    said = tool_result("t", result(text("hi"), structured={"result": "hi"}), 1000)
    assert said.content == "hi"
    unsaid = tool_result("t", result(structured={"city": "Oslo"}), 1000)
    assert unsaid.content == '{\n  "city": "Oslo"\n}'


def test_an_image_within_the_cap_goes_as_an_image_block():
    done = tool_result("t", result(text("a chart"), image()), 1000)
    assert done.to_param()["content"] == [
        {"type": "text", "text": "a chart"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
    ]


def test_an_image_over_the_cap_is_named_instead():
    done = tool_result("t", result(image()), 100)
    assert done.images == ()
    assert done.content == "[image/png, 306 bytes, left out: larger than the output cap]"


def test_long_text_is_cut_to_the_cap_and_errors_carry_over():
    done = tool_result("t", result(text("x\n" * 5000), is_error=True), 1000)
    assert done.is_error and len(done.content) < 1200 and "cut" in done.content
    assert (
        tool_result("t", result(is_error=True), 100).content == "(the tool failed and said nothing)"
    )


def test_tools_the_api_would_refuse_are_left_out_with_a_reason():
    listed = [
        types.Tool(name="fine", input_schema={"type": "object"}),
        types.Tool(name="x" * 60, input_schema={"type": "object"}),
        types.Tool(name="has space", input_schema={"type": "object"}),
    ]
    offered, refused = offer_tools("srv", listed)
    assert [tool.offered_name for tool in offered] == ["mcp__srv__fine"]
    assert refused == [
        f"{'x' * 60!r}: the name 'mcp__srv__{'x' * 60}' is not 1-64 letters, digits, _ or -",
        "'has space': the name 'mcp__srv__has space' is not 1-64 letters, digits, _ or -",
    ]
