"""``exit`` and ``quit`` in a conjure kernel: IPython's way out, not a message to Claude.

The kernel asks the frontend to leave (the ``ask_exit`` payload, which ``jupyter console``
obeys: test_console.py) and keeps running until the frontend shuts it down; a notebook,
which ignores the payload, gets a note on how to stop the kernel instead.
"""

from __future__ import annotations

import pytest
from fakeapi import replies

from conjure_kernel.notebook.kernel import STAYING_HINT, is_chat_cell

EXITS = ["exit", "quit", "exit()", "quit()", "  exit \n", "%%python\nexit"]


def test_exit_asks_the_frontend_to_leave_and_the_kernel_goes_on(api, kernel):
    for code in EXITS:
        result = kernel.run(code)
        assert result.status == "ok", code
        assert result.reply["content"]["payload"] == [{"source": "ask_exit", "keepkernel": False}]
        [note] = result.bundles()
        assert note == {"text/plain": "", "text/markdown": STAYING_HINT}  # a console prints none
    assert api.requests_to("POST", "/v1/messages") == []
    api.script(replies.text("Bye for now."))
    said = kernel.run("%conjure exit")  # the note's way to send the word
    assert "Bye for now." in said.text() and not said.reply["content"].get("payload")


@pytest.mark.parametrize("code", ["exit now", "Exit", "quit smoking?", "exit\nthe loop"])
def test_exit_in_a_sentence_is_a_message(code):
    assert is_chat_cell(code)
