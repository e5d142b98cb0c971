"""Files the hosted sandbox produced, downloaded into a folder on the host.

A code-execution result names each file the code wrote by a ``file_id``; the Files API
gives its name and bytes. The name comes from code the model wrote, so it is cut to a
plain file name before it touches the disk, and a file already in the folder is never
replaced: the download takes the next free ``name (1).ext``. Bytes stream to a hidden
``.part`` file that is renamed into place once complete, so an interrupted download
leaves neither a truncated file under the real name nor a stray reservation.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anthropic
from anthropic.types import FileExpiredError, FileNotDownloadableError

from ..errors import ModelError

if TYPE_CHECKING:
    from .account import AccountClient

__all__ = ["FILES_API", "Download", "download_file", "safe_filename"]

FILES_API = "Files API"
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
"""Characters no file name should carry on any system (separators, controls, Windows' reserved)."""
_MAX_NAME = 200
"""Characters kept of a name, leaving room for `` (n)`` and ``.part`` under common limits."""


@dataclass(frozen=True)
class Download:
    """A downloaded file: where it landed, and the name the sandbox gave it (made safe)."""

    file_id: str
    path: Path
    name: str

    @property
    def renamed(self) -> bool:
        """Whether a file of that name was there already, so this one took another."""
        return self.path.name != self.name


def safe_filename(name: str, fallback: str) -> str:
    """A plain, visible file name from ``name``: its last path part, unsafe characters
    replaced, no leading dots; ``fallback`` when nothing usable is left."""
    base = _UNSAFE.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip().lstrip(".")
    if not base.strip():
        return fallback
    if len(base) > _MAX_NAME:
        stem, suffix = os.path.splitext(base)
        base = stem[: _MAX_NAME - len(suffix)] + suffix
    return base


async def download_file(account: AccountClient, file_id: str, folder: Path) -> Download:
    """Download ``file_id`` into ``folder`` under its own (safe, free) name.

    A file the API will not hand out (not made by code execution, or expired) and a
    folder that cannot be written are ``ModelError``s that name the file and why.
    """
    async with account.api_call(FILES_API) as sdk:
        return await _download(sdk, file_id, folder)


async def _download(sdk: anthropic.AsyncAnthropic, file_id: str, folder: Path) -> Download:
    name = file_id
    try:
        metadata = await sdk.files.retrieve_metadata(file_id)
        name = safe_filename(metadata.filename, fallback=file_id)
        return Download(file_id, await _fetch(sdk, file_id, folder, name), name)
    except FileNotDownloadableError as error:
        raise _refused(
            name, file_id, "the Files API hands out only files code execution created", error
        ) from error
    except FileExpiredError as error:
        raise _refused(name, file_id, "it expired on Anthropic's side", error) from error


async def _fetch(sdk: anthropic.AsyncAnthropic, file_id: str, folder: Path, name: str) -> Path:
    """Stream the file's bytes to ``name`` (or the next free name) in ``folder``; its path."""
    try:
        path = _reserve(folder, name)
    except OSError as error:
        raise ModelError(
            f"{name} ({file_id}) could not be saved in {folder}: {error.strerror or error}",
            hint="choose a folder you can write to as the backend's workdir",
        ) from error
    part = path.with_name(f".{path.name}.part")
    try:
        async with sdk.files.with_streaming_response.download(file_id) as response:
            await response.stream_to_file(part)
        os.replace(part, path)
    except BaseException:
        for leftover in (part, path):
            with contextlib.suppress(OSError):
                leftover.unlink()
        raise
    return path


def _reserve(folder: Path, name: str) -> Path:
    """Create ``name`` in ``folder`` empty, or the first free ``name (n).ext``; its path.

    Creating the file (exclusively) reserves the name, so two downloads of one name at
    once cannot both take it.
    """
    stem, suffix = os.path.splitext(name)
    count = 0
    while True:
        path = folder / (name if count == 0 else f"{stem} ({count}){suffix}")
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            count += 1
            continue
        return path


def _refused(name: str, file_id: str, why: str, error: anthropic.APIStatusError) -> ModelError:
    which = f"file {file_id}" if name == file_id else f"{name} ({file_id})"
    return ModelError(
        f"{which} could not be downloaded: {why} ({error.status_code} {error.error_code})",
        cause=error,
        hint="ask Claude to write the file again in this turn's container, then download it",
    )
