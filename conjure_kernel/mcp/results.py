"""An MCP tool's result as the model gets it: text, structured content and images, capped.

Text blocks and structured content (as JSON, when no text says the same) make the
result's text, cut to the session's ``max_output_chars`` like any tool's output. An
image goes as an image block within the API's own bounds (5 MB of base64, 8000 px a
side), typed by its bytes rather than by the server's label: a bad block would make
the API refuse this request and every later one that carries it. The images of one
result are bounded together too (``MAX_RESULT_IMAGES`` of them, ``MAX_RESULT_BASE64``
and ``MAX_RESULT_PIXELS`` in all), since each is read and billed again in every later
request and a request holds at most 32 MB: a server returning a folder of scans must
not make the conversation too large to send. A larger image, one past the result's
bounds, one that is not PNG, JPEG, GIF or WEBP, broken base64, audio and embedded
resources are named in the text instead.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from dataclasses import dataclass
from typing import Any

from mcp import types

from ..tools.output import truncate_output
from ..tools.values import ToolResult

__all__ = ["tool_result"]

MAX_IMAGE_BASE64 = 5 * 1024 * 1024
"""The most base64 characters of one image the API takes."""
MAX_IMAGE_SIDE = 8000
"""The most pixels a side of an image the API takes."""
MAX_RESULT_IMAGES = 20
"""The most images of one result sent on: a request may carry 100 in all."""
MAX_RESULT_BASE64 = 10 * 1024 * 1024
"""The most base64 characters of one result's images together: a third of a request's 32 MB."""
MAX_RESULT_PIXELS = 24_000_000
"""The most pixels of one result's images together (width times height, read when Pillow is
here): some twenty images at the 1.15 megapixels the API scales each down to."""
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
    kept = _Kept()
    for block in result.content:
        if isinstance(block, types.TextContent):
            texts.append(block.text)
        elif isinstance(block, types.ImageContent):
            image = _image_block(block)
            if isinstance(image, str):
                texts.append(image)
            elif over := kept.over(image):
                texts.append(_left_out(image.media_type, image.size, over))
            else:
                images.append(image.block)
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


@dataclass(frozen=True)
class _Image:
    """An image block the API takes, with what it weighs."""

    block: dict[str, Any]
    media_type: str
    size: int
    """Its bytes, decoded."""
    pixels: int
    """Width times height; 0 when Pillow is not here to read them."""


@dataclass
class _Kept:
    """What the images kept so far in one result weigh together."""

    images: int = 0
    base64: int = 0
    pixels: int = 0

    def over(self, image: _Image) -> str:
        """Why ``image`` would take the result past its bounds, else empty (and it counts)."""
        encoded = len(image.block["source"]["data"])
        if self.images >= MAX_RESULT_IMAGES:
            return f"this result has {MAX_RESULT_IMAGES} images already"
        if self.base64 + encoded > MAX_RESULT_BASE64:
            megabytes = MAX_RESULT_BASE64 // 2**20
            return f"this result's images would be over {megabytes} MB of base64 together"
        if self.pixels + image.pixels > MAX_RESULT_PIXELS:
            megapixels = MAX_RESULT_PIXELS // 1_000_000
            return f"this result's images would be over {megapixels} megapixels together"
        self.images, self.base64 = self.images + 1, self.base64 + encoded
        self.pixels += image.pixels
        return ""


def _image_block(block: types.ImageContent) -> _Image | str:
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
    width, height = _dimensions(data)
    if (side := max(width, height)) > MAX_IMAGE_SIDE:
        return _left_out(media_type, len(data), f"{side} px a side, over the API's 8000")
    source = {"type": "base64", "media_type": media_type, "data": encoded}
    return _Image({"type": "image", "source": source}, media_type, len(data), width * height)


def _media_type(data: bytes) -> str:
    """The image type the bytes start with, else empty."""
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    return "image/webp" if data[:4] == b"RIFF" and data[8:12] == b"WEBP" else ""


def _dimensions(data: bytes) -> tuple[int, int]:
    """The image's width and height in pixels when Pillow is here to read them, else 0s."""
    try:
        from PIL import Image
    except ImportError:
        return 0, 0
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Image.DecompressionBombError:  # far over any side the API takes
        return MAX_IMAGE_SIDE + 1, 1
    except Exception:  # a header Pillow cannot read: the API decides
        return 0, 0


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
