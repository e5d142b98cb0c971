"""MCP servers the tests start (see demo.py), and where to find them."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "DEMO",
    "PLAIN",
    "STUCK",
    "STUCK_CHILD",
    "demo_argv",
    "processes_with",
    "serving_http",
]

DEMO = Path(__file__).with_name("demo.py")
PLAIN = Path(__file__).with_name("plain.py")
"""An MCP server without the SDK, for the docker image."""
STUCK = Path(__file__).with_name("stuck.py")
"""A server that never finishes starting, with a child; both ignore SIGTERM."""
STUCK_CHILD = "SIG_IGN"
"""On the command line of the stuck server's child only: once it runs, both do."""


def processes_with(*parts: str) -> list[int]:
    """The live processes (zombies do not count) whose command line holds every one of
    ``parts``, read from /proc: it shows those in a sandbox's own pid namespace too."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):  # it ended while being read
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if all(part in command for part in parts) and state != "Z":
                found.append(int(entry.name))
    return found


def demo_argv() -> list[str]:
    """The command line of the demo server over stdio."""
    return [sys.executable, str(DEMO)]


@contextlib.contextmanager
def serving_http() -> Iterator[str]:
    """The demo server over streamable HTTP on a free port; yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [*demo_argv(), "http", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(300):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.kill()
        process.wait()
