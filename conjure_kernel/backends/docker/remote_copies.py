"""The workspace and the skills on a remote engine, which cannot see this machine's folders.

Both live in labelled volumes: filled from the host folders through the archive API when
the container is made, and after each command the workspace files it changed are copied
back to the host folder. Split from sandbox.py and workspace.py: one idea, the copies
kept on both sides of a remote engine, in one place.
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from docker.types import Mount

from ...errors import BackendError
from ...tools.confined import Confined, OutsideMounts, inside
from .engine import owner_labels
from .sandbox_spec import SKILLS_ROOT, WORKSPACE, SandboxSpec

__all__ = [
    "CHANGED_ARCHIVE_COMMAND",
    "MAX_SEED_BYTES",
    "STAMP_COMMAND",
    "fill_volumes",
    "unpack_changes",
]

MAX_SEED_BYTES = 256 * 1024 * 1024
"""The most a host workspace may hold to be copied into a remote engine's volume."""
_STAMP = "/tmp/.conjure-stamp"
_TICK = "/tmp/.conjure-tick"
_CHANGED = "/tmp/.conjure-changed"
STAMP_COMMAND = f"touch {_STAMP} && until [ {_TICK} -nt {_STAMP} ]; do touch {_TICK}; done"
"""Run before each command: the stamp must be older than anything the command writes, on
a clock that may tick coarsely, so it waits until a file touched after it is newer."""
CHANGED_ARCHIVE_COMMAND = (
    f"find {WORKSPACE} -cnewer {_STAMP} -type f -printf '%P\\0' > {_CHANGED}; "
    f"[ -s {_CHANGED} ] && tar -C {WORKSPACE} --null -T {_CHANGED} -cf -; true"
)
"""Prints a tar of the workspace files changed since the stamp (nothing when none did)."""


def fill_volumes(api: Any, container: str, spec: SandboxSpec, skills_volume: str) -> None:
    """Copy the host workspace and the skills into the volumes of a remote sandbox.

    Skills go through a container that is created but never started, with the
    skills volume writable: the sandbox itself mounts it read-only.
    """
    uid, gid = spec.user
    archive = _archive(_workspace_files(spec.workdir), uid, gid)
    api.put_archive(container, WORKSPACE, archive)
    if not spec.skills:
        return
    loader = api.create_container(
        spec.image,
        entrypoint=["true"],
        labels=owner_labels(spec.sandbox_id, spec.kernel_id),
        host_config=api.create_host_config(
            mounts=[Mount(SKILLS_ROOT, skills_volume, type="volume")]
        ),
    )["Id"]
    try:
        files = [
            (
                path,
                posixpath.normpath(f"{skill.name}/{path.relative_to(skill.root).as_posix()}"),
            )
            for skill in spec.skills
            for path in [skill.root, *sorted(skill.root.rglob("*"))]
        ]
        api.put_archive(loader, SKILLS_ROOT, _archive(files, uid, gid))
    finally:
        api.remove_container(loader, force=True)


def unpack_changes(copies: Confined, archive: bytes) -> None:
    """Write the files in ``archive`` (from ``CHANGED_ARCHIVE_COMMAND``) to the host copies."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as files:
        for member in files:
            target = posixpath.normpath(posixpath.join(WORKSPACE, member.name))
            source = files.extractfile(member) if member.isfile() else None
            if source is None or not inside(target, WORKSPACE):
                continue
            with contextlib.suppress(OutsideMounts):  # a link of the person's leads out
                # scripts stay executable
                copies.write(target, source.read(), add_mode=member.mode & 0o111)


def _workspace_files(workdir: Path) -> list[tuple[Path, str]]:
    files: list[tuple[Path, str]] = []
    total = 0
    for path in sorted(workdir.rglob("*")):
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            continue
        total += path.stat().st_size if path.is_file() else 0
        if total > MAX_SEED_BYTES:
            raise BackendError(
                f"the workspace {workdir} holds more than {MAX_SEED_BYTES >> 20} MB, too much "
                "to copy to a remote engine",
                hint="choose a smaller folder with workdir=PATH",
            )
        files.append((path, path.relative_to(workdir).as_posix()))
    return files


def _archive(files: Iterable[tuple[Path, str]], uid: int, gid: int) -> bytes:
    """A tar of folders and regular files, owned by ``uid``:``gid`` in the container (tar
    members otherwise arrive as root's, and so would folders left implicit)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, name in files:
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                continue
            info = archive.gettarinfo(str(path), arcname=name)
            info.uid, info.gid, info.uname, info.gname = uid, gid, "", ""
            if path.is_dir():
                archive.addfile(info)
                continue
            with path.open("rb") as data:
                archive.addfile(info, data)
    return buffer.getvalue()
