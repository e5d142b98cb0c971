"""Unpack ``.skill`` archives safely.

Split from discovery.py: archive safety (zip-slip) is its own concern. A ``.skill`` file
is a zip whose entries all sit under one folder named after the skill
(``pdf/SKILL.md``, ``pdf/scripts/fill.py``). Skills may come from anyone, so an entry
that could land outside that folder, or that is a symlink or device, rejects the whole
archive instead of being skipped: a packager never writes one by accident.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from conjure_kernel.errors import SkillError

__all__ = ["default_cache_dir", "extract_skill_archive"]

_UNIX_HOSTS = (3, 19)
"""Zip creator systems whose ``external_attr`` high bits are a Unix ``st_mode``."""
MAX_ENTRIES = 5_000
"""Files and folders one ``.skill`` archive may hold."""
MAX_UNPACKED_BYTES = 64 * 2**20
"""What one archive may unpack to: twice the largest skill upload limit reported (30 MB),
and far below what a zip bomb unpacks to (a 300 KB archive can hold 300 MB)."""


def extract_skill_archive(zip_path: Path, dest: Path | None = None) -> Path:
    """Extract a ``.skill`` zip into ``dest`` and return the skill folder, ``dest/<name>``.

    An existing ``dest/<name>`` is reused rather than extracted again; the default
    ``dest``, :func:`default_cache_dir`, is keyed by the archive's SHA-256, so it matches.
    Extraction goes to a staging folder first and is renamed into place, so a
    half-written skill is never visible.
    """
    zip_path = Path(zip_path)
    try:
        with zipfile.ZipFile(zip_path) as archive:
            top = _check_entries(archive, zip_path)
            dest = Path(dest) if dest is not None else default_cache_dir(zip_path)
            skill_root = dest / top
            if not skill_root.is_dir():
                _extract_atomically(archive, dest, top)
    except (zipfile.BadZipFile, OSError) as error:
        raise SkillError(f"{zip_path}: cannot unpack the skill archive: {error}") from error
    return skill_root


def default_cache_dir(zip_path: Path) -> Path:
    """``<tmp>/conjure-skills/<sha256 of the archive>``, private to the current user."""
    cache = Path(tempfile.gettempdir()) / "conjure-skills"
    cache.mkdir(mode=0o700, exist_ok=True)
    if hasattr(os, "getuid") and cache.stat().st_uid != os.getuid():
        raise SkillError(
            f"{cache}: the skill cache belongs to another user; not extracting {zip_path} there",
            hint="set TMPDIR to a folder of your own",
        )
    digest = hashlib.sha256(Path(zip_path).read_bytes()).hexdigest()
    return cache / digest


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
