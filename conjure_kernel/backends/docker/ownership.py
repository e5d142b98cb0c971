"""Who owns the workspace's files when the kernel runs as root.

A root kernel's sandbox runs as ``agent`` (uid 1000) in group 0: before the container
starts, what root owns in the workspace is opened to the group, so the sandbox can write
there; after each command, what the sandbox made is handed back to root, so the person
owns it. Split from sandbox.py and workspace.py: both are this one arrangement, and both
walk a folder the sandbox may be changing under them.
"""

from __future__ import annotations

import contextlib
import os
import stat
import struct
from pathlib import Path

from .sandbox_spec import SANDBOX_UID

__all__ = ["hand_back", "open_to_group"]

_DEFAULT_ACL = "system.posix_acl_default"
_ACL_VERSION, _ACL_NO_ID = 2, 0xFFFFFFFF
_ACL_USER_OBJ, _ACL_GROUP_OBJ, _ACL_OTHER = 0x01, 0x04, 0x20
"""The layout of a POSIX ACL in its extended attribute (linux/posix_acl_xattr.h)."""
_NO_LINK = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_SHARE_DEPTH = 64
"""Folders below this depth in the workspace are not opened to the sandbox's group."""


def open_to_group(workdir: Path) -> None:
    """Let a root kernel's sandbox (uid 1000 in group 0) write wherever root may in the
    workspace, folders the person made before included: what root owns there gets the
    owner's rights for its group too, and each folder a default ACL that gives them to
    what is made in it later (where the file system has ACLs; elsewhere a folder made
    after the sandbox started stays root's alone).

    The walk goes by file descriptors, never by name, and opens nothing through a link:
    a sandbox sharing this workspace may swap any entry for a link to the host's files
    while it runs, and root's ``chmod`` must not follow it there."""
    with contextlib.suppress(OSError):
        _share_tree(os.open(workdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), _SHARE_DEPTH)


def _share_tree(folder: int, depth: int) -> None:
    """Share ``folder`` (a descriptor, closed here) and what is in it, ``depth`` levels."""
    try:
        _share_with_group(folder)
        for entry in list(os.scandir(folder)):
            with contextlib.suppress(OSError):  # a link (ELOOP), gone, or unreadable
                child = os.open(entry.name, _NO_LINK, dir_fd=folder)
                if stat.S_ISDIR(os.fstat(child).st_mode) and depth > 0:
                    _share_tree(child, depth - 1)
                    continue
                try:
                    _share_with_group(child)
                finally:
                    os.close(child)
    finally:
        os.close(folder)


def _share_with_group(fd: int) -> None:
    """Root's rights on the open file ``fd`` for its group too; never on a set-id
    program, which the sandbox must not be able to change."""
    info = os.fstat(fd)
    mode = stat.S_IMODE(info.st_mode)
    is_folder = stat.S_ISDIR(info.st_mode)
    is_plain = stat.S_ISREG(info.st_mode) and not mode & (stat.S_ISUID | stat.S_ISGID)
    if info.st_uid != 0 or not (is_folder or is_plain):
        return
    shared = mode | (mode & 0o700) >> 3
    if shared != mode:
        os.fchmod(fd, shared)
    if is_folder:
        with contextlib.suppress(OSError):  # a file system without ACLs
            os.setxattr(fd, _DEFAULT_ACL, _group_acl(shared & 0o7))


def _group_acl(other: int) -> bytes:
    """A default ACL in the kernel's xattr form: owner and group rwx, others ``other``."""
    entries = ((_ACL_USER_OBJ, 0o7), (_ACL_GROUP_OBJ, 0o7), (_ACL_OTHER, other))
    return struct.pack("<I", _ACL_VERSION) + b"".join(
        struct.pack("<HHI", tag, perm, _ACL_NO_ID) for tag, perm in entries
    )


def hand_back(workdir: Path, since: float) -> None:
    """Give root what a root kernel's sandbox (uid 1000, group 0) made in the workspace:
    the person owns it, and the sandbox keeps writing through the group.

    Only a folder whose own time changed since ``since`` can hold a new entry, so only
    those have their entries looked at; the others cost one ``stat`` each, whatever
    number of files they hold.
    """
    try:
        changed = os.stat(workdir).st_mtime >= since
        entries = list(os.scandir(workdir))
    except OSError:  # it went while we looked
        return
    for entry in entries:
        with contextlib.suppress(OSError):
            if changed and entry.stat(follow_symlinks=False).st_uid == SANDBOX_UID:
                os.lchown(entry.path, 0, 0)
            if entry.is_dir(follow_symlinks=False):
                hand_back(Path(entry.path), since)
