"""``ChatAnswer`` and the chat magic's line: code blocks found, options read."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from conjure_kernel.notebook.chat_answer import ChatAnswer, code_blocks
from conjure_kernel.notebook.notebook_data import chat_options

ANSWER = "Try:\n\n~~~sql\nSELECT 1;\n~~~\n\n````python\nprint('```')\n````\n\nDone."


def test_code_blocks_keep_their_language_and_their_own_fences():
    assert code_blocks(ANSWER) == [("sql", "SELECT 1;\n"), ("python", "print('```')\n")]
    answer = ChatAnswer(ANSWER, code_blocks(ANSWER))
    assert answer.code() == "print('```')\n" and answer.code("SQL") == "SELECT 1;\n"
    assert ChatAnswer("none").code() == "" and str(answer) == ANSWER


def answered(text: str) -> ChatAnswer:
    return ChatAnswer(text, code_blocks(text))


def test_code_prefers_the_language_by_any_of_its_names_over_a_plain_block():
    quoted = "It says:\n```\nZeroDivisionError: division by zero\n```\n"
    assert answered(quoted + "```py\nx = 1\n```").code() == "x = 1\n"
    assert answered(quoted + "```IPython3\nx = 2\n```").code("python") == "x = 2\n"
    assert answered(quoted).code() == "ZeroDivisionError: division by zero\n"
    assert answered("```bash\nls\n```\n```\nplain\n```").code("sh") == "plain\n"


@pytest.mark.parametrize(
    ("line", "read"),
    [
        ("", (None, False, "")),
        ("-o answer", ("answer", False, "")),
        ("-o answer What is 2+2?", ("answer", False, "What is 2+2?")),
        ("fix", (None, True, "")),
        ("--output result fix", ("result", True, "")),
        ("fix use numpy", (None, True, "use numpy")),
        ("-o fixed fix  keep it short ", ("fixed", True, "keep it short")),
        ("fixed the grammar of this", (None, False, "fixed the grammar of this")),
    ],
)
def test_the_line_reads_an_output_name_and_fix(line, read):
    assert chat_options(line) == read


@pytest.mark.parametrize("line", ["-o", "-o 9lives", "-o a.b", "-o class", "-o None hi"])
def test_an_output_that_is_not_a_name_is_refused(line):
    with pytest.raises(UsageError, match="-o needs a Python name"):
        chat_options(line)
