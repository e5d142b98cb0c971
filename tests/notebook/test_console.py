"""A chat turn in ``jupyter console``, driven in a pseudo-terminal.

The console prints an output's ``text/plain`` once, when the output is added, ignores
redraws (``update_display_data``), and runs the conjure kernel from its kernelspec; the
kernel inherits the console's environment, so it talks to the local Messages API.
"""

from __future__ import annotations

import io
import os
import re
import sys

import pexpect
import pytest
from fakeapi import FakeMessagesAPI, replies

pytest.importorskip("jupyter_console", reason="the console is one of the test extras")

ESCAPES = r"(?:\x1b\[[\d;]*m)*"
ANSWER = (
    "The folder holds one file.\n\n"
    "It is called notes.txt and it is small, as the listing shows.\n\n"
    "Nothing else is there."
)


def prompt(number: int) -> re.Pattern[str]:
    """``In [number]:``, coloured or not."""
    return re.compile(rf"In \[{ESCAPES}{number}{ESCAPES}\]")


@pytest.fixture
def console(tmp_path):
    """``jupyter console --kernel conjure`` against a scripted API, with tools allowed."""
    with FakeMessagesAPI() as api:
        env = {**os.environ, "ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": api.url}
        env.pop("ANTHROPIC_AUTH_TOKEN", None)
        jupyter = os.path.join(os.path.dirname(sys.executable), "jupyter")
        child = pexpect.spawn(
            jupyter,
            ["console", "--kernel", "conjure", "--no-confirm-exit"],
            env=env,
            cwd=str(tmp_path),
            encoding="utf-8",
            timeout=60,
            dimensions=(50, 250),
        )
        try:
            child.expect(prompt(1))
            child.sendline("%permissions auto")
            child.expect(prompt(2))
            yield api, child
        finally:
            child.sendeof()
            child.expect(pexpect.EOF)
            child.close()


def test_a_turn_shows_its_tool_calls_and_answer_as_it_runs(console):
    api, child = console
    answer = replies.slow(replies.text(ANSWER), 0.1, between_events=True)
    api.script(replies.tool_use("bash_tool", {"command": "ls"}), answer)
    child.logfile_read = transcript = io.StringIO()
    child.sendline("What is in the folder?")
    child.expect(r"local backend · running…")
    child.expect(re.escape("[bash_tool ls · running…]"))
    child.expect("The folder holds one file.")
    assert "Nothing else" not in child.buffer, "the first paragraph waited for the end"
    child.expect("It is called notes.txt and it is small, as the listing shows.")
    child.expect("Nothing else is there.")
    child.expect(r"local backend · [\d,]+ in .* out")  # the turn's summary, once it ended
    child.expect(prompt(3))
    printed = transcript.getvalue()
    for line in ANSWER.split("\n\n"):
        assert printed.count(line) == 1, f"{line!r} was not printed exactly once"
    assert printed.count("[bash_tool ls") == 1
