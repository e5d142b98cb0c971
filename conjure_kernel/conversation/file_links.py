"""Where a created file can be linked from: the notebook's folder, by a relative URL.

Split from labels.py: a created file's line is a label, its link is a path worked out
against the folder the turn is saved in. The saved record carries both, so the
JupyterLab renderer links a file without working out any path.
"""

from __future__ import annotations

import os
import urllib.parse

__all__ = ["IMAGE_SUFFIXES", "FileLinks", "is_image"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")
"""Files shown inline as images."""


class FileLinks:
    """Where created files can be linked from: the notebook's folder on the host."""

    def __init__(self, workdir: str, folder: str) -> None:
        self.workdir = workdir
        """The session's workspace: a relative file path is relative to it."""
        self.folder = folder

    def link(self, path: str) -> str | None:
        """``path`` as a URL relative to the folder (percent-encoded, so never a scheme
        or a Markdown delimiter); None when the file lies outside it."""
        full = os.path.join(self.workdir, path) if self.workdir else path
        if not os.path.isabs(full) or not self.folder:
            return None
        try:
            relative = os.path.relpath(os.path.normpath(full), os.path.normpath(self.folder))
        except ValueError:  # another drive on Windows
            return None
        parts = relative.split(os.sep)
        if relative == os.curdir or parts[0] == os.pardir:
            return None
        return "/".join(urllib.parse.quote(part, safe="") for part in parts)


def is_image(path: str) -> bool:
    return path.lower().endswith(IMAGE_SUFFIXES)
