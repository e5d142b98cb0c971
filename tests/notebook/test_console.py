"""Chat turns in ``jupyter console``, driven in a pseudo-terminal.

The console prints an output's ``text/plain`` once, when the output is added, ignores
redraws (``update_display_data``), and runs the conjure kernel from its kernelspec; the
kernel inherits the console's environment, so it talks to the local Messages API. Each
wait is bounded by the spawn's timeout.
"""

from __future__ import annotations

import io
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pexpect
import pytest
from fakeapi import FakeMessagesAPI, replies

pytest.importorskip("jupyter_console", reason="the console is one of the test extras")

ESCAPES = r"(?:\x1b\[[\d;]*m)*"
TERMINAL_CODES = re.compile(r"\x1b\[[\d;?]*[A-Za-z]|\r")
FOOTER = re.compile(r"local backend · [\d,]+ in .* out")
ANSWER = (
    "The folder holds one file.\n\n"
    "It is called notes.txt and it is small, as the listing shows.\n\n"
    "Nothing else is there."
)


def prompt(number: int) -> re.Pattern[str]:
    """``In [number]:``, coloured or not."""
    return re.compile(rf"In \[{ESCAPES}{number}{ESCAPES}\]")


@dataclass
class Console:
    api: FakeMessagesAPI
    child: pexpect.spawn
    transcript: io.StringIO

    def printed(self) -> str:
        """What the terminal shows so far, without its control codes."""
        return TERMINAL_CODES.sub("", self.transcript.getvalue())

    def lines(self) -> list[str]:
        return self.printed().split("\n")


@pytest.fixture
def console(tmp_path) -> Iterator[Console]:
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
        child.logfile_read = transcript = io.StringIO()
        try:
            child.expect(prompt(1))
            child.sendline("%permissions auto")
            child.expect(prompt(2))
            yield Console(api, child, transcript)
        finally:
            if child.isalive():
                child.sendeof()
                child.expect(pexpect.EOF)
            child.close()


def test_a_turn_shows_its_tool_calls_and_answer_as_it_runs(console):
    child = console.child
    answer = replies.slow(replies.text(ANSWER), 0.1, between_events=True)
    console.api.script(replies.tool_use("bash_tool", {"command": "ls"}), answer)
    child.sendline("What is in the folder?")
    child.expect(r"local backend · running…")
    child.expect(re.escape("[bash_tool ls · running…]"))
    child.expect(r"\[bash_tool ls · exit 0 · [\d.<]+ m?s\]")
    child.expect("The folder holds one file.")
    assert "Nothing else" not in child.buffer, "the first paragraph waited for the end"
    child.expect("It is called notes.txt and it is small, as the listing shows.")
    child.expect("Nothing else is there.")
    child.expect(FOOTER)  # the turn's summary, once it ended
    child.expect(prompt(3))
    printed = console.printed()
    for line in ANSWER.split("\n\n"):
        assert printed.count(line) == 1, f"{line!r} was not printed exactly once"
    assert printed.count("[bash_tool ls · running…]") == 1
    assert len(re.findall(r"\[bash_tool ls · exit 0 · ", printed)) == 1
    assert len(FOOTER.findall(printed)) == 1


def test_a_call_the_person_denies_is_shown_denied_once(console):
    child = console.child
    child.sendline("%permissions ask")
    child.expect(prompt(3))
    console.api.script(
        replies.tool_use("bash_tool", {"command": "touch made.txt"}),
        replies.text("I left the folder alone."),
    )
    child.sendline("Make a file")
    child.expect("Allow bash_tool to")
    child.sendline("n not today")
    child.expect("I left the folder alone.")
    child.expect(FOOTER)
    child.expect(prompt(4))
    lines = console.lines()
    assert lines.count("[bash_tool touch made.txt · denied]") == 1
    [approval] = [line for line in lines if line.endswith(" · denied (by the person: not today)]")]
    assert approval.startswith("[approval for bash_tool touch made.txt")
    assert console.printed().count("I left the folder alone.") == 1


def test_an_interrupted_call_is_shown_interrupted_once(console):
    child = console.child
    console.api.script(replies.tool_use("bash_tool", {"command": "sleep 30"}))
    child.sendline("Wait a while")
    child.expect(re.escape("[bash_tool sleep 30 · running…]"))
    child.sendintr()
    child.expect(re.escape("[bash_tool sleep 30 · interrupted]"))
    child.expect(FOOTER)
    child.expect("TurnInterrupted: interrupted")
    child.expect(prompt(3))
    printed = console.printed()  # "^C", echoed, starts the line after the running one
    assert printed.count("[bash_tool sleep 30 · interrupted]") == 1
    assert printed.count("[bash_tool sleep 30 · running…]") == 1
    assert printed.count("TurnInterrupted") == 1


@pytest.mark.parametrize("word", ["exit", "quit()"])
def test_exit_leaves_the_console_and_nothing_warns(console, word):
    """Nothing reaches Claude, and neither the start nor the leaving prints a warning
    (ipykernel's about plain TCP, the debugger's, or "Parent appears to have exited")."""
    child = console.child
    console.api.script(replies.tool_use("bash_tool", {"command": "ls"}), replies.text(ANSWER))
    child.sendline("What is in the folder?")  # a conversation to close: the SDK is loaded
    child.expect(FOOTER)
    child.expect(prompt(3))
    child.sendline(word)
    child.expect("Shutting down kernel")
    child.expect(pexpect.EOF)
    assert console.api.pending == 0 and len(console.api.requests_to("POST", "/v1/messages")) == 2
    printed = console.printed()
    assert "WARNING" not in printed and "warning" not in printed.lower(), printed


def test_a_failed_turn_says_its_error_once(console):
    """A budget stop before the first call ends the turn at once, so its saved text is
    all a console prints of it: without the error, which the raised error says, its
    hint marked as the saved text marks it."""
    child = console.child
    console.api.script(replies.text("Hello."))
    child.sendline("Hi")  # opens the backend, so the next turn ends at once
    child.expect(FOOTER)
    child.expect(prompt(3))
    child.sendline("%budget cell=$0.0001")
    child.expect(prompt(4))
    child.sendline("What is in the folder?")
    child.expect("BudgetExceeded")
    child.expect(prompt(5))
    printed = console.printed()
    turn = printed[printed.index("What is in the folder?") :]
    assert turn.count("BudgetExceeded") == 1, turn
    assert turn.count("hint: raise the limit with %budget cell=") == 1, turn
    assert len(FOOTER.findall(turn)) == 1, turn
    assert console.api.pending == 0 and len(console.api.requests_to("POST", "/v1/messages")) == 1
