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
    dtypes = ", ".join(f"{name} {frame.dtypes[name]}" for name in shown_columns)
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
