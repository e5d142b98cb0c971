"""MCP results as tool results: text, structured content, images, errors, all within the cap."""

from __future__ import annotations

import base64
import io

from mcp import types

from conjure_kernel.mcp.offered import offer_tools
from conjure_kernel.mcp.results import MAX_RESULT_IMAGES, tool_result

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 300).decode()
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\0" * 100).decode()


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


def test_an_image_is_bounded_by_the_apis_limits_not_the_output_cap():
    assert len(tool_result("t", result(image()), 100).images) == 1
    big = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 4_000_000).decode()
    done = tool_result("t", result(image(big)), 100)
    assert done.images == ()
    assert (
        done.content == "[image/png, 4,000,008 bytes, left out: over the API's 5 MB for an image]"
    )


def test_an_image_wider_than_the_api_takes_is_named_instead():
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (8001, 1)).save(buffer, format="PNG")
    wide = base64.b64encode(buffer.getvalue()).decode()
    done = tool_result("t", result(image(wide)), 1000)
    assert done.images == ()
    assert done.content.endswith("left out: 8001 px a side, over the API's 8000]")


def test_an_image_is_typed_by_its_bytes_and_a_non_image_is_named():
    done = tool_result("t", result(image(JPEG, "image/png")), 1000)
    assert [block["source"]["media_type"] for block in done.images] == ["image/jpeg"]
    text = base64.b64encode(b"hello, not a picture").decode()
    named = tool_result("t", result(image(text)), 1000)
    assert named.images == ()
    assert named.content == "[image/png, 20 bytes, left out: not a PNG, JPEG, GIF or WEBP image]"
    broken = tool_result("t", result(image("not base64 at all!")), 1000)
    assert broken.content == "[image/png, left out: its base64 is broken]"


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
        types.Tool(name="fine", input_schema={"type": "object", "properties": {}}),
    ]
    offered, refused = offer_tools("srv", listed)
    assert [tool.offered_name for tool in offered] == ["mcp__srv__fine"]
    assert refused == [
        f"{'x' * 60!r}: the name 'mcp__srv__{'x' * 60}' is not 1-64 letters, digits, _ or -",
        "'has space': the name 'mcp__srv__has space' is not 1-64 letters, digits, _ or -",
        "'fine': the server lists a tool of that name already",
    ]


def png(width: int, height: int) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_a_results_images_are_bounded_together_by_count():
    many = [image() for _ in range(MAX_RESULT_IMAGES + 2)]
    done = tool_result("t", result(*many), 10_000)
    assert len(done.images) == MAX_RESULT_IMAGES
    assert (
        done.content.splitlines()
        == [f"[image/png, 308 bytes, left out: this result has {MAX_RESULT_IMAGES} images already]"]
        * 2
    )


def test_a_results_images_are_bounded_together_by_their_bytes():
    each = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 3_500_000).decode()
    done = tool_result("t", result(text("scans"), *[image(each)] * 3), 10_000)
    assert len(done.images) == 2  # each within the API's 5 MB, the third past 10 MB in all
    assert done.content == (
        "scans\n[image/png, 3,500,008 bytes, left out: this result's images would be over "
        "10 MB of base64 together]"
    )


def test_a_results_images_are_bounded_together_by_their_pixels():
    large = png(5000, 2000)  # 10 megapixels, a few kB
    done = tool_result("t", result(*[image(large)] * 3), 10_000)
    assert len(done.images) == 2
    assert done.content.endswith("over 24 megapixels together]")
