"""What the ``local`` backend's tools run on: this machine's system and its programs'
versions, kept in each turn's record so that a replay elsewhere says what differs.

Split from local.py: it asks each program once per process (a few milliseconds each),
where the backend's session itself is about running commands.
"""

from __future__ import annotations

import functools
import platform
import re
import shutil
import subprocess

__all__ = ["describe_programs", "host_versions"]

_ASKED = {
    "bash": ["--version"],
    "python3": ["--version"],
    "node": ["--version"],
    "pandoc": ["--version"],
    "pdftotext": ["-v"],
    "qpdf": ["--version"],
}
"""Programs whose version a skill's output may depend on, and how each says it."""
_PRESENT_ONLY = ("soffice",)
"""Programs only looked up: asking LibreOffice its version starts it, which takes seconds."""
_VERSION = re.compile(r"\d+(?:\.\d+)+")
_TIMEOUT = 5.0


@functools.cache
def host_versions() -> dict[str, str]:
    """``system`` and each program found on PATH: its version, or ``present``."""
    found = {"system": f"{platform.system()} {platform.machine()}"}
    for program, arguments in _ASKED.items():
        path = shutil.which(program)
        if path is not None:
            found[program] = _version([path, *arguments])
    for program in _PRESENT_ONLY:
        if shutil.which(program) is not None:
            found[program] = "present"
    return found


def _version(argv: list[str]) -> str:
    """The first version number a program prints about itself (``present`` if none)."""
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=_TIMEOUT, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return "present"
    match = _VERSION.search(done.stdout + done.stderr)
    return match.group(0) if match else "present"


_DOCUMENT_PROGRAMS = {
    "python3": "python3",
    "node": "node",
    "soffice": "soffice (LibreOffice)",
    "pandoc": "pandoc",
    "pdftotext": "poppler (pdftotext, pdftoppm)",
    "qpdf": "qpdf",
}
"""The programs document skills run, as the system prompt names them."""


def describe_programs(versions: dict[str, str]) -> str:
    """A sentence for the system prompt: which of the programs skills use are here, and
    which are not, so Claude is not promised what this machine lacks."""
    here = [
        name if versions[program] == "present" else f"{name} {versions[program]}"
        for program, name in _DOCUMENT_PROGRAMS.items()
        if program in versions
    ]
    missing = [name for program, name in _DOCUMENT_PROGRAMS.items() if program not in versions]
    text = f"Installed here: {', '.join(here)}." if here else ""
    return f"{text} Not installed: {', '.join(missing)}." if missing else text
