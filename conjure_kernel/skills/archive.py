"""Check ``.skill`` archives whole and unpack them once, when they are loaded.

Split from discovery.py: archive safety (zip-slip, zip bombs, lying directories) is its
own concern. A ``.skill`` file is a zip whose entries all sit under one folder named
after the skill (``pdf/SKILL.md``, ``pdf/scripts/fill.py``). Skills may come from
anyone, so an entry that could land outside that folder, that is a link, a device or
encrypted, or whose data does not match what the zip's directory says of it (its size,
its CRC), rejects the whole archive instead of being skipped: a packager never writes
one by accident.

Checking an entry means decompressing it, so loading unpacks as it checks: each entry
is written once, from the very bytes that were checked, and nothing reads the zip
again. A skill loaded without complaint can then never fail later on a corrupt entry.
Each process unpacks into its own folder, ``<tmp>/conjure-skills/<pid>``, removed when
the process exits, and swept by a later process when it could not be (a crashed or
killed kernel): a small archive may unpack to many megabytes, and nothing should keep
them once their kernel is gone.
"""

from __future__ import annotations

import atexit
import copy
import hashlib
import io
import os
import shutil
import stat
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from conjure_kernel.errors import SkillError
from conjure_kernel.processes import process_exists

__all__ = [
    "MAX_ENTRIES",
    "MAX_UNPACKED_BYTES",
    "SkillArchive",
    "default_cache_dir",
    "extract_skill_archive",
    "update_digest",
]

_UNIX_HOSTS = (3, 19)
"""Zip creator systems whose ``external_attr`` high bits are a Unix ``st_mode``."""
MAX_ENTRIES = 5_000
"""Files and folders one ``.skill`` archive may hold."""
MAX_UNPACKED_BYTES = 64 * 2**20
"""What one archive may unpack to: twice the largest skill upload limit reported (30 MB),
and far below what a zip bomb unpacks to (a 300 KB archive can hold 300 MB)."""
_UNREADABLE = (zipfile.BadZipFile, EOFError, OSError, RuntimeError, zlib.error)
"""What reading a zip raises when it is corrupt, truncated, encrypted or compressed in a
way this Python cannot read (RuntimeError and its NotImplementedError)."""
_CHUNK = 2**18
"""Bytes hashed or unpacked at a time (as ``hashlib.file_digest`` does): memory stays
flat however large a file is."""
_ENCRYPTED = 0x1
"""The general-purpose flag bit of an encrypted zip entry."""


@dataclass(frozen=True)
class SkillArchive:
    """A ``.skill`` file whose entries all passed the checks, and where they were unpacked."""

    path: Path
    """The ``.skill`` file."""
    root: Path
    """The skill's folder as unpacked from the checked archive: ``<unpack folder>/<name>``."""

    @classmethod
    def open(cls, zip_path: Path) -> SkillArchive:
        """Check ``zip_path`` whole and unpack it (unless this process already has)."""
        return cls(Path(zip_path), extract_skill_archive(zip_path))

    @property
    def origin(self) -> Path:
        """``<archive>/<name>``: how diagnostics name the skill's folder, never a temp folder."""
        return self.path / self.root.name


def extract_skill_archive(zip_path: Path, dest: Path | None = None) -> Path:
    """Check a ``.skill`` zip whole, extract it into ``dest`` and return ``dest/<name>``.

    An existing ``dest/<name>`` is reused rather than extracted again; the default
    ``dest``, :func:`default_cache_dir`, is keyed by the archive's SHA-256, so every load
    of the same archive in this process shares one unpacking (checked when it was made).
    The archive is hashed and read through one open file, so the bytes checked are the
    bytes hashed even if the file is replaced meanwhile. Extraction goes to a staging
    folder first and is renamed into place, so a half-written or refused skill is never
    visible.
    """
    zip_path = Path(zip_path)
    try:
        with open(zip_path, "rb") as file:
            dest = Path(dest) if dest is not None else _process_folder() / _sha256(file)
            file.seek(0)
            with zipfile.ZipFile(file) as archive:
                top = _check_entries(archive, zip_path)
                if not (dest / top).is_dir():
                    _extract_atomically(archive, dest, top, zip_path)
    except _UNREADABLE as error:
        raise SkillError(f"{zip_path}: cannot unpack the skill archive: {error}") from error
    return dest / top


def default_cache_dir(zip_path: Path) -> Path:
    """``<tmp>/conjure-skills/<pid>/<sha256 of the archive>``: this process's, gone at exit.

    Per process, so two kernels never write into, or remove, each other's files.
    """
    with open(zip_path, "rb") as file:
        return _process_folder() / _sha256(file)


class _Digest(Protocol):
    """What :func:`update_digest` needs of a ``hashlib`` object."""

    def update(self, data: memoryview, /) -> None: ...


def update_digest(digest: _Digest, path: Path) -> None:
    """Feed a file's bytes to ``digest`` a chunk at a time, never holding the whole file."""
    with open(path, "rb", buffering=0) as file:
        _feed(digest, file)


def _sha256(file: io.BufferedIOBase | io.RawIOBase) -> str:
    digest = hashlib.sha256()
    _feed(digest, file)
    return digest.hexdigest()


def _feed(digest: _Digest, file: io.BufferedIOBase | io.RawIOBase) -> None:
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    while size := file.readinto(buffer):
        digest.update(view[:size])


_claimed: set[Path] = set()
"""Unpack folders this process made (one per temp folder it was given), removed at exit."""
_claiming = threading.Lock()


def _process_folder() -> Path:
    """This process's folder in ``<tmp>/conjure-skills``, made (and the dead swept) on first use.

    The shared folder must be a real folder of the current user, not a link: the sweep
    removes folders inside it, so it must never be pointed at someone else's files.
    """
    shared = Path(tempfile.gettempdir()) / "conjure-skills"
    shared.mkdir(mode=0o700, exist_ok=True)
    info = shared.lstat()
    if not stat.S_ISDIR(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
        raise SkillError(
            f"{shared}: the skill cache belongs to another user or is not a folder; "
            "not unpacking skill archives there",
            hint="set TMPDIR to a folder of your own",
        )
    pid = os.getpid()
    own = shared / str(pid)
    with _claiming:
        if own not in _claimed:
            _sweep(shared)
            own.mkdir(mode=0o700, exist_ok=True)
            atexit.register(_remove, own, pid)
            _claimed.add(own)
    return own


def _sweep(shared: Path) -> None:
    """Remove the unpack folders of processes that are gone.

    A folder named with this process's own pid is stale too: it is swept before this
    process makes its own, so it was left by an earlier process that had the same pid.
    Names that are not pids are not ours to remove.
    """
    for entry in shared.iterdir():
        pid = int(entry.name) if entry.name.isascii() and entry.name.isdigit() else None
        if pid is not None and (pid == os.getpid() or not process_exists(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def _remove(folder: Path, owner: int) -> None:
    """Remove ``folder`` at exit, unless this is a forked child, which did not make it."""
    if os.getpid() == owner:
        shutil.rmtree(folder, ignore_errors=True)


def _check_entries(archive: zipfile.ZipFile, zip_path: Path) -> str:
    """Reject unsafe entries and oversized archives; return the top-level folder they share.

    Sizes come from the central directory and are checked before anything is written;
    unpacking then holds each entry to its declared size (:func:`_checked_data`), so a
    directory that understates a size cannot unpack more than was checked here.
    """
    entries = archive.infolist()
    if len(entries) > MAX_ENTRIES:
        raise SkillError(
            f"{zip_path}: the skill archive holds {len(entries):,} entries; "
            f"at most {MAX_ENTRIES:,} are unpacked"
        )
    unpacked = sum(info.file_size for info in entries)
    if unpacked > MAX_UNPACKED_BYTES:
        raise SkillError(
            f"{zip_path}: the skill archive would unpack to {unpacked / 2**20:,.0f} MB; "
            f"at most {MAX_UNPACKED_BYTES // 2**20} MB is unpacked"
        )
    tops = {_check_entry(info, zip_path)[0] for info in entries}
    _check_unique(entries, zip_path)
    if len(tops) != 1:
        found = ", ".join(sorted(tops)) or "nothing"
        raise SkillError(
            f"{zip_path}: a .skill archive must hold exactly one top-level folder (found {found})"
        )
    return tops.pop()


def _check_entry(info: zipfile.ZipInfo, zip_path: Path) -> tuple[str, ...]:
    """The entry's path parts, once it is known to stay inside the skill's folder."""
    parts = _safe_parts(info.filename)
    problem = _entry_problem(info, parts)
    if problem:
        raise _refusal(zip_path, info, problem)
    return parts


def _check_unique(entries: list[zipfile.ZipInfo], zip_path: Path) -> None:
    """Refuse two entries for one file, or a file where another entry needs a folder:
    either way, which one a reader gets would depend on the order it unpacks them."""
    files: set[tuple[str, ...]] = set()
    folders: set[tuple[str, ...]] = set()
    for info in entries:
        parts = _safe_parts(info.filename)
        folders.update(parts[:end] for end in range(1, len(parts)))
        if info.is_dir():
            folders.add(parts)
        elif parts in files:
            raise _refusal(zip_path, info, "appears twice")
        else:
            files.add(parts)
    for info in entries:
        if not info.is_dir() and _safe_parts(info.filename) in folders:
            raise _refusal(zip_path, info, "is both a file and a folder")


def _refusal(zip_path: Path, info: zipfile.ZipInfo, problem: str) -> SkillError:
    return SkillError(f"{zip_path}: refusing archive entry {info.filename!r}: {problem}")


def _safe_parts(name: str) -> tuple[str, ...]:
    return tuple(part for part in PurePosixPath(name.replace("\\", "/")).parts if part != ".")


def _entry_problem(info: zipfile.ZipInfo, parts: tuple[str, ...]) -> str:
    """Why an entry is unsafe, or ``""`` when it is fine."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/"):
        return "absolute path"
    if parts and len(parts[0]) >= 2 and parts[0][1] == ":":
        return "drive letter"
    if ".." in parts:
        return "'..' in path"
    if not parts:
        return "empty path"
    if len(parts) == 1 and not info.is_dir():
        return "file outside the skill's top-level folder"
    mode = _unix_mode(info)
    if stat.S_ISLNK(mode):
        return "symbolic link"
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "special file"
    if info.flag_bits & _ENCRYPTED:
        return "encrypted"
    return ""


def _unix_mode(info: zipfile.ZipInfo) -> int:
    return info.external_attr >> 16 if info.create_system in _UNIX_HOSTS else 0


def _extract_atomically(archive: zipfile.ZipFile, dest: Path, top: str, zip_path: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = Path(tempfile.mkdtemp(prefix=".extracting-", dir=dest))
    try:
        for info in archive.infolist():
            target = staging.joinpath(*_safe_parts(info.filename))
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as out:
                for chunk in _checked_data(archive, info, zip_path):
                    out.write(chunk)
            # Keep only "is it executable": never setuid or group/other-write bits.
            target.chmod(0o755 if _unix_mode(info) & 0o111 else 0o644)
        try:
            (staging / top).rename(dest / top)
        except OSError:
            if not (dest / top).is_dir():  # a concurrent extraction winning the race is fine
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _checked_data(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, zip_path: Path
) -> Iterator[bytes]:
    """An entry's bytes as they really decompress, refused as soon as they stop matching
    what the directory declares: one byte past its size, or another size or CRC-32.

    zipfile itself stops at the declared size and checks the CRC only there, so an
    understated size would load and then fail on every later read, or, with a CRC made
    to match, quietly cut the file short. Reading through a copy of the entry that allows
    one byte more, and leaves the CRC to this function, shows what the data really holds.
    """
    probe = copy.copy(info)
    probe.file_size = info.file_size + 1
    probe.CRC = None  # type: ignore[assignment]  # zipfile skips its check at the wrong length
    size, crc = 0, 0
    with archive.open(probe) as data:
        while chunk := data.read(_CHUNK):
            size += len(chunk)
            if size > info.file_size:
                declared = f"the {info.file_size:,} bytes the archive's directory declares"
                raise _refusal(zip_path, info, f"decompresses to more than {declared}")
            crc = zlib.crc32(chunk, crc)
            yield chunk
    if size != info.file_size:
        declared = f"the {info.file_size:,} the archive's directory declares"
        raise _refusal(zip_path, info, f"decompresses to {size:,} bytes, not {declared}")
    if crc != info.CRC:
        raise _refusal(zip_path, info, "fails its CRC-32 check: the archive is corrupt")
