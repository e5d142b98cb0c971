"""The dispatcher over the workspace seam: the same texts whatever the workspace is."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from fake_workspace import FakeWorkspace

from conjure_kernel.backends.local_workspace import LocalWorkspace
from conjure_kernel.tools.executor import Executor
from conjure_kernel.tools.values import ToolCall, ToolResult
from conjure_kernel.tools.workspace import Workspace, WorkspaceTools

LIMIT = 2000
ROWS = "".join(f"row {n}\n" for n in range(1, 5001)).encode()
FILES = {
    "notes.txt": b"alpha\nbeta\n",
    "crlf.txt": b"one\r\ntwo\r\n",
    "edit.py": "".join(f"line {n}\n" for n in range(1, 11)).encode(),
    "dupes.txt": b"x = 1\nx = 1\n",
    "latin1.txt": "café\n".encode("latin-1"),
    "image.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "big.txt": ROWS,
    "unterminated.txt": ROWS + b"the end",
    "long-line.json": b"{" + b"x" * 10_000 + b"}",
    "nul-inside.log": ROWS + b"\0" + ROWS,
    "a/b/c/deep.txt": b"x",
    "a/top.txt": b"x",
    ".git/config": b"x",
    "node_modules/pkg/index.js": b"x",
}
CALLS = [
    ("view", {"path": "notes.txt"}),
    ("view", {"path": "crlf.txt"}),
    ("view", {"path": "notes.txt", "view_range": [2, -1]}),
    ("view", {"path": "notes.txt", "view_range": [5, 6]}),
    ("view", {"path": "notes.txt", "view_range": [1]}),
    ("view", {"path": "."}),
    ("view", {"path": "a"}),
    ("view", {"path": "nope.txt"}),
    ("view", {"path": "image.png"}),
    ("view", {"path": "latin1.txt"}),
    ("view", {"path": "big.txt"}),
    ("view", {"path": "big.txt", "view_range": [100, 400]}),
    ("view", {"path": "big.txt", "view_range": [4990, -1]}),
    ("view", {"path": "big.txt", "view_range": [6000, 6001]}),
    ("view", {"path": "big.txt", "view_range": [9, 3]}),
    ("view", {"path": "unterminated.txt"}),
    ("view", {"path": "long-line.json"}),
    ("view", {"path": "nul-inside.log"}),
    ("create_file", {"path": "out/deep/hello.txt", "file_text": "héllo\n"}),
    ("create_file", {"path": "notes.txt", "file_text": "new"}),
    ("create_file", {"path": "a", "file_text": "x"}),
    ("str_replace", {"path": "edit.py", "old_str": "line 5\n", "new_str": "five\nFIVE\n"}),
    ("str_replace", {"path": "edit.py", "old_str": "nothing"}),
    ("str_replace", {"path": "dupes.txt", "old_str": "x = 1", "new_str": "x = 2"}),
    ("str_replace", {"path": "missing.txt", "old_str": "x"}),
    ("view", {}),
    ("bash_tool", {"command": ["ls"]}),
    ("unknown_tool", {}),
]


def call(tools: WorkspaceTools, name: str, **arguments) -> ToolResult:
    return asyncio.run(tools.run(ToolCall("toolu_1", name, arguments)))


def fake_tools(files: dict[str, bytes], **options) -> tuple[WorkspaceTools, FakeWorkspace]:
    workspace = FakeWorkspace(**options)
    for path, data in files.items():
        workspace.put(path, data)
    return WorkspaceTools(workspace, timeout=30, max_output_chars=LIMIT), workspace


def shown_rows(content: str) -> list[tuple[int, int]]:
    """(line number, the n of ``row n``) for every numbered row line of a view."""
    return [(int(a), int(b)) for a, b in re.findall(r"^ *(\d+)\trow (\d+)$", content, re.M)]


def test_both_workspaces_are_workspaces_and_the_dispatcher_an_executor(tmp_path):
    local = WorkspaceTools(LocalWorkspace(tmp_path), timeout=1, max_output_chars=LIMIT)
    assert isinstance(local.workspace, Workspace) and isinstance(FakeWorkspace(), Workspace)
    assert isinstance(local, Executor)
    assert [tool["name"] for tool in local.tools] == [
        "view",
        "bash_tool",
        "create_file",
        "str_replace",
    ]


@pytest.mark.parametrize(("name", "arguments"), CALLS, ids=lambda x: str(x)[:40])
def test_the_fake_and_the_local_workspace_give_the_model_the_same_text(tmp_path, name, arguments):
    """Validation, formatting, truncation and error texts are the dispatcher's alone."""
    for path, data in FILES.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
    local = WorkspaceTools(LocalWorkspace(tmp_path), timeout=30, max_output_chars=LIMIT)
    fake, workspace = fake_tools(FILES)

    local_result, fake_result = call(local, name, **arguments), call(fake, name, **arguments)

    assert fake_result.content.replace(workspace.root, "<root>") == local_result.content.replace(
        str(tmp_path), "<root>"
    )
    assert fake_result.is_error == local_result.is_error
    if "path" in arguments and (tmp_path / arguments["path"]).is_file():
        assert (
            workspace.files[workspace.resolve(arguments["path"])]
            == (tmp_path / arguments["path"]).read_bytes()
        )


class Heard:
    """A call's watch that keeps what it is told."""

    def __init__(self) -> None:
        self.said: list[str] = []

    def printed(self, text: str) -> None:
        self.said.append(text)

    def notice(self, text: str) -> None:
        self.said.append(text)


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("view", {"path": "big.txt", "view_range": [100, 4000]}),  # counted, then its ends
        ("view", {"path": "big.txt", "view_range": [9, 3]}),  # counted whole for the error
        ("view", {"path": "a"}),
        ("create_file", {"path": "out.txt", "file_text": "x"}),
        ("str_replace", {"path": "edit.py", "old_str": "line 5", "new_str": "five"}),
    ],
    ids=lambda x: str(x)[:40],
)
def test_every_file_operation_of_a_call_carries_that_calls_watch(name, arguments):
    """So what the workspace says about itself while a file tool runs (a sandbox
    replaced) is said in that call."""
    tools, workspace = fake_tools(FILES)
    watch = Heard()
    asyncio.run(tools.run(ToolCall("toolu_1", name, arguments), watch))
    assert workspace.watches and all(seen is watch for seen in workspace.watches)


def test_paths_are_the_workspaces_own_never_the_hosts():
    tools, workspace = fake_tools({})
    result = call(tools, "create_file", path="~x/../report.md", file_text="# hi\n")
    assert result.content == "created /sandbox/work/report.md (5 bytes)"
    assert not Path("/sandbox/work/report.md").exists()
    assert workspace.files == {"/sandbox/work/report.md": b"# hi\n"}


# view of a large file


def test_a_large_view_shows_correctly_numbered_ends_and_names_what_it_left_out():
    tools, _ = fake_tools({"big.txt": ROWS})
    content = call(tools, "view", path="big.txt").content
    rows = shown_rows(content)
    assert all(number == n for number, n in rows)
    head = [n for n, _ in rows if n < 2500]
    tail = [n for n, _ in rows if n > 2500]
    assert head == list(range(1, len(head) + 1)) and tail == list(range(5001 - len(tail), 5001))
    note = (
        f"[... lines {len(head) + 1}-{5000 - len(tail):,} of 5,000 cut; view them with view_range"
    )
    assert note in content
    assert len(content) <= LIMIT


def test_a_large_view_reads_in_bounded_pieces_and_never_the_whole_file():
    big = ROWS * 200  # about 9 MB
    tools, workspace = fake_tools({"big.txt": big})
    content = call(tools, "view", path="big.txt").content
    assert f"of {5000 * 200:,} cut" in content
    assert max(end - start for start, end in workspace.reads) <= 1 << 20


def test_a_view_range_reads_only_up_to_the_last_requested_line():
    tools, workspace = fake_tools({"big.txt": ROWS * 200})
    result = call(tools, "view", path="big.txt", view_range=[3, 4])
    assert result.content == "     3\trow 3\n     4\trow 4"
    assert max(end for _, end in workspace.reads) <= 1 << 16


def test_a_large_view_range_shows_its_own_ends():
    tools, _ = fake_tools({"big.txt": ROWS})
    content = call(tools, "view", path="big.txt", view_range=[1000, 3000]).content
    rows = shown_rows(content)
    assert rows[0] == (1000, 1000) and rows[-1] == (3000, 3000)
    assert all(number == n for number, n in rows)
    assert re.search(r"\[\.\.\. lines 1,\d+-2,\d+ cut; view them with view_range", content)


def test_the_tail_is_numbered_right_when_the_file_ends_without_a_newline_or_with_blank_lines():
    tools, _ = fake_tools({"a.txt": ROWS + b"\n\nlast", "b.txt": ROWS + b"\n\n"})
    assert call(tools, "view", path="a.txt").content.endswith("  5001\t\n  5002\t\n  5003\tlast")
    assert call(tools, "view", path="b.txt").content.endswith(
        "  5000\trow 5000\n  5001\t\n  5002\t"
    )


def test_a_large_view_of_multibyte_text_decodes_across_its_reads():
    text = "".join(f"{'é漢' * (n % 7)} {n}\n" for n in range(1, 3000))
    tools, _ = fake_tools({"u.txt": text.encode()})
    result = call(tools, "view", path="u.txt")
    assert not result.is_error and result.content.startswith("     1\té漢 1\n")
    assert result.content.endswith(f"  2999\t{'é漢' * (2999 % 7)} 2999")


def test_invalid_utf8_in_the_shown_tail_of_a_large_file_is_binary():
    tools, _ = fake_tools({"data.bin": ROWS + b"\xff\xfe tail\n"})
    result = call(tools, "view", path="data.bin")
    assert result.is_error and "binary file" in result.content


def test_a_line_too_long_for_the_view_is_shown_in_part_with_a_hint():
    tools, _ = fake_tools({"one.json": b"[" + b"7," * 50_000 + b"7]"})
    content = call(tools, "view", path="one.json").content
    head, note, tail = content.split("\n")
    assert head.startswith("     1\t[7,7,") and tail.startswith("     1\t…") and tail.endswith("7]")
    assert "line 1 of 1 shown in part" in note and "bash_tool" in note


# bash_tool


def test_bash_results_are_formatted_by_the_dispatcher():
    tools, workspace = fake_tools({}, command=lambda command: (3, b"out\n", b"oops\n"))
    result = call(tools, "bash_tool", command="make")
    assert result == ToolResult(
        "toolu_1", "out\nstderr:\noops\nexit code: 3", is_error=True, exit_code=3
    )
    assert workspace.commands == [("make", 30, LIMIT // 2 * 4)]


def test_output_capped_in_the_workspace_is_cut_once_with_the_true_size():
    stdout = b"".join(b"%07d\n" % n for n in range(1_250_000))  # 10,000,000 bytes
    tools, _ = fake_tools({}, command=lambda command: (0, stdout, b""))
    content = call(tools, "bash_tool", command="seq").content
    assert len(content) < LIMIT + 200
    assert content.startswith("0000000\n0000001\n") and "1249999\nexit code: 0" in content
    note = re.search(r"\(([\d,]+) lines\) cut; the output was 10,000,000 characters", content)
    assert note, content
    shown_lines = content.count("\n") - 1  # less the break after the note
    assert int(note[1].replace(",", "")) + shown_lines == 1_250_000


def test_aclose_closes_the_workspace():
    tools, workspace = fake_tools({})
    asyncio.run(tools.aclose())
    assert workspace.closed
