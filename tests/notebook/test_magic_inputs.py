"""Magics as a user types them in a real conjure kernel: settings, models, history, skills.

Every bad input is answered by one readable line, and changes nothing."""

from __future__ import annotations

import json

import nbformat
import pytest
from fakeapi import FakeMessagesAPI, replies
from kernel_harness import TURN_MIME, RunningKernel


@pytest.fixture(scope="module")
def api():
    with FakeMessagesAPI() as server:
        yield server


@pytest.fixture(scope="module")
def kernel(api, tmp_path_factory):
    env = {"ANTHROPIC_API_KEY": "sk-test-key-123", "ANTHROPIC_BASE_URL": api.url}
    with RunningKernel("conjure", cwd=tmp_path_factory.mktemp("work"), env=env) as running:
        yield running


def one_line_error(result) -> str:
    """The error a cell ended with, which must fit on one line of the traceback."""
    assert result.status == "error"
    traceback = result.reply["content"]["traceback"]
    assert len(traceback) <= 2, traceback
    return result.error


def test_backend_help_lists_each_setting_with_type_and_default(kernel):
    result = kernel.run("%backend local --help")
    assert result.status == "ok", result.error
    text = result.text()
    assert text.startswith("local: Runs tools on this machine, in a bubblewrap sandbox")
    assert "settings (%backend local key=value ...):" in text
    assert "  timeout=number (default 300)  seconds before one tool call is killed" in text
    assert "  workdir=text  folder the tools work in" in text
    assert "  sandbox=on|off (default on)  run commands in bubblewrap" in text
    assert "  network=off|on (default off)  network access from the sandbox" in text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("%backend local timeout=abc", "timeout=abc: expected a finite number"),
        ("%backend local timeout=nan", "timeout=nan: expected a finite number"),
        ("%backend local timeout=-5", "timeout=-5: expected a number greater than 0"),
        (
            "%backend local timout=5",
            "unknown setting 'timout' for backend 'local'; accepted settings: workdir, timeout",
        ),
        ("%backend local timeout", "backend settings are key=value pairs, got 'timeout'"),
        ("%backend nope", "unknown backend 'nope'; available backends:"),
    ],
)
def test_a_bad_backend_setting_is_one_readable_line_and_changes_nothing(kernel, line, expected):
    before = kernel.run("%backend").text()
    error = one_line_error(kernel.run(line))
    assert error.startswith("UsageError: ") and expected in error
    assert kernel.run("%backend").text() == before


def test_good_settings_switch_and_show_in_backend(kernel, tmp_path):
    result = kernel.run(f"%backend local workdir={tmp_path} timeout=60")
    assert result.status == "ok", result.error
    assert result.text().startswith(
        f"local: bash in a bubblewrap sandbox on this machine, in {tmp_path} "
        "(timeout=60 s, network=off)\n  read: "
    )
    result = kernel.run(f"%backend local workdir={tmp_path} sandbox=off")
    assert result.text().strip() == (
        f"local: bash on this machine in {tmp_path} (timeout=300 s, sandbox=off)\n"
        "warning: no sandbox (sandbox=off): the tools read and write whatever you can, "
        "reach the network, and what they start can outlive the kernel"
    )


def test_config_model_mid_session_applies_to_the_next_turn(api, kernel):
    api.script(replies.text("one"), replies.text("two"))
    assert kernel.run("First message").status == "ok"
    assert kernel.run("%config ConjureMagics.model = 'claude-haiku-5-5'").status == "ok"
    second = kernel.run("Second message")
    assert second.status == "ok", second.error
    assert [request.body["model"] for request in api.requests[-2:]] == [
        "claude-sonnet-5-5",
        "claude-haiku-5-5",
    ]
    assert second.turn()["model"] == "claude-haiku-5-5"
    assert kernel.run("%model").text().splitlines()[0] == "claude-haiku-5-5"


@pytest.mark.parametrize("line", ["%model ''", '%model "   "'])
def test_an_empty_model_name_is_refused(kernel, line):
    before = kernel.run("%model").text()
    error = one_line_error(kernel.run(line))
    assert error == "UsageError: a model id cannot be empty; e.g. %model claude-sonnet-5-5"
    assert kernel.run("%model").text() == before


def test_history_shows_each_turns_model_redacted_in_html_and_text(api, kernel):
    api.script(replies.text("noted"))
    assert kernel.run("Remember sk-test-key-123 for me").status == "ok"
    result = kernel.run("%history")
    assert result.status == "ok", result.error
    bundle = result.bundles()[-1]
    assert set(bundle) == {"text/html", "text/plain"}  # reads the same in nbconvert and on GitHub
    assert "<table>" in bundle["text/html"]
    assert "sk-test-key-123" not in json.dumps(bundle)
    assert "Remember [secret ANTHROPIC_API_KEY] for me" in bundle["text/plain"]
    rows = bundle["text/plain"].splitlines()[1:]
    models = {
        model
        for model in ("claude-sonnet-5-5", "claude-haiku-5-5")
        if any(model in row for row in rows)
    }
    assert models == {"claude-sonnet-5-5", "claude-haiku-5-5"}  # the turns' own models


def test_history_export_is_redacted(kernel, tmp_path):
    target = tmp_path / "session.md"
    result = kernel.run(f"%history export {target}")
    assert result.status == "ok", result.error
    text = target.read_text()
    assert "Remember" in text and "sk-test-key-123" not in text


def test_history_export_to_a_missing_folder_is_one_line(kernel, tmp_path):
    error = one_line_error(kernel.run(f"%history export {tmp_path}/missing/x.md"))
    assert error.startswith(f"UsageError: cannot write {tmp_path}/missing/x.md: ")


def test_history_restore_of_a_hand_broken_record_is_one_line(kernel, tmp_path):
    record = {
        "schema": 2,
        "message": "m",
        "backend": "local",
        "model": "claude-sonnet-5-5",
        "timeline": [],
        "steps": [
            {
                "message": {"role": "assistant", "content": [{"type": "tool_use", "name": "view"}]},
                "stop_reason": "tool_use",
            }
        ],
    }
    notebook = nbformat.v4.new_notebook()
    output = nbformat.v4.new_output("display_data", data={TURN_MIME: record})
    notebook.cells.append(nbformat.v4.new_code_cell("m", outputs=[output]))
    nbformat.write(notebook, tmp_path / "broken.ipynb")
    error = one_line_error(kernel.run(f"%history restore {tmp_path / 'broken.ipynb'}"))
    assert "cell 1: a recorded turn is malformed" in error and "has no id or name" in error


def test_skills_cuts_long_descriptions_with_an_ellipsis(kernel, tmp_path):
    folder = tmp_path / "skills" / "wordy"
    folder.mkdir(parents=True)
    description = "Explains things at length. " * 10
    (folder / "SKILL.md").write_text(f"---\nname: wordy\ndescription: {description}\n---\nBody\n")
    result = kernel.run(f"%skills {folder.parent}")
    assert result.status == "ok", result.error
    line = next(line for line in result.text().splitlines() if line.startswith("wordy: "))
    shown = line.removeprefix("wordy: ").split("  (")[0]
    assert len(shown) == 100 and shown.endswith("…")


def test_backend_defaults_set_with_config_are_checked_and_apply_at_the_next_switch(kernel):
    shown = "%%python\nprint(get_ipython().find_magic('conjure').__self__.backend_settings)"
    bad = kernel.run("%config ConjureMagics.backend_settings = {'docker': {'memory': 'lots'}}")
    assert "ConjureMagics.backend_settings['docker']: memory=lots: expected a size" in bad.text()
    typo = kernel.run("%config ConjureMagics.backend_settings = {'local': {'timout': '5'}}")
    assert "unknown setting 'timout'" in typo.text()
    assert kernel.run(shown).text().strip() == "{}"  # both refused: the old value stays
    assert kernel.run("%config ConjureMagics.timeout = 60").status == "ok"
    assert "timeout=60 s" in kernel.run("%backend local").text()
    fine = "%config ConjureMagics.backend_settings = {'local': {'timeout': '45'}}"
    assert kernel.run(fine).status == "ok"
    assert "timeout=45 s" in kernel.run("%backend local").text()
