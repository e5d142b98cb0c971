from conjure_kernel.tools.output import format_exec_result, truncate_output
from conjure_kernel.tools.values import ExecResult


def test_short_text_is_unchanged():
    assert truncate_output("hello\n", 100) == "hello\n"


def test_truncation_keeps_head_and_tail_and_says_what_was_cut():
    text = "".join(f"line {n}\n" for n in range(10_000))
    shortened = truncate_output(text, 1000)
    assert shortened.startswith("line 0\nline 1\n")
    assert shortened.endswith("line 9998\nline 9999\n")
    assert f"the output was {len(text):,} characters" in shortened
    assert len(shortened) < 1200


def test_truncation_cuts_on_line_boundaries_and_counts_them():
    text = "".join(f"{n:04}\n" for n in range(1000))  # 5 characters a line
    shortened = truncate_output(text, 100)
    head, note, tail = shortened.partition("[...")[0], *shortened.partition("[...")[1:]
    assert head.endswith("\n") and all(len(line) == 4 for line in head.splitlines())
    kept = head.count("\n") + tail.split("]\n", 1)[1].count("\n")
    assert f"({1000 - kept:,} lines) cut" in note + tail


def test_text_without_newlines_is_cut_mid_line():
    shortened = truncate_output("x" * 5000, 100)
    assert shortened.startswith("x" * 50 + "\n[... 4,900 characters")
    assert shortened.endswith("...]\n" + "x" * 50)


def test_exec_result_shows_stdout_labelled_stderr_and_exit_code():
    text = format_exec_result(ExecResult(2, "out\n", "err\n"), 1000)
    assert text == "out\nstderr:\nerr\nexit code: 2"


def test_exec_result_without_output_says_so():
    assert format_exec_result(ExecResult(0, "", ""), 1000) == "(no output)\nexit code: 0"


def test_exec_result_names_the_timeout_and_the_signal():
    text = format_exec_result(ExecResult(-15, "partial\n", "", timed_out=True), 1000, timeout=0.5)
    assert "exit code: -15 (killed by SIGTERM)" in text
    assert "timed out after 0.5 s" in text


def test_exec_result_streams_share_the_limit():
    text = format_exec_result(ExecResult(1, "o" * 10_000, "e" * 10_000), 1000)
    assert text.count("o") < 700 and text.count("e") < 700
    assert text.count("lines) cut") == 2


def test_short_stdout_leaves_room_for_stderr():
    text = format_exec_result(ExecResult(1, "ok\n", "e" * 900), 1000)
    assert "e" * 900 in text
