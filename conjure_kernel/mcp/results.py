"""An MCP tool's result as the model gets it: text, structured content and images, capped.

Text blocks and structured content (as JSON, when no text says the same) make the
result's text, cut to the session's ``max_output_chars`` like any tool's output. An
image goes as an image block when its base64 fits in what the cap leaves; a larger one,
audio and embedded resources are named in the text instead, so one result stays bounded.
"""

from __future__ import annotations

import json
from typing import Any

from mcp import types

from ..tools.output import truncate_output
from ..tools.values import ToolResult

__all__ = ["tool_result"]

_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


def tool_result(call_id: str, result: types.CallToolResult, limit: int) -> ToolResult:
    """The ``ToolResult`` for an MCP ``CallToolResult``; ``is_error`` carries over."""
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    left = limit
    for block in result.content:
        if isinstance(block, types.TextContent):
            texts.append(block.text)
        elif isinstance(block, types.ImageContent) and block.mime_type in _IMAGE_TYPES:
            if len(block.data) <= left:
                left -= len(block.data)
                images.append(_image_block(block))
            else:
                texts.append(
                    _left_out(block.mime_type, len(block.data), "larger than the output cap")
                )
        elif isinstance(block, types.ImageContent | types.AudioContent):
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
        truncate_output(text, max(left, limit // 2)),
        bool(result.is_error),
        images=tuple(images),
    )


def _image_block(block: types.ImageContent) -> dict[str, Any]:
    source = {"type": "base64", "media_type": block.mime_type, "data": block.data}
    return {"type": "image", "source": source}


def _left_out(mime_type: str, base64_chars: int, why: str) -> str:
    size = base64_chars * 3 // 4
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
