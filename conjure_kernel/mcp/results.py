"""An MCP tool's result as the model gets it: text, structured content and images, capped.

Text blocks and structured content (as JSON, when no text says the same) make the
result's text, cut to the session's ``max_output_chars`` like any tool's output. An
image goes as an image block within the API's own bounds (5 MB of base64, 8000 px a
side), typed by its bytes rather than by the server's label: a bad block would make
the API refuse this request and every later one that carries it. A larger image, one
that is not PNG, JPEG, GIF or WEBP, broken base64, audio and embedded resources are
named in the text instead.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from typing import Any

from mcp import types

from ..tools.output import truncate_output
from ..tools.values import ToolResult

__all__ = ["tool_result"]

MAX_IMAGE_BASE64 = 5 * 1024 * 1024
"""The most base64 characters of one image the API takes."""
MAX_IMAGE_SIDE = 8000
"""The most pixels a side of an image the API takes."""
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def tool_result(call_id: str, result: types.CallToolResult, limit: int) -> ToolResult:
    """The ``ToolResult`` for an MCP ``CallToolResult``; ``is_error`` carries over."""
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    for block in result.content:
        if isinstance(block, types.TextContent):
            texts.append(block.text)
        elif isinstance(block, types.ImageContent):
            image = _image_block(block)
            if isinstance(image, str):
                texts.append(image)
            else:
                images.append(image)
        elif isinstance(block, types.AudioContent):
            texts.append(_left_out(block.mime_type, len(block.data), "a kind Claude does not read"))
        elif isinstance(block, types.ResourceLink):
            texts.append(f"[resource {block.uri}]")
        elif isinstance(block, types.EmbeddedResource):
            texts.append(_resource_text(block.resource))
    structured = result.structured_content
    if structured is not None:
        as_json = json.dumps(structured, ensure_ascii=False, indent=2)
        if not any(_says(text, structured) for text in texts):
            texts.append(as_json)
    text = "\n".join(texts) or ("(the tool failed and said nothing)" if result.is_error else "")
    return ToolResult(
        call_id,
        truncate_output(text, limit),
        bool(result.is_error),
        images=tuple(images),
    )


def _image_block(block: types.ImageContent) -> dict[str, Any] | str:
    """The image block the API takes, typed by its bytes; else the line that names it."""
    try:
        data = base64.b64decode("".join(block.data.split()), validate=True)
    except (binascii.Error, ValueError):
        return f"[{block.mime_type}, left out: its base64 is broken]"
    media_type = _media_type(data)
    if not media_type:
        return _left_out(block.mime_type, len(data), "not a PNG, JPEG, GIF or WEBP image")
    encoded = base64.b64encode(data).decode("ascii")
    if len(encoded) > MAX_IMAGE_BASE64:
        return _left_out(media_type, len(data), "over the API's 5 MB for an image")
    if (side := _longest_side(data)) > MAX_IMAGE_SIDE:
        return _left_out(media_type, len(data), f"{side} px a side, over the API's 8000")
    source = {"type": "base64", "media_type": media_type, "data": encoded}
    return {"type": "image", "source": source}


def _media_type(data: bytes) -> str:
    """The image type the bytes start with, else empty."""
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    return "image/webp" if data[:4] == b"RIFF" and data[8:12] == b"WEBP" else ""


def _longest_side(data: bytes) -> int:
    """The image's longest side in pixels when Pillow is here to read it, else 0."""
    try:
        from PIL import Image
    except ImportError:
        return 0
    try:
        with Image.open(io.BytesIO(data)) as image:
            return max(image.size)
    except Image.DecompressionBombError:  # far over any side the API takes
        return MAX_IMAGE_SIDE + 1
    except Exception:  # a header Pillow cannot read: the API decides
        return 0


def _left_out(mime_type: str, size: int, why: str) -> str:
    return f"[{mime_type}, {size:,} bytes, left out: {why}]"


def _resource_text(resource: types.TextResourceContents | types.BlobResourceContents) -> str:
    if isinstance(resource, types.TextResourceContents):
        return resource.text
    return f"[resource {resource.uri}, {resource.mime_type or 'binary'}, left out]"


def _says(text: str, structured: Any) -> bool:
    """Whether a text block already holds the structured content (servers often send both,
    a plain value wrapped as ``{"result": value}``)."""
    wrapped = structured.get("result", structured) if len(structured) == 1 else structured
    if text == wrapped:
        return True
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return value in (structured, wrapped)
