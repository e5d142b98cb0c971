"""A hostile process in the sandbox races the kernel's host-side file tools.

It keeps swapping a workspace file, and a workspace folder, between the real thing and
a symbolic link to a host path outside every mount (by the host's absolute path, and
by a relative one). Thousands of ``view``, ``create_file`` and ``str_replace`` calls
run meanwhile, several at a time; none may read the host file or write beside it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

import pytest
from docker_support import engine_with_image, in_sandbox, spec_for

from conjure_kernel.backends.docker.workspace import DockerWorkspace
from conjure_kernel.tools.values import ToolCall
from conjure_kernel.tools.workspace import WorkspaceTools

SECRET = "host-only secret " + secrets.token_hex(8)
CALLS = 2400
RACE_SECONDS = 120  # the flipper stops by itself after this, whatever happens here

FLIPPER = r"""
import ctypes, os, sys, time
# swaps a real entry with a link out, one renameat2(RENAME_EXCHANGE) a flip: the
# tightest race a process can run
libc = ctypes.CDLL(None, use_errno=True)
first, second, seconds = sys.argv[1].encode(), sys.argv[2].encode(), float(sys.argv[3])
open(sys.argv[4], "w").close()
end = time.monotonic() + seconds
while time.monotonic() < end:
    for _ in range(1000):
        libc.renameat2(-100, first, -100, second, 2)
"""


@pytest.fixture(scope="module")
def client():
    return engine_with_image()


def test_link_flipping_never_lets_a_file_tool_out_of_the_workspace(client, tmp_path: Path):
    workspace_dir = tmp_path / "ws"
    outside = tmp_path / "outside"
    workspace_dir.mkdir()
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text(SECRET)
    (workspace_dir / "flip.txt").write_text("inside: old text\n")
    (workspace_dir / "flip2.txt").write_text("inside: old text\n")
    (workspace_dir / ".link-absolute").symlink_to(secret)  # the host's path
    (workspace_dir / ".link-relative").symlink_to("../outside/secret.txt")
    (workspace_dir / ".link-folder").symlink_to(outside)
    (workspace_dir / "box").mkdir()
    (workspace_dir / "box" / "secret.txt").write_text("inside: old text\n")
    (workspace_dir / "flipper.py").write_text(FLIPPER)
    spec = spec_for(workspace_dir)

    async def scenario(workspace: DockerWorkspace) -> list:
        tools = WorkspaceTools(workspace, timeout=60, max_output_chars=20_000)
        flippers = [
            ("flip.txt", ".link-absolute"),
            ("flip2.txt", ".link-relative"),
            ("box", ".link-folder"),
        ]
        started = await workspace.exec(
            " ".join(
                f"python3 flipper.py {entry} {link} {RACE_SECONDS} .flipping-{entry} "
                ">/dev/null 2>&1 &"
                for entry, link in flippers
            ),
            timeout=30,
            keep=4000,
        )
        assert started.exit_code == 0
        for _ in range(600):  # the flippers need a moment to start; the race needs them
            if all((workspace_dir / f".flipping-{entry}").exists() for entry, _ in flippers):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the flippers did not start")
        results = []
        for batch in range(0, CALLS, 8):
            calls = [_call(number) for number in range(batch, batch + 8)]
            results += await asyncio.gather(*(tools.run(call) for call in calls))
        await workspace.exec("pkill -f flipper.py; true", timeout=30, keep=4000)
        return results

    results = in_sandbox(client, spec, scenario)
    assert len(results) == CALLS
    leaked = [r.content for r in results if SECRET in r.content]
    assert leaked == []
    assert secret.read_text() == SECRET
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    # the race really ran: some calls saw the real file, some met a link
    assert any("inside" in r.content and not r.is_error for r in results)
    assert any(r.is_error for r in results)


def _call(number: int) -> ToolCall:
    """The n-th call of the barrage: every file tool, on the flipping file and folder."""
    kind = number % 6
    flip = "flip.txt" if number % 12 < 6 else "flip2.txt"
    if kind == 0:
        return ToolCall(f"c{number}", "view", {"path": flip})
    if kind == 1:
        return ToolCall(f"c{number}", "view", {"path": "box/secret.txt"})
    if kind == 2:
        return ToolCall(
            f"c{number}", "create_file", {"path": flip, "file_text": "written by a tool"}
        )
    if kind == 3:
        return ToolCall(
            f"c{number}",
            "create_file",
            {"path": f"box/new-{number}.txt", "file_text": "written by a tool"},
        )
    if kind == 4:
        return ToolCall(
            f"c{number}",
            "str_replace",
            {"path": "box/secret.txt", "old_str": "old text", "new_str": "old text"},
        )
    return ToolCall(f"c{number}", "view", {"path": "box"})
