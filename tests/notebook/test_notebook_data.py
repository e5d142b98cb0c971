"""The notebook's own data in the chat, through real kernels against the fake API:
``{name}`` in a message (what the model received, what is refused), ``-o NAME`` and
``_conjure``, and ``%conjure fix``."""

from __future__ import annotations

import nbformat
import pytest
from fakeapi import FakeMessagesAPI, replies
from kernel_harness import RunningKernel
from test_recording import conjure_notebook, execute, records_of, replay_command

DATA = """%%python
import pandas as pd
from PIL import Image
df = pd.DataFrame({"city": ["Oslo", "Lima", "Pune"], "rain": [7.5, 0.8, 3.1]})
img = Image.new("RGB", (32, 16), "red")
"""

FENCED = "Why does this fail?\n```python\nsettings = {name}\nprint(f'{x}')\n```\nand `{y}` too"


@pytest.fixture
def env(api, tmp_path) -> dict[str, str]:
    return {
        "ANTHROPIC_API_KEY": "sk-test-key-123",
        "ANTHROPIC_BASE_URL": api.url,
        "JUPYTER_DATA_DIR": str(tmp_path / "jupyter"),
    }


@pytest.fixture
def kernel(env, tmp_path):
    with RunningKernel("conjure", cwd=tmp_path, env=env) as running:
        yield running


def sent_contents(api: FakeMessagesAPI) -> list:
    """What each request carried as its last message's content (without the cache mark
    the client adds to the last block)."""
    return [
        _unmarked(request.body["messages"][-1]["content"])
        for request in api.requests_to("POST", "/v1/messages")
    ]


def _unmarked(content: str | list[dict]) -> str | list[dict]:
    if isinstance(content, str):
        return content
    blocks = [{k: v for k, v in block.items() if k != "cache_control"} for block in content]
    if len(blocks) == 1 and blocks[0]["type"] == "text":
        return blocks[0]["text"]  # the client made a string a block to mark it
    return blocks


def test_a_dataframe_and_an_image_reach_the_model_and_the_record_keeps_both_forms(api, kernel):
    assert kernel.run(DATA).status == "ok"
    api.script(replies.text("Oslo is the wettest."))
    message = "Which {df.columns[0]} is wettest in {df}? See {img}. Keep {{braces}}."
    result = kernel.run(message)
    assert result.status == "ok", result.error
    [content] = sent_contents(api)
    assert [block["type"] for block in content] == ["text", "image", "text"]
    table = content[0]["text"]
    assert table.startswith("Which city is wettest in \npandas DataFrame, shape (3, 2)\n")
    assert "dtypes: city " in table and "rain float64" in table
    assert "| 0 | Oslo | 7.5 |" in table
    assert content[1]["source"]["media_type"] == "image/png"
    assert content[2]["text"] == ". Keep {braces}."
    record = result.record()
    assert record.message == message  # what the cell says: replay matches it
    assert record.sent == content  # what was sent: replay sends it again


def test_the_one_line_form_is_filled_by_the_kernel_not_by_ipython(api, kernel):
    """IPython would expand ``{x}``, ``{{`` and ``$x`` in a line magic before the kernel
    saw it, and take a line ending in ``?`` as a request for help on its last word;
    ``%conjure`` takes its line as typed, like ``%%conjure`` takes its cell."""
    assert kernel.run("%%python\nx, literal = 5, 'L'").status == "ok"
    api.script(replies.text("Five."))
    line = "What are {x}, {{literal}} and $x?"
    result = kernel.run(f"%conjure {line}")
    assert result.status == "ok", result.error
    assert sent_contents(api) == ["What are 5, {literal} and $x?"]
    assert result.record().message == line


def test_an_undefined_name_is_one_line_and_nothing_is_sent(api, kernel):
    result = kernel.run("Summarise {sales} please")
    assert result.error == (
        "UsageError: {sales}: name 'sales' is not defined, so nothing was sent; define it "
        "in a Python cell first, or write {{sales}} for literal braces"
    )
    failing = kernel.run("What is {1 / 0}?")
    assert failing.error == (
        "UsageError: {1 / 0} failed (ZeroDivisionError: division by zero), so nothing was sent"
    )
    assert sent_contents(api) == []
    api.script(replies.text("Still here."))
    assert kernel.run("Hello").status == "ok"  # the session stays valid


def test_code_fences_inline_code_and_non_expressions_go_through_unchanged(api, kernel):
    api.script(replies.text("A."), replies.text("B."))
    assert kernel.run(FENCED).status == "ok"
    assert kernel.run('Send {"a": 1} as JSON').status == "ok"
    assert sent_contents(api) == [FENCED, 'Send {"a": 1} as JSON']


def test_other_values_use_their_richest_bounded_representation(api, kernel):
    setup = (
        "%%python\nclass Note:\n    def _repr_markdown_(self):\n        return '**bold**'\n"
        "note, numbers, text, long = Note(), {3: [1, 2]}, 'plain words', 'word ' * 3000"
    )
    assert kernel.run(setup).status == "ok"
    api.script(replies.text("OK."))
    assert kernel.run("{note} / {numbers} / {text} / {long}").status == "ok"
    [content] = sent_contents(api)
    assert content.startswith("**bold** / {3: [1, 2]} / plain words / \nword word ")
    assert content.endswith("word \n… [cut: 7000 more characters]\n")


def test_o_name_and_underscore_conjure_hold_the_answer_in_the_conjure_kernel(api, kernel, tmp_path):
    """``.files`` names what the turn made in the workdir, by any tool (a command that
    writes a document too), as paths on this machine; files it left alone are not named."""
    (tmp_path / "old.txt").write_text("untouched\n")
    answer = "Here:\n```python\nprint('hi')\n```\n"
    api.script(
        replies.tool_use("create_file", {"path": "made.txt", "file_text": "x\n"}),
        replies.tool_use("bash_tool", {"command": "mkdir -p out && echo d > out/report.docx"}),
        replies.text(answer),
        replies.text("Second."),
    )
    result = kernel.run("%%conjure -o reply\nWrite a file and some code")
    assert result.status == "ok", result.error
    check = kernel.run(
        "%%python\nprint(reply.text == _conjure.text, reply.code_blocks)\n"
        "print(reply.files)\nprint(repr(reply))"
    )
    made = [str(tmp_path / "made.txt"), str(tmp_path / "out" / "report.docx")]
    assert check.text().splitlines() == [
        "True [('python', \"print('hi')\\n\")]",
        repr(made),
        "ChatAnswer(\"Here:\\n```python\\nprint('hi')\\n```\\n\", 1 code block(s), "
        f"files={made!r})",
    ]
    assert kernel.run("A plain chat cell").status == "ok"
    shown = kernel.run("%%python\nprint(_conjure.text, reply is _conjure)").text()
    assert shown == "Second. False\n"


def test_a_bad_output_name_is_refused(kernel):
    result = kernel.run("%%conjure -o 2x\nHi")
    assert result.error == "UsageError: -o needs a Python name for the answer: %%conjure -o answer"


def test_variables_o_name_and_fix_after_load_ext_in_a_python_kernel(api, env, tmp_path):
    api.script(replies.text("Three cities."), replies.text("```python\nlen(df)\n```"))
    with RunningKernel("python3", cwd=tmp_path, env=env) as kernel:
        assert kernel.run("%load_ext conjure_kernel").status == "ok"
        assert kernel.run(DATA.removeprefix("%%python\n")).status == "ok"
        result = kernel.run("%%conjure -o counted\nHow many rows has {df}?")
        assert result.status == "ok", result.error
        shown = kernel.run("print(counted.text, _conjure is counted)").text()
        assert kernel.run("len(df.nothing)").status == "error"
        fixed = kernel.run("%%conjure fix\nKeep it short.")
        assert fixed.status == "ok", fixed.error
        after = kernel.run("print(_conjure.code(), counted.text)").text()
    assert shown == "Three cities. True\n"
    first, fix = sent_contents(api)
    assert first.startswith("How many rows has \npandas DataFrame, shape (3, 2)\n")
    assert "```python\nlen(df.nothing)\n```" in fix and fix.endswith("\n\nKeep it short.")
    assert "AttributeError: 'DataFrame' object has no attribute 'nothing'" in fix
    [payload] = fixed.reply["content"]["payload"]
    assert payload["text"] == "len(df)"
    assert after == "len(df)\n Three cities.\n"


def test_fix_without_an_error_is_one_line(api, kernel):
    result = kernel.run("%conjure fix")
    assert result.error == (
        "UsageError: no Python error to fix yet: run a cell that fails, then %conjure fix"
    )
    kernel.run("A chat cell that fails: {missing}")  # Conjure's error, not the code's
    assert kernel.run("%conjure fix").error == result.error
    assert sent_contents(api) == []


def test_fix_sends_the_cell_and_traceback_and_offers_the_code_as_the_next_cell(api, kernel):
    failing = kernel.run("%%python\ndef ratio(a, b):\n    return a / b\n\nratio(1, 0)")
    assert failing.status == "error"
    fixed = (
        "Dividing by zero:\n```\nZeroDivisionError: division by zero\n```\n"
        "```python\ndef ratio(a, b):\n    return a / b if b else 0.0\n```"
    )
    api.script(replies.text(fixed))
    result = kernel.run("%conjure fix")
    assert result.status == "ok", result.error
    [content] = sent_contents(api)
    assert "```python\ndef ratio(a, b):\n    return a / b\n\nratio(1, 0)\n```" in content
    assert "ZeroDivisionError: division by zero" in content and "\x1b[" not in content
    assert "%%python" not in content
    [payload] = result.reply["content"]["payload"]
    assert payload["source"] == "set_next_input" and payload["replace"] is False
    assert payload["text"] == "%%python\ndef ratio(a, b):\n    return a / b if b else 0.0"
    assert result.record().message == "%conjure fix"


def test_fix_sends_a_syntax_error_and_forgets_an_error_once_its_cell_or_the_fix_runs(api, kernel):
    """A SyntaxError never runs (IPython keeps it apart from errors raised while running);
    an error is forgotten when the same cell, or the code the fix offered, runs cleanly."""
    assert kernel.run("%%python\n1 / 0").status == "error"
    assert kernel.run("%%python\ndef area(w, h:\n    return w * h").status == "error"
    api.script(
        replies.text("A missing parenthesis.\n```python\ndef area(w, h):\n    return w * h\n```")
    )
    fix = kernel.run("%conjure fix")
    assert fix.status == "ok", fix.error
    [content] = sent_contents(api)
    assert "```python\ndef area(w, h:\n    return w * h\n```" in content
    assert "SyntaxError:" in content and "ZeroDivisionError" not in content
    assert "interactiveshell.py" not in content  # IPython's own frames are not the error
    [payload] = fix.reply["content"]["payload"]
    assert kernel.run(payload["text"]).status == "ok"
    nothing = "UsageError: no Python error to fix yet: run a cell that fails, then %conjure fix"
    assert kernel.run("%conjure fix").error == nothing
    failing = "%%python\nhalf = total / 2"
    assert kernel.run(failing).status == "error"
    assert kernel.run("%%python\ntotal = 10").status == "ok"
    api.script(replies.text("Define total first."))
    named = kernel.run("%conjure fix use a default of 0")  # another cell ran, not this one
    assert named.status == "ok", named.error
    assert "NameError: name 'total' is not defined" in sent_contents(api)[-1]
    assert sent_contents(api)[-1].endswith("```\n\nuse a default of 0")
    assert named.record().message == "%conjure fix use a default of 0"
    assert kernel.run(failing).status == "ok"
    assert kernel.run("%conjure fix").error == nothing


def test_a_notebook_with_a_dataframe_and_an_image_replays_with_no_key_and_no_python_state(
    tmp_path,
):
    """Recorded with ``df`` and ``img`` defined; replayed by ``python -m conjure_kernel
    replay`` with their cell gone: the recording says what was sent, so nothing is asked of
    the namespace and the answers and their records come back as they were."""
    with FakeMessagesAPI() as api:
        api.script(replies.text("Oslo, by the picture too."), replies.text("Done."))
        notebook = conjure_notebook(
            DATA, "Wettest in {df}? Look at {img}.", "%conjure Thanks {{!}} for {df.shape}"
        )
        execute(notebook, tmp_path, {"ANTHROPIC_API_KEY": "sk-rec", "ANTHROPIC_BASE_URL": api.url})
    recorded = records_of(notebook)
    assert recorded[0].sent[1]["type"] == "image"
    assert recorded[1].sent == "Thanks {!} for (3, 2)"
    notebook.cells.pop(0)  # no Python state on replay
    path = tmp_path / "recorded.ipynb"
    nbformat.write(notebook, path)
    replayed = replay_command(path, "--strict")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "drift: 0 of 2 turn(s)" in replayed.stdout
    notebook.cells.insert(0, nbformat.v4.new_code_cell("%replay recorded.ipynb"))
    execute(notebook, tmp_path, {})
    first, second = records_of(notebook)
    assert first.replayed and first.answer == "Oslo, by the picture too."
    assert (first.sent, second.sent) == (recorded[0].sent, recorded[1].sent)


def test_a_large_image_weighs_its_pixels_not_its_base64_in_the_window_and_the_budget(api, kernel):
    """A 3 MB picture (some 1,300 tokens to the API) must neither make room in the window
    by compacting the turn before it, nor be refused by a cell budget of ten cents."""
    noise = "%%python\nimport os\nfrom PIL import Image\n"
    noise += "img = Image.frombytes('RGB', (1000, 1000), os.urandom(3_000_000))"
    assert kernel.run(noise).status == "ok"
    assert kernel.run("%budget cell=$0.10").status == "ok"
    api.script(replies.text("Noise."), replies.text("Still noise."))
    first = kernel.run("What is {img}?")
    assert first.status == "ok", first.error
    second = kernel.run("And now?")
    assert second.status == "ok", second.error
    assert "compacted" not in second.text()
    assert "so far: 0 tool results cleared, 0 compactions" in kernel.run("%context").text()
    assert sent_contents(api)[0][1]["type"] == "image"
