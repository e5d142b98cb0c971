"""Read ``.skill`` archives in place, and unpack them safely, once, when first needed.

Split from discovery.py: archive safety (zip-slip) is its own concern. A ``.skill`` file
is a zip whose entries all sit under one folder named after the skill
(``pdf/SKILL.md``, ``pdf/scripts/fill.py``). Skills may come from anyone, so an entry
that could land outside that folder, or that is a symlink or device, rejects the whole
archive instead of being skipped: a packager never writes one by accident.

Loading a skill needs only its SKILL.md frontmatter, which is streamed from the zip; the
files are unpacked when something first needs them on disk. Each process unpacks into
its own folder, ``<tmp>/conjure-skills/<pid>``, removed when the process exits, and swept
by a later process when it could not be (a crashed or killed kernel): a small archive
may unpack to many megabytes, and nothing should keep them once their kernel is gone.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import stat
import tempfile
import threading
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from conjure_kernel.errors import SkillError, SkillValidationError
from conjure_kernel.processes import process_exists
from conjure_kernel.skills.frontmatter import read_frontmatter_from

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
"""Bytes hashed at a time (as ``hashlib.file_digest`` does): memory stays flat however
large a file is."""


@dataclass(frozen=True)
class SkillArchive:
    """A ``.skill`` file whose entries passed the checks, read in place until unpacked."""

    path: Path
    """The ``.skill`` file, absolute."""
    top: str
    """The one folder every entry sits under: the skill's folder name."""
    skill_md_entry: str | None
    """The entry holding ``<top>/SKILL.md`` as the zip spells it, or ``None`` if absent."""

    @classmethod
    def open(cls, zip_path: Path) -> SkillArchive:
        """Check ``zip_path``'s entries from its central directory; nothing is written."""
        zip_path = Path(zip_path)
        try:
            with zipfile.ZipFile(zip_path) as archive:
                top = _check_entries(archive, zip_path)
                skill_md = next(
                    (
                        info.filename
                        for info in archive.infolist()
                        if not info.is_dir() and _safe_parts(info.filename) == (top, "SKILL.md")
                    ),
                    None,
                )
        except _UNREADABLE as error:
            raise SkillError(f"{zip_path}: cannot read the skill archive: {error}") from error
        return cls(zip_path, top, skill_md)

    @property
    def origin(self) -> Path:
        """``<archive>/<name>``: how diagnostics name the skill's folder, never a temp folder."""
        return self.path / self.top

    def read_frontmatter(self) -> str | None:
        """SKILL.md's YAML text streamed from the zip, or ``None`` without a SKILL.md.

        Only the lines up to the closing ``---`` are decompressed; nothing is unpacked.
        """
        if self.skill_md_entry is None:
            return None
        shown = self.origin / "SKILL.md"
        try:
            with zipfile.ZipFile(self.path) as archive, archive.open(self.skill_md_entry) as file:
                return read_frontmatter_from(file, shown)
        except (*_UNREADABLE, KeyError) as error:  # KeyError: the archive changed since open
            raise SkillValidationError(shown, "SKILL.md", f"cannot be read: {error}") from error

    def unpack(self) -> Path:
        """The skill's folder in this process's unpack folder, unpacked on the first call."""
        return extract_skill_archive(self.path)


def extract_skill_archive(zip_path: Path, dest: Path | None = None) -> Path:
    """Extract a ``.skill`` zip into ``dest`` and return the skill folder, ``dest/<name>``.

    An existing ``dest/<name>`` is reused rather than extracted again; the default
    ``dest``, :func:`default_cache_dir`, is keyed by the archive's SHA-256, so every load
    of the same archive in this process shares one unpacking. Extraction goes to a
    staging folder first and is renamed into place, so a half-written skill is never
    visible.
    """
    zip_path = Path(zip_path)
    try:
        with zipfile.ZipFile(zip_path) as archive:
            top = _check_entries(archive, zip_path)
            dest = Path(dest) if dest is not None else default_cache_dir(zip_path)
            skill_root = dest / top
            if not skill_root.is_dir():
                _extract_atomically(archive, dest, top)
    except _UNREADABLE as error:
        raise SkillError(f"{zip_path}: cannot unpack the skill archive: {error}") from error
    return skill_root


def default_cache_dir(zip_path: Path) -> Path:
    """``<tmp>/conjure-skills/<pid>/<sha256 of the archive>``: this process's, gone at exit.

    Per process, so two kernels never write into, or remove, each other's files.
    """
    digest = hashlib.sha256()
    update_digest(digest, Path(zip_path))
    return _process_folder() / digest.hexdigest()


class _Digest(Protocol):
    """What :func:`update_digest` needs of a ``hashlib`` object."""

    def update(self, data: memoryview, /) -> None: ...


def update_digest(digest: _Digest, path: Path) -> None:
    """Feed a file's bytes to ``digest`` a chunk at a time, never holding the whole file."""
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as file:
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

    Sizes come from the central directory, checked before anything is written; the
    reader then stops each entry at its declared size, so a lying header cannot
    unpack more than was checked here.
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
    tops: set[str] = set()
    for info in entries:
        parts = _safe_parts(info.filename)
        problem = _entry_problem(info, parts)
        if problem:
            raise SkillError(f"{zip_path}: refusing archive entry {info.filename!r}: {problem}")
        tops.add(parts[0])
    if len(tops) != 1:
        found = ", ".join(sorted(tops)) or "nothing"
        raise SkillError(
            f"{zip_path}: a .skill archive must hold exactly one top-level folder (found {found})"
        )
    return tops.pop()


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
    return ""


def _unix_mode(info: zipfile.ZipInfo) -> int:
    return info.external_attr >> 16 if info.create_system in _UNIX_HOSTS else 0


def _extract_atomically(archive: zipfile.ZipFile, dest: Path, top: str) -> None:
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = Path(tempfile.mkdtemp(prefix=".extracting-", dir=dest))
    try:
        for info in archive.infolist():
            target = staging.joinpath(*_safe_parts(info.filename))
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)
            # Keep only "is it executable": never setuid or group/other-write bits.
            target.chmod(0o755 if _unix_mode(info) & 0o111 else 0o644)
        try:
            (staging / top).rename(dest / top)
        except OSError:
            if not (dest / top).is_dir():  # a concurrent extraction winning the race is fine
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
