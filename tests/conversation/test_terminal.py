"""What a command printed, read as a terminal shows it: styled runs, escapes resolved."""

from __future__ import annotations

import pytest

from conjure_kernel.conversation.terminal import Run, plain_text, terminal_runs


def test_text_without_control_characters_is_one_run_as_it_is():
    text = "a\tb\n<c> & d\n"
    assert terminal_runs(text) == [Run(text)]
    assert terminal_runs("") == []


def test_colours_bold_and_underline_become_jupyterlab_classes():
    assert terminal_runs("\x1b[1;92mok\x1b[22m then\x1b[39m \x1b[4;41mbad\x1b[0m.") == [
        Run("ok", "ansi-green-intense-fg ansi-bold"),
        Run(" then", "ansi-green-intense-fg"),
        Run(" "),
        Run("bad", "ansi-red-bg ansi-underline"),
        Run("."),
    ]


def test_the_sixteen_colours_of_256_keep_their_name_and_others_are_dropped():
    assert terminal_runs("\x1b[38;5;3my\x1b[38;5;31mx\x1b[38;2;1;2;3mz\x1b[m") == [
        Run("y", "ansi-yellow-fg"),
        Run("xz"),
    ]


def test_a_newline_takes_the_style_it_is_printed_in():
    assert terminal_runs("\x1b[31mred\nstill\x1b[0m\n") == [
        Run("red\nstill", "ansi-red-fg"),
        Run("\n"),
    ]


@pytest.mark.parametrize(
    ("printed", "shown"),
    [
        ("10%\r55%\r100%\n", "100%\n"),
        ("abcdef\rxy\n", "xycdef\n"),
        ("downloading\r\x1b[Kdone\n", "done\n"),
        ("spin|\b/\b-\n", "spin-\n"),
        ("windows\r\nline\r\n", "windows\nline\n"),
        (
            "\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\ and \x1b]0;title\x07text",
            "link and text",
        ),
        ("bell\x07 and \x00null \x1b(Bcharset \x1b7saved", "bell and null charset saved"),
        ("\x1b[2Aup \x1b[3Cright \x1b[?25lhidden", "up right hidden"),
        ("cut at \x1b[3", "cut at 3"),
    ],
)
def test_control_sequences_leave_what_a_terminal_shows(printed, shown):
    assert plain_text(printed) == shown


def test_erasing_the_whole_line_blanks_what_was_written_on_it():
    assert plain_text("abc\x1b[2K\n") == "   \n"
    assert plain_text("abcdef\r\x1b[2Kxy\n") == "xy\n"


def test_hostile_sequences_neither_crash_nor_hide_the_rest():
    """A parameter of thousands of digits (int() refuses them) is no colour; an OSC left
    unterminated ends with its line, so what follows still shows."""
    assert terminal_runs("\x1b[38;5;" + "9" * 4400 + "mx\x1b[" + "1" * 5000 + "my") == [Run("xy")]
    assert plain_text("a\x1b]0;never ended\nvisible\x1b]8;;" + "u" * 10_000 + "z") == (
        "a\nvisible" + "u" * (10_000 - 4096 + 3) + "z"
    )


def test_a_long_output_is_read_in_one_pass():
    """Many lines of one style merge into one run (joined once, not grown line by line)."""
    runs = terminal_runs("\x1b[0m" + "a\n" * 50_000)
    assert runs == [Run("a\n" * 50_000)]
