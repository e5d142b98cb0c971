"""Looks at this machine's processes, for tests that check nothing outlived a sandbox."""

from __future__ import annotations

import os
from pathlib import Path


def running_with(text: str) -> list[int]:
    """The live processes (not zombies) whose command line holds ``text``, this test's aside."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if text in command and state != "Z":
            found.append(int(entry.name))
    return found
