"""``{name}`` filled into a message: the rule for braces and code, and each kind of value,
with real pandas, Pillow and IPython values."""

from __future__ import annotations

import base64
import io
import sys

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.display import Image as DisplayImage
from PIL import Image

from conjure_kernel.notebook.cell_variables import expand_message
from conjure_kernel.notebook.value_blocks import MAX_IMAGE_SIDE, value_blocks


def filled(message: str, **namespace):
    return expand_message(message, lambda source: eval(source, {}, namespace))


def png_size(block: dict) -> tuple[int, int]:
    return Image.open(io.BytesIO(base64.b64decode(block["source"]["data"]))).size


def test_a_message_without_placeholders_is_the_same_string():
    message = "Nothing to fill {here: at all} or {  }"
    assert filled(message) is message


@pytest.mark.parametrize(
    "message",
    [
        "~~~\nx = {a}\n~~~\n",
        "````md\n```\n{a}\n```\n````",
        "an unclosed fence\n```\n{a}",
        "inline ``{a}`` code",
    ],
)
def test_code_is_never_filled(message):
    assert filled(message) is message


def test_text_after_a_closed_fence_is_filled_and_doubled_braces_are_literal():
    assert filled("```\n{a}\n```\n{a}, {{a}} and }}", a=1) == "```\n{a}\n```\n1, {a} and }"


def test_a_wide_long_series_and_frame_are_cut_to_their_bounds():
    frame = pd.DataFrame({f"c{i}": range(100) for i in range(30)})
    text = filled("{frame}", frame=frame)
    assert "shape (100, 30)" in text and "(first 20 of 30 columns shown)" in text
    assert "| … 90 more rows |" in text and "| 99 | 99 |" in text and "c20" not in text
    series = filled("{s}", s=pd.Series([1.5, 2.5], name="x"))
    assert series.startswith("\npandas Series, shape (2,)\ndtypes: x float64\n")


def test_shared_and_long_column_names_keep_the_dtypes_line_one_short_line():
    long_name = "measured_" * 10
    frame = pd.DataFrame([[1, 2.5, True, 3]], columns=["a", "a", "b", long_name])
    dtypes = value_blocks(frame)[0]["text"].splitlines()[1]
    cut = long_name[:39] + "…"
    assert dtypes == f"dtypes: a int64, a float64, b bool, {cut} int64"


def image_bytes(size: tuple[int, int], kind: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size).save(buffer, format=kind)
    return buffer.getvalue()


class Picture:
    """An object that shows itself as PNG or JPEG bytes, as plotting libraries do."""

    def __init__(self, data: bytes, kind: str) -> None:
        self.data, self.kind = data, kind

    def _repr_png_(self):
        return self.data if self.kind == "PNG" else None

    def _repr_jpeg_(self):
        return self.data if self.kind == "JPEG" else None


@pytest.mark.parametrize("kind", ["PNG", "JPEG"])
def test_a_wide_png_or_jpeg_representation_is_scaled_down_with_pillow(kind):
    [block] = value_blocks(Picture(image_bytes((9000, 300), kind), kind))
    assert png_size(block) == (MAX_IMAGE_SIDE, 52)
    small = image_bytes((30, 20), kind)
    [kept] = value_blocks(Picture(small, kind))
    assert base64.b64decode(kept["source"]["data"]) == small


@pytest.mark.parametrize("kind", ["PNG", "JPEG"])
def test_without_pillow_an_image_wider_than_the_api_takes_is_refused(kind, monkeypatch):
    wide, small = image_bytes((300, 9000), kind), image_bytes((30, 20), kind)
    monkeypatch.setitem(sys.modules, "PIL", None)  # a notebook without Pillow
    with pytest.raises(UsageError, match=r"^\{p\}: the image is 9000 px on its longest side"):
        filled("{p}", p=Picture(wide, kind))
    [kept] = value_blocks(Picture(small, kind))
    assert base64.b64decode(kept["source"]["data"]) == small


def test_images_of_each_kind_become_png_or_jpeg_blocks_and_big_ones_shrink():
    big = Image.new("RGB", (4000, 1000), "blue")
    [block] = value_blocks(big)
    assert png_size(block) == (MAX_IMAGE_SIDE, MAX_IMAGE_SIDE // 4)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="JPEG")
    [jpeg] = value_blocks(DisplayImage(data=buffer.getvalue(), format="jpeg"))
    assert jpeg["source"]["media_type"] == "image/jpeg"
    blocks = filled("a {img} b", img=Image.new("L", (4, 4)))
    assert [b["type"] for b in blocks] == ["text", "image", "text"]


def test_an_image_over_the_bound_is_refused_with_its_name():
    class Huge:
        def _repr_png_(self):
            return b"\x89PNG" + bytes(4_000_000)

    with pytest.raises(UsageError, match=r"^\{huge\}: the image is 4.0 MB, over the 3.75 MB"):
        filled("{huge}", huge=Huge())


def test_a_failing_representation_falls_back_to_the_text_one():
    class Broken:
        def _repr_markdown_(self):
            raise RuntimeError("no")

        def __repr__(self):
            return "Broken()"

    assert filled("{b}", b=Broken()) == "Broken()"


def test_the_groups_of_a_latex_command_stay_as_written():
    message = r"Is $\frac{a}{b} = \mathbf{x}$ for {x}?"
    assert filled(message, x=2) == r"Is $\frac{a}{b} = \mathbf{x}$ for 2?"
    assert filled("{a}{b}", a=1, b=2) == "12"


def test_a_value_that_cannot_be_shown_is_one_line():
    class Unshowable:
        def __repr__(self):
            raise RuntimeError("no repr")

    with pytest.raises(UsageError, match=r"^\{u\} could not be shown \(RuntimeError: no repr\)"):
        filled("{u}", u=Unshowable())
