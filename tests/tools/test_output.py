from conjure_kernel.tools.output import StreamCapture, format_exec_result, truncate_output
from conjure_kernel.tools.values import ExecResult, Gap


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


def test_exec_result_names_a_process_left_running_and_what_becomes_of_it():
    text = format_exec_result(ExecResult(0, "started\n", "", background=((42, "sleep 300"),)), 1000)
    assert text == (
        "started\nexit code: 0\n1 background process is still running (pid 42: sleep 300); "
        "it is stopped when the session resets or ends, and its output is discarded "
        "(redirect it to a file to read it)"
    )


def test_exec_result_lists_a_few_background_processes_shortened_and_counts_the_rest():
    background = tuple((pid, f"server --port {pid} " + "x" * 200) for pid in range(1, 6))
    note = format_exec_result(ExecResult(0, "", "", background=background), 1000).splitlines()[-1]
    assert note.startswith("5 background processes are still running (pid 1: server --port 1 x")
    assert note.count("pid ") == 3 and "…; pid 2: " in note and "…; and 2 more); they are" in note
    assert "their output is discarded" in note and len(note) < 500


# capped while reading


def feed(capture: StreamCapture, data: bytes, piece: int = 1000) -> StreamCapture:
    for start in range(0, len(data), piece):
        capture.feed(data[start : start + piece])
    return capture


def test_a_stream_under_the_cap_is_kept_whole_even_a_character_split_between_reads():
    text, gap = feed(StreamCapture(keep=10), "abcdé漢字xyz".encode(), piece=1).result()
    assert (text, gap) == ("abcdé漢字xyz", None)


def test_a_stream_over_the_cap_keeps_both_ends_and_counts_the_middle():
    data = b"".join(b"%05d\n" % n for n in range(100_000))  # 600,000 bytes
    text, gap = feed(StreamCapture(keep=600), data).result()
    assert text == data[:600].decode() + data[-600:].decode()
    assert gap == Gap(at=600, chars=len(data) - 1200, lines=100_000 - 200)


def test_the_dropped_middle_counts_characters_not_bytes():
    data = ("é" * 100 + "end!").encode()
    text, gap = feed(StreamCapture(keep=4), data, piece=7).result()
    assert (text, gap) == ("ééend!", Gap(at=2, chars=98, lines=0))


def test_a_gap_lies_inside_the_cut_and_the_note_counts_it():
    text = "".join(f"line {n}\n" for n in range(100))
    shortened = truncate_output(text, 200, Gap(at=len(text) // 2, chars=1_000_000, lines=5_000))
    cut = text[len(shortened.split("[...")[0]) : len(text) - len(shortened.split("]\n")[1])]
    assert f"({cut.count(chr(10)) + 5_000:,} lines) cut" in shortened
    assert f"the output was {len(text) + 1_000_000:,} characters" in shortened


def test_a_gap_in_text_within_the_limit_still_gets_its_note():
    assert truncate_output("head\ntail\n", 100, Gap(at=5, chars=7, lines=2)) == (
        "head\n[... 7 characters (2 lines) cut; the output was 17 characters ...]\ntail\n"
    )


def test_exec_results_with_gaps_are_cut_once():
    result = ExecResult(
        0, "a" * 5000, "e" * 5000, stdout_gap=Gap(2500, 10**6, 0), stderr_gap=Gap(2500, 10**6, 0)
    )
    text = format_exec_result(result, 1000)
    assert text.count("cut;") == 2 and text.count("the output was 1,005,000 characters") == 2
