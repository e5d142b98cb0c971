"""Which files a chat turn made on this machine: what ``ChatAnswer.files`` holds.

The tools name files as they see them (``/workspace/…`` in a container), and a command
(``bash_tool`` running a document skill's script) names none at all. So the workdir is
listed before and after the turn, cheaply and within a bound, and the files new or
changed in it are the turn's, by their paths on this machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..conversation.turn import FileEntry

if TYPE_CHECKING:
    from ..conversation.session import Session
    from ..conversation.transcript import TurnRecord

__all__ = ["MAX_LISTED_FILES", "WorkdirListing"]

MAX_LISTED_FILES = 20_000
"""The most files a listing looks at; a bigger workdir is listed only this far."""
_SKIPPED_FOLDERS = {"__pycache__", "node_modules"}
"""Folders never listed, besides hidden ones (``.git``, ``.ipynb_checkpoints``)."""


@dataclass
class WorkdirListing:
    """The workdir's files, each with its (modification time, size), taken before a turn."""

    workdir: Path
    files: dict[str, tuple[int, int]]

    @classmethod
    def of(cls, session: Session) -> WorkdirListing:
        """The listing of the folder the session's tools work in (the kernel's cwd when
        the backend's settings name none), without opening the backend."""
        setting = getattr(session.options.settings, "workdir", "") or ""
        workdir = Path(setting or Path.cwd()).expanduser().absolute()
        return cls(workdir, _listed(workdir))

    def made_by(self, record: TurnRecord) -> list[str]:
        """The files new or changed since this listing, then the downloads and relative
        ``create_file`` paths the record names (a replay that re-runs no tool still names
        those), each once, as paths on this machine."""
        listed = _listed(self.workdir).items()
        changed = sorted(path for path, mark in listed if self._made(path, mark))
        downloaded = [
            entry.path for entry in record.timeline.entries if isinstance(entry, FileEntry)
        ]
        created = [
            str(self.workdir / str(call.input.get("path", "")))
            for call, result in record.tool_calls
            if call.name == "create_file"
            and not result.is_error
            and call.input.get("path")
            and not os.path.isabs(str(call.input["path"]))
        ]
        return list(
            dict.fromkeys(os.path.normpath(path) for path in [*changed, *downloaded, *created])
        )

    def _made(self, path: str, mark: tuple[int, int]) -> bool:
        """New, or changed and not a notebook (which the frontend saves while a turn runs)."""
        if path not in self.files:
            return True
        return self.files[path] != mark and not path.endswith(".ipynb")


def _listed(workdir: Path) -> dict[str, tuple[int, int]]:
    """Each file under ``workdir`` (hidden and cache folders skipped, links not followed)
    with its (mtime in ns, size); at most ``MAX_LISTED_FILES``."""
    listed: dict[str, tuple[int, int]] = {}
    folders = [str(workdir)]
    while folders and len(listed) < MAX_LISTED_FILES:
        try:
            entries = list(os.scandir(folders.pop()))
        except OSError:
            continue  # gone or unreadable: nothing of it to list
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if not entry.name.startswith(".") and entry.name not in _SKIPPED_FOLDERS:
                    folders.append(entry.path)
            elif entry.is_file(follow_symlinks=False) and len(listed) < MAX_LISTED_FILES:
                try:
                    stat = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                listed[entry.path] = (stat.st_mtime_ns, stat.st_size)
    return listed
