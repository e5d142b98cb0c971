"""Golden records: saved turns, their renderings and their labels, checked in.

Each scenario of ``scenarios.py`` is folded into a record; the record's JSON, its three
renderings and its labels must equal the files ``NAME.record.json``, ``NAME.html``,
``NAME.md``, ``NAME.txt`` and ``NAME.labels.json`` here. The scenarios cover every kind
of entry and ending: answer text, thinking, tool calls at once, on the server, coloured,
3 MB long, denied, interrupted; notices, files, approvals asked, allowed and denied; a
failure, an interrupt, a budget stop, a replay that drifted.

The labels are the test that every rendering reads alike: ``NAME.labels.json`` is what
the record says, and the Python HTML, Markdown and plain text, the live view once the
turn finished (tests/notebook/test_display.py) and the JupyterLab renderer
(tests/labextension/turn_view.test.mjs) must each show exactly those labels, read from
their structure (``label_lists.py``).

``schema1_quickstart.record.json`` and ``schema2_tool_calls.record.json`` are inputs
only: turns saved by older versions, read and rendered as Python upgrades them.

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
from golden import label_lists
from golden.scenarios import FOLDER, SCENARIOS

from conjure_kernel.conversation.transcript import TURN_SCHEMA, TurnRecord
from conjure_kernel.notebook.display import TURN_MIME_TYPE, turn_bundle

GOLDEN = Path(__file__).resolve().parent
UPDATE = os.environ.get("CONJURE_UPDATE_GOLDEN") == "1"
LEGACY = ["schema1_quickstart", "schema2_tool_calls"]
RENDERINGS = {".html": "text/html", ".md": "text/markdown", ".txt": "text/plain"}
SUFFIXES = (".record.json", *RENDERINGS, ".labels.json")


def record_text(data: Any) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def saved(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / f"{name}.record.json").read_text(encoding="utf-8"))


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
def test_a_scripted_turn_saves_the_golden_record_renderings_and_labels(name):
    record = SCENARIOS[name]()
    data = record.to_json()
    assert data["schema"] == TURN_SCHEMA
    assert turn_bundle(record, str, folder=FOLDER)[TURN_MIME_TYPE] == data
    labels = record_text(label_lists.of_record(data))
    check(
        name, {".record.json": record_text(data), **rendered_files(record), ".labels.json": labels}
    )


@pytest.mark.parametrize("name", sorted(SCENARIOS) + LEGACY)
def test_a_golden_record_reads_back_and_renders_the_same(name):
    data = saved(name)
    record = TurnRecord.from_json(data)
    if name not in LEGACY:
        assert record.to_json() == data
    check(name, rendered_files(record))


@pytest.mark.parametrize("name", sorted(SCENARIOS) + LEGACY)
def test_every_rendering_shows_exactly_the_labels_the_record_carries(name):
    """Older records too, once Python read them: their labels are computed then."""
    record = TurnRecord.from_json(saved(name))
    bundle = turn_bundle(record, str, folder=FOLDER)
    expected = label_lists.of_record(bundle[TURN_MIME_TYPE])
    assert label_lists.of_html(bundle["text/html"]) == expected
    assert label_lists.of_markdown(bundle["text/markdown"]) == label_lists.texts(expected)
    assert label_lists.of_plain(bundle["text/plain"]) == label_lists.texts(expected)


def test_the_scenarios_cover_every_kind_of_label_entry_state_and_decision():
    data = [saved(name) for name in SCENARIOS]
    kinds = {kind for record in data for kind, _ in label_lists.of_record(record)}
    assert kinds == {
        *label_lists.ENTRY_KINDS.values(),
        "more",
        "problem",
        "error",
        "hint",
        "footer",
    }
    entries = [entry for record in data for entry in record["timeline"]]
    assert {entry["state"] for entry in entries if entry["type"] == "tool"} == {
        "ok",
        "error",
        "interrupted",
        "denied",
    }
    assert {entry["labels"]["decision"] for entry in entries if entry["type"] == "approval"} == {
        "asked",
        "allowed",
        "denied",
    }
    assert any(entry.get("server") for entry in entries)
    assert any(
        "ansi-" in json.dumps(entry["labels"].get("output"))
        for entry in entries
        if entry["type"] == "tool"
    )
    errors = {record["error"]["error"] for record in data if record["error"]}
    assert errors == {"ModelError", "TurnInterrupted", "BudgetExceeded"}


def test_a_coloured_output_is_saved_as_styled_runs_and_shows_no_escape():
    data = saved("coloured_output")
    tests, listing = (entry for entry in data["timeline"] if entry["type"] == "tool")
    assert tests["result"]["content"].startswith("\x1b[1m=====")  # what the model saw
    runs = tests["labels"]["output"]["runs"]
    assert ["1 failed", "ansi-red-fg ansi-bold"] in runs and ["2 passed", "ansi-green-fg"] in runs
    shown = "".join(text for text, _ in listing["labels"]["output"]["runs"])
    assert "Count words (#7)\n" in shown and "fetching  100%\n" in shown and "10%" not in shown
    for suffix in (".html", ".md", ".txt"):
        assert "\x1b" not in (GOLDEN / f"coloured_output{suffix}").read_text(encoding="utf-8")
    page = (GOLDEN / "coloured_output.html").read_text(encoding="utf-8")
    assert '<span style="color:#e75c58;font-weight:bold">1 failed</span>' in page


def test_a_3_mb_output_folds_after_its_first_lines():
    data = saved("long_output")
    output = data["timeline"][1]["labels"]["output"]
    shown = "".join(text for text, _ in output["runs"][: output["fold"]])
    assert shown.count("\n") == 40 and shown.startswith("0000000 ")
    assert output["more"].startswith("show all ") and output["more"].endswith(" lines")
    page = (GOLDEN / "long_output.html").read_text(encoding="utf-8")
    assert f'<details class="conjure-more"><summary data-label="more">{output["more"]}' in page


def test_every_golden_file_belongs_to_a_scenario():
    names = set(SCENARIOS) | set(LEGACY)
    expected = {f"{name}{suffix}" for name in names for suffix in SUFFIXES}
    expected -= {f"{name}.labels.json" for name in LEGACY}
    found = {p.name for p in GOLDEN.iterdir() if p.name.endswith((".json", *RENDERINGS))}
    assert found == expected


def test_the_legacy_record_is_schema_1_and_keeps_its_tool_calls():
    data = saved("schema1_quickstart")
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
