"""The Models API's lists on disk, by base URL, shared by every kernel of the user.

Split from models.py: keeping a file that several kernels write at once is its own
concern. It holds plain JSON (the catalog's entries as ``CatalogModel.to_json`` gives
them) under the Jupyter data folder, beside the skill-upload record; no part of an API
key is written, so lists are told apart by base URL only.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir

from .atomic_write import write_atomically

__all__ = ["CachedList", "ModelListCache"]

_SCHEMA = 1


@dataclass(frozen=True)
class CachedList:
    """One base URL's list as it was written, and when the API gave it."""

    fetched_at: float
    models: list[dict[str, Any]]


class ModelListCache:
    """The API's lists by base URL, in ``models.json`` in the Jupyter data folder.

    A write re-reads the file, drops lists older than the age kept and replaces the
    file atomically, so kernels that write at once lose nothing that matters (a lost
    write costs one listing more). An unreadable file counts as empty.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or Path(jupyter_data_dir()) / "conjure" / "models.json"

    def read(self, base_url: str) -> CachedList | None:
        """The list kept for ``base_url``, whatever its age; ``None`` if there is none."""
        entry = self._lists().get(base_url)
        if not isinstance(entry, dict) or not isinstance(entry.get("models"), list):
            return None
        fetched_at = entry.get("fetched_at")
        if not isinstance(fetched_at, int | float):
            return None
        return CachedList(float(fetched_at), entry["models"])

    def write(self, base_url: str, listed: CachedList, *, keep_for: float) -> None:
        """Keep ``listed`` for ``base_url``; lists fetched more than ``keep_for`` seconds
        before it go."""
        lists = {
            url: entry
            for url, entry in self._lists().items()
            if isinstance(entry, dict) and listed.fetched_at - _fetched_at(entry) < keep_for
        }
        lists[base_url] = {"fetched_at": listed.fetched_at, "models": listed.models}
        text = json.dumps({"schema": _SCHEMA, "lists": lists}, indent=1, sort_keys=True)
        with contextlib.suppress(OSError):  # a read-only home: the kernel's memory still serves
            write_atomically(self.path, text)

    def _lists(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        lists = data.get("lists") if isinstance(data, dict) else None
        return lists if isinstance(lists, dict) else {}


def _fetched_at(entry: Mapping[str, Any]) -> float:
    fetched_at = entry.get("fetched_at")
    return float(fetched_at) if isinstance(fetched_at, int | float) else float("-inf")
