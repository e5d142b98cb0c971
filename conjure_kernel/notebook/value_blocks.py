"""How a notebook value goes into a chat message: bounded text, or an image block.

Split from ``cell_variables.py``: that module finds the ``{…}`` in a message; this one
decides what a value looks like to the model. pandas and Pillow are never imported here:
a value is recognised by its type's module, so a notebook without them pays nothing.
"""

from __future__ import annotations

import base64
import io
from typing import Any

__all__ = [
    "MAX_API_SIDE",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_SIDE",
    "MAX_TABLE_COLUMNS",
    "MAX_TABLE_ROWS",
    "MAX_VALUE_CHARS",
    "value_blocks",
]

MAX_VALUE_CHARS = 8_000
"""The most characters one value's text takes in a message; longer is cut, with a marker."""
MAX_TABLE_ROWS = 10
"""A DataFrame shows its first and last ``MAX_TABLE_ROWS // 2`` rows."""
MAX_TABLE_COLUMNS = 20
"""…and its first ``MAX_TABLE_COLUMNS`` columns."""
MAX_CELL_CHARS = 40
"""The most characters of one table cell."""
MAX_IMAGE_SIDE = 1568
"""A Pillow image's longest side is scaled down to this (the API's own recommended size)."""
MAX_API_SIDE = 8000
"""The longest side, in pixels, the API takes; an image over it without Pillow to scale it
down is refused."""
MAX_IMAGE_BYTES = 3_750_000
"""An image larger than this is refused: base64, it would pass the API's 5 MB per image."""


class ValueTooLarge(ValueError):
    """A value that cannot be made small enough to send (an image over the bound)."""


def value_blocks(value: Any, formatter: Any = None) -> list[dict[str, Any]]:
    """Content blocks for ``value``: one image block, or one text block.

    ``formatter`` is IPython's text/plain formatter (None: ``repr``).
    """
    image = _image_of(value)
    if image is not None:
        return [image]
    return [{"type": "text", "text": _bounded(_text_of(value, formatter))}]


def _text_of(value: Any, formatter: Any) -> str:
    if isinstance(value, str):
        return value
    kind = type(value)
    if kind.__module__.split(".")[0] == "pandas" and kind.__name__ in ("DataFrame", "Series"):
        return _table_preview(value)
    markdown = _called(value, "_repr_markdown_")
    if isinstance(markdown, str) and markdown:
        return markdown
    text = formatter(value) if formatter is not None else None
    return text if isinstance(text, str) else repr(value)  # IPython's gives None on failure


def _bounded(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… [cut: {len(text) - limit} more characters]"


def _called(value: Any, method: str) -> Any:
    """``value.method()``, or None when it lacks one or it fails (as IPython treats a failing
    ``_repr_*_``: that representation is skipped)."""
    function = getattr(value, method, None)
    if not callable(function):
        return None
    try:
        result = function()
    except Exception:
        return None
    return result[0] if isinstance(result, tuple) else result


def _table_preview(value: Any) -> str:
    """A DataFrame or Series as its shape, its dtypes and a Markdown table of its first and
    last rows and first columns."""
    frame = value.to_frame() if type(value).__name__ == "Series" else value
    rows, columns = frame.shape
    kind = type(value).__name__
    shown_columns = list(frame.columns[:MAX_TABLE_COLUMNS])
    # by position: a name two columns share would pick a Series of both
    dtypes = ", ".join(
        f"{_cell(name)} {dtype}"
        for name, dtype in zip(shown_columns, frame.dtypes.iloc[:MAX_TABLE_COLUMNS], strict=True)
    )
    lines = [f"pandas {kind}, shape {value.shape}", f"dtypes: {dtypes}"]
    if columns > MAX_TABLE_COLUMNS:
        lines.append(f"(first {MAX_TABLE_COLUMNS} of {columns} columns shown)")
    head = MAX_TABLE_ROWS // 2
    cut = rows > MAX_TABLE_ROWS
    parts = [frame.iloc[:head], frame.iloc[-head:]] if cut else [frame]
    lines.append("| " + " | ".join(["", *map(_cell, shown_columns)]) + " |")
    lines.append("|---" * (len(shown_columns) + 1) + "|")
    for index, part in enumerate(parts):
        if index:
            gap = [f"… {rows - 2 * head} more rows", *([""] * len(shown_columns))]
            lines.append("| " + " | ".join(gap) + " |")
        shown = part.iloc[:, :MAX_TABLE_COLUMNS].itertuples(index=False)
        for label, row in zip(part.index, shown, strict=True):
            lines.append("| " + " | ".join(_cell(item) for item in (label, *row)) + " |")
    return "\n".join(lines)


def _cell(item: Any) -> str:
    text = " ".join(str(item).split()).replace("|", "\\|")
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def _image_of(value: Any) -> dict[str, Any] | None:
    """An image block for a Pillow image, a matplotlib figure, or anything with a PNG or
    JPEG representation (``IPython.display.Image``); None for anything else."""
    module = type(value).__module__
    if module.startswith("PIL.") and hasattr(value, "thumbnail"):
        return _block("image/png", _pillow_png(value))
    if module.startswith("matplotlib.") and hasattr(value, "savefig"):
        buffer = io.BytesIO()
        value.savefig(buffer, format="png", bbox_inches="tight")
        return _block("image/png", buffer.getvalue())
    for method, media_type in (("_repr_png_", "image/png"), ("_repr_jpeg_", "image/jpeg")):
        data = _called(value, method)
        if isinstance(data, str):  # IPython's convention: a str is already base64
            data = base64.b64decode(data)
        if isinstance(data, bytes) and data:
            return _block(media_type, data)
    return None


def _pillow_png(image: Any) -> bytes:
    if max(image.size) > MAX_IMAGE_SIDE:
        image = image.copy()
        image.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
    if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        image = image.convert("RGBA")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _block(media_type: str, data: bytes) -> dict[str, Any]:
    data = _within_side(media_type, data)
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueTooLarge(
            f"the image is {len(data) / 1e6:.1f} MB, over the {MAX_IMAGE_BYTES / 1e6:.2f} MB "
            "an image may take"
        )
    encoded = base64.b64encode(data).decode("ascii")
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": media_type, "data": encoded},
    }


def _within_side(media_type: str, data: bytes) -> bytes:
    """Image bytes scaled down to ``MAX_IMAGE_SIDE`` where Pillow is installed and can read
    them; without Pillow, refused when a side passes what the API takes."""
    try:
        from PIL import Image
    except ImportError:
        side = max(_pixel_size(data) or (0,))
        if side > MAX_API_SIDE:
            raise ValueTooLarge(
                f"the image is {side} px on its longest side, over the {MAX_API_SIDE} px the "
                "API takes; install Pillow to have it scaled down"
            ) from None
        return data
    try:
        image = Image.open(io.BytesIO(data))
        if max(image.size) <= MAX_IMAGE_SIDE:
            return data
        image.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
    except (OSError, Image.DecompressionBombError):
        return data  # not an image Pillow reads: sent as it is, for the API to judge
    buffer = io.BytesIO()
    if media_type == "image/jpeg":
        image.convert("RGB").save(buffer, format="JPEG", quality=90)
        return buffer.getvalue()
    return _pillow_png(image)


def _pixel_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) read from a PNG or JPEG header, without Pillow; None if unknown."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    at = 2 if data.startswith(b"\xff\xd8") else len(data)
    while at + 9 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a frame header
            height, width = data[at + 5 : at + 7], data[at + 7 : at + 9]
            return int.from_bytes(width, "big"), int.from_bytes(height, "big")
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return None
