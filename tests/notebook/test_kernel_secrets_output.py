"""Python and shell output in the conjure kernel: a ``%secret`` value never reaches the
frontend, so a notebook JupyterLab saves cannot hold it, while the rest stays as printed."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

import nbformat
import pytest
from kernel_harness import CellResult, RunningKernel
from nbclient import NotebookClient

from conjure_kernel.notebook.kernelspec import NOTEBOOK_KERNELSPEC
from conjure_kernel.notebook.secrets import Redactor

NAME = "CONJURE_TEST_TOKEN"
MARK = f"[secret {NAME}]"
TOKEN = "tok" + secrets.token_hex(16)
"""Only base64 letters, so it can hide inside an image's data too."""


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    work = tmp_path_factory.mktemp("work")
    with RunningKernel("conjure", cwd=work, env={NAME: TOKEN}) as running:
        assert running.run(f"%secret {NAME}").status == "ok"
        yield running


def python(kernel: RunningKernel, code: str) -> CellResult:
    return kernel.run(f"%%python\nimport os, sys\nsecret = os.environ[{NAME!r}]\n{code}")


def assert_never_sent(result: CellResult, *parts: str) -> None:
    """Neither the token nor a part of it in any message, nor in the streams joined up
    as a frontend joins them."""
    everything = json.dumps([message["content"] for message in result.messages]) + json.dumps(
        result.reply["content"]
    )
    for part in (TOKEN, *parts):
        assert part not in everything
        assert part not in result.text()


def streamed(result: CellResult, name: str = "stdout") -> str:
    return "".join(
        m["content"]["text"]
        for m in result.messages
        if m["msg_type"] == "stream" and m["content"]["name"] == name
    )


def test_printed_secret_is_redacted_and_the_rest_kept(kernel):
    result = python(kernel, "print('token:', secret)\nprint('to stderr', secret, file=sys.stderr)")
    assert result.status == "ok"
    assert streamed(result) == f"token: {MARK}\n"
    assert streamed(result, "stderr") == f"to stderr {MARK}\n"
    assert_never_sent(result)


def test_what_forked_processes_print_is_redacted(kernel):
    result = python(
        kernel,
        "import multiprocessing\n"
        "child = multiprocessing.get_context('fork').Process(target=print, args=('child', secret))\n"
        "child.start()\nchild.join()",
    )
    assert streamed(result) == f"child {MARK}\n"
    assert_never_sent(result)


def test_shell_escape_output_is_redacted(kernel):
    result = kernel.run(f'!echo "shell: ${NAME}"')
    assert result.status == "ok"
    assert streamed(result).strip() == f"shell: {MARK}"
    assert_never_sent(result)


def test_html_display_and_its_update_are_redacted(kernel):
    result = python(
        kernel,
        "from IPython.display import HTML, display\n"
        "handle = display(HTML(f'<b>{secret}</b>'), display_id=True)\n"
        "handle.update(HTML(f'<i>{secret}</i>'))",
    )
    kinds = [m["msg_type"] for m in result.messages if "data" in m["content"]]
    assert kinds == ["display_data", "update_display_data"]
    assert [b["text/html"] for b in result.bundles()] == [f"<b>{MARK}</b>", f"<i>{MARK}</i>"]
    assert_never_sent(result)


def test_results_and_json_displays_are_redacted(kernel):
    result = python(
        kernel, "from IPython.display import JSON\ndisplay(JSON({'key': [secret]}))\nsecret"
    )
    display, value = result.bundles()
    assert display["application/json"] == {"key": [MARK]}
    assert value["text/plain"] == repr(MARK)
    assert_never_sent(result)


def test_an_exception_carrying_the_secret_is_redacted(kernel):
    result = python(kernel, "raise RuntimeError('bad token ' + secret)")
    assert result.error == f"RuntimeError: bad token {MARK}"
    (error,) = [m["content"] for m in result.messages if m["msg_type"] == "error"]
    assert error["ename"] == "RuntimeError"
    assert error["evalue"] == f"bad token {MARK}"
    assert f"bad token {MARK}" in error["traceback"][-1]
    assert_never_sent(result)


def test_the_pager_showing_a_secret_is_redacted(kernel):
    """JupyterLab shows a reply's page (``name?``) as an output, and saves it."""
    result = python(kernel, "secret?")
    (page,) = [p for p in result.reply["content"]["payload"] if p["source"] == "page"]
    assert MARK in page["data"]["text/plain"]
    assert_never_sent(result)


@pytest.mark.parametrize("pause", ["sys.stdout.flush()", "import time; time.sleep(0.5)"])
def test_a_secret_written_in_two_pieces_is_redacted_whole(kernel, pause):
    """Between the pieces the first is sent (an explicit flush, or the stream's own
    flush timer); a frontend joins the two messages, so neither may carry a piece."""
    result = python(
        kernel, f"sys.stdout.write('before ' + secret[:12])\n{pause}\nprint(secret[12:] + ' after')"
    )
    assert streamed(result) == f"before {MARK} after\n"
    assert_never_sent(result, TOKEN[:12], TOKEN[12:])


def test_output_ending_in_the_start_of_a_secret_still_arrives(kernel):
    result = python(kernel, "sys.stdout.write('tail ' + secret[:8])")
    assert streamed(result) == f"tail {TOKEN[:8]}"


def test_only_a_tail_that_may_begin_a_secret_is_held_back(monkeypatch):
    monkeypatch.setenv("SHORT_ONE", "abcdef")
    monkeypatch.setenv("LONG_ONE", "xyzabcd-1234")
    unfinished = Redactor(["SHORT_ONE", "LONG_ONE"]).unfinished
    assert unfinished("text xyzabc") == len("xyzabc")  # LONG_ONE's start beats SHORT_ONE's
    assert unfinished("text abcdef") == 0  # a whole value is redacted, not held
    assert unfinished("text abd") == 0
    monkeypatch.setenv("SHORT_ONE", "abc")  # too short to be redacted, so never held
    assert unfinished("text ab") == 0


def test_image_data_is_left_alone(kernel):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode() + TOKEN
    result = python(kernel, f"display({{'image/png': {png!r}, 'text/plain': secret}}, raw=True)")
    (bundle,) = result.bundles()
    assert bundle == {"image/png": png, "text/plain": MARK}


def test_a_saved_notebook_holds_no_secret(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(NAME, TOKEN)
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": dict(NOTEBOOK_KERNELSPEC)})
    notebook.cells = [
        nbformat.v4.new_code_cell(source)
        for source in (
            f"%secret {NAME}",
            f"%%python\nimport os, sys\nsecret = os.environ[{NAME!r}]\nprint('token:', secret)",
            f'!echo "shell: ${NAME}"',
            "%%python\nfrom IPython.display import HTML\ndisplay(HTML(f'<b>{secret}</b>'))",
            "%%python\nsys.stdout.write(secret[:12])\nsys.stdout.flush()\nprint(secret[12:])",
            "%%python\nraise RuntimeError('bad token ' + secret)",
        )
    ]
    NotebookClient(
        notebook,
        timeout=120,
        allow_errors=True,
        coalesce_streams=True,  # as JupyterLab keeps consecutive stream messages
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    saved = tmp_path / "saved.ipynb"
    nbformat.write(notebook, saved)
    text = saved.read_text()
    assert TOKEN not in text and TOKEN[:12] not in text
    outputs = [cell.outputs for cell in notebook.cells]
    assert outputs[1][0]["text"] == f"token: {MARK}\n"
    assert outputs[2][0]["text"].strip() == f"shell: {MARK}"
    assert outputs[3][0]["data"]["text/html"] == f"<b>{MARK}</b>"
    assert outputs[4][0]["text"] == f"{MARK}\n"
    assert outputs[5][0]["evalue"] == f"bad token {MARK}"
