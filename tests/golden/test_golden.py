"""Golden records: saved turns and their HTML, Markdown and plain renderings, checked in.

Each scenario of ``scenarios.py`` is folded into a record; the record's JSON and its
three renderings must equal the files ``NAME.record.json``, ``NAME.html``, ``NAME.md``
and ``NAME.txt`` here. ``schema1_quickstart.record.json`` and
``schema2_tool_calls.record.json`` are inputs only: turns saved by older versions (from
notebooks/quickstart.ipynb, and ``tool_calls`` as schema 2 saved it), whose renderings
must stay readable. tests/labextension/turn_view.test.mjs draws every record with the
JupyterLab renderer and checks it against ``NAME.txt``.

After a deliberate change of the format or the renderings, regenerate the files and
review their diff::

    CONJURE_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/golden
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from golden.scenarios import FOLDER, SCENARIOS

from conjure_kernel.conversation.transcript import TURN_SCHEMA, TurnRecord
from conjure_kernel.notebook.display import TURN_MIME_TYPE, turn_bundle

GOLDEN = Path(__file__).resolve().parent
UPDATE = os.environ.get("CONJURE_UPDATE_GOLDEN") == "1"
LEGACY = ["schema1_quickstart", "schema2_tool_calls"]
RENDERINGS = {".html": "text/html", ".md": "text/markdown", ".txt": "text/plain"}


def record_text(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def rendered_files(record: TurnRecord) -> dict[str, str]:
    bundle = turn_bundle(record, str, folder=FOLDER)
    return {suffix: bundle[mime] for suffix, mime in RENDERINGS.items()}


def check(name: str, files: dict[str, str]) -> None:
    """Compare each file with its golden copy (or write it, under CONJURE_UPDATE_GOLDEN=1)."""
    for suffix, text in files.items():
        path = GOLDEN / f"{name}{suffix}"
        if UPDATE:
            path.write_text(text, encoding="utf-8")
        assert path.is_file(), f"{path.name} is missing; regenerate with CONJURE_UPDATE_GOLDEN=1"
        assert text == path.read_text(encoding="utf-8"), f"{path.name} differs"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_scripted_turn_saves_the_golden_record_and_renderings(name):
    record = SCENARIOS[name]()
    data = record.to_json()
    assert data["schema"] == TURN_SCHEMA
    assert turn_bundle(record, str)[TURN_MIME_TYPE] == data
    check(name, {".record.json": record_text(data), **rendered_files(record)})


@pytest.mark.parametrize("name", sorted(SCENARIOS) + LEGACY)
def test_a_golden_record_reads_back_and_renders_the_same(name):
    data = json.loads((GOLDEN / f"{name}.record.json").read_text(encoding="utf-8"))
    record = TurnRecord.from_json(data)
    if name not in LEGACY:
        assert record.to_json() == data
    check(name, rendered_files(record))


def test_every_golden_file_belongs_to_a_scenario():
    names = set(SCENARIOS) | set(LEGACY)
    expected = {f"{name}.record.json" for name in names}
    expected |= {f"{name}{suffix}" for name in names for suffix in RENDERINGS}
    found = {p.name for p in GOLDEN.iterdir() if p.suffix in (".json", *RENDERINGS)}
    assert found == expected


def test_the_legacy_record_is_schema_1_and_keeps_its_tool_calls():
    data = json.loads((GOLDEN / "schema1_quickstart.record.json").read_text(encoding="utf-8"))
    record = TurnRecord.from_json(data)
    assert data["schema"] == 1
    assert [tool.call.name for tool in record.timeline.tools] == [
        "create_file",
        "view",
        "bash_tool",
    ]
    assert record.answer == data["answer"]
    assert record.tool_calls == TurnRecord.from_json(record.to_json()).tool_calls


def test_a_schema_2_record_reads_as_the_same_turn_saved_now():
    def saved(name: str) -> dict[str, Any]:
        return json.loads((GOLDEN / f"{name}.record.json").read_text(encoding="utf-8"))

    old, now = saved("schema2_tool_calls"), saved("tool_calls")
    assert (old["schema"], now["schema"]) == (2, TURN_SCHEMA)
    assert TurnRecord.from_json(old).to_json() == now


def test_thinking_is_a_folded_row_per_step_and_never_part_of_the_answer():
    record = SCENARIOS["thinking"]()
    lines = rendered_files(record)[".txt"].splitlines()
    assert lines[0] == "[thinking · 15 words]" and "[thinking · 1 word]" in lines
    assert "The person asks" not in rendered_files(record)[".txt"]
    assert "The person asks" not in rendered_files(record)[".md"]
    assert record.answer == "Let me count the files.There are two: `index.html` and `page.html`."
