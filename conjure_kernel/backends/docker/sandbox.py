"""The sandbox container of one session: its limits, its mounts, and its dead-man's switch.

Every place a tool can write is bounded: ``/tmp``, the home folder and ``/dev/shm`` are
tmpfs sized from ``tmpfs=`` (they count against the memory limit, so together they get
at most half of it), no file may grow past ``disk=`` (the ``fsize`` limit: the writer
gets SIGXFSZ), and the container keeps no log, so output written to its main process
(``/proc/1/fd/1``) reaches only the switch's stream, never a file on the engine's disk.

The container's main process is ``cat`` reading a stdin that only this kernel holds
open (``StdinOnce``, attached before start). When the kernel dies, even by ``kill -9``,
the engine closes that stdin, ``cat`` ends, and ``auto_remove`` deletes the container
within a fraction of a second. Commands run in it through ``docker exec`` (the shell).

On a local engine the workspace and the skills are host folders bind-mounted; a remote
engine cannot see this machine's folders, so both live in labelled volumes the kernel
fills through the archive API.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import posixpath
import stat
import struct
import tarfile
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.utils
from docker.types import LogConfig, Mount, Ulimit

from ...errors import BackendError, BackendUnavailable
from ...skills.skill import Skill
from .engine import engine_name, owner_labels

__all__ = [
    "SKILLS_ROOT",
    "WORKSPACE",
    "MemoryUse",
    "Sandbox",
    "SandboxSpec",
    "sandbox_user",
    "size_text",
]

WORKSPACE = "/workspace"
SKILLS_ROOT = "/mnt/skills"
HOME = "/home/agent"
SANDBOX_UID = 1000
"""The image's ``agent`` user, who runs commands where the kernel's own user cannot."""
MAX_SEED_BYTES = 256 * 1024 * 1024
"""The most a host workspace may hold to be copied into a remote engine's volume."""
_SWITCH_READ = 1 << 20
"""Bytes the switch's watcher reads at once: a command flooding ``/proc/1/fd/1`` costs the
kernel one read per megabyte, not one per 4 KiB."""
_MEMORY_PROBE = f"""
grep -h '^oom_kill ' /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control
stat -f -c '%b %f %S' /tmp {HOME} /dev/shm
"""
"""The kernel's count of processes killed for memory in the container's cgroup (v2 or v1),
then the size and free blocks of each tmpfs."""
_HELD_OPEN = (
    f"find /proc/[0-9]*/fd -lname '{WORKSPACE}/* (deleted)' -print0 2>/dev/null "
    "| xargs -0r stat -L -c '%i %b' 2>/dev/null"
)
"""The workspace files that processes hold open after deleting them: inode, 512-byte blocks."""
_DEFAULT_ACL = "system.posix_acl_default"
_ACL_VERSION, _ACL_NO_ID = 2, 0xFFFFFFFF
_ACL_USER_OBJ, _ACL_GROUP_OBJ, _ACL_OTHER = 0x01, 0x04, 0x20
"""The layout of a POSIX ACL in its extended attribute (linux/posix_acl_xattr.h)."""
_NO_LINK = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_SHARE_DEPTH = 64
"""Folders below this depth in the workspace are not opened to the sandbox's group."""


def sandbox_user(remote: bool) -> tuple[int, int]:
    """The uid and gid commands run as.

    Locally, the kernel's own user, so files created in the bind-mounted workspace are
    the person's; but never root: a root kernel's sandbox runs as ``agent`` in group 0,
    and the workspace hands ownership back after each command (see ``Sandbox``). On a
    remote engine, ``agent``: the kernel writes the host copies itself.
    """
    uid, gid = os.getuid(), os.getgid()
    if remote or uid == 0:
        return SANDBOX_UID, SANDBOX_UID if remote else gid
    return uid, gid


@dataclass(frozen=True)
class SandboxSpec:
    """What a sandbox is made of: the image, the limits, where the workspace is."""

    image: str
    memory: str
    cpus: float
    pids: int
    network: str
    host: str
    workdir: Path
    """The workspace on the host: bind-mounted, or copied to and from a volume."""
    skills: Sequence[Skill] = ()
    session: str = ""
    kernel: str = ""
    remote: bool = False
    environment: dict[str, str] = field(default_factory=dict)
    tmpfs: str = "256m"
    """/tmp, the home folder and /dev/shm together (memory-backed); see ``tmpfs_sizes``."""
    disk: str = "4g"
    """What commands may add to the workspace, and the largest file; ``none``: no limit."""

    @property
    def user(self) -> tuple[int, int]:
        return sandbox_user(self.remote)

    @property
    def tmpfs_bytes(self) -> int:
        """``tmpfs`` within half the memory limit: full tmpfs still leaves the other half
        to run commands (and to start a shell) in."""
        return min(docker.utils.parse_bytes(self.tmpfs), self.memory_bytes // 2)

    @property
    def memory_bytes(self) -> int:
        return docker.utils.parse_bytes(self.memory)

    @property
    def disk_bytes(self) -> int | None:
        return None if self.disk == "none" else docker.utils.parse_bytes(self.disk)

    def tmpfs_sizes(self) -> dict[str, int]:
        """Each memory-backed folder's share of ``tmpfs``: most of it for /tmp, where
        programs put their scratch files; an eighth each for home and /dev/shm."""
        total = self.tmpfs_bytes
        return {"/tmp": total - 2 * (total // 8), HOME: total // 8, "/dev/shm": total // 8}


@dataclass(frozen=True)
class MemoryUse:
    """What takes the sandbox's memory, as its shell is found gone."""

    oom_kills: int
    """Processes the kernel killed for memory in the container since it started."""
    in_tmpfs: int
    """Bytes held by files in /tmp, the home folder and /dev/shm."""


class Sandbox:
    """A created and started container, its switch socket, and its volumes."""

    def __init__(self, client: docker.DockerClient, spec: SandboxSpec, container: str) -> None:
        self.client = client
        self.spec = spec
        self.container = container
        self._switch: Any = None
        self.stopped = threading.Event()
        """Set as soon as the container ends: the engine closes the switch's stream."""
        self._volumes: list[str] = []
        self._scratch: tempfile.TemporaryDirectory[str] | None = None

    @classmethod
    async def create(cls, client: docker.DockerClient, spec: SandboxSpec) -> Sandbox:
        """Create and start the container (about 0.2 s on a warm engine)."""
        return await asyncio.to_thread(cls._create, client, spec)

    @classmethod
    def _create(cls, client: docker.DockerClient, spec: SandboxSpec) -> Sandbox:
        api = client.api
        sandbox = cls(client, spec, "")
        try:
            mounts, binds = sandbox._mounts()
            uid, gid = spec.user
            sizes = spec.tmpfs_sizes()
            disk = spec.disk_bytes
            host_config = api.create_host_config(
                auto_remove=True,
                init=True,
                network_mode=spec.network,
                mem_limit=spec.memory,
                memswap_limit=spec.memory,
                nano_cpus=int(spec.cpus * 1e9),
                pids_limit=spec.pids,
                read_only=True,
                tmpfs={
                    "/tmp": f"rw,exec,nosuid,nodev,mode=1777,size={sizes['/tmp']}",
                    HOME: f"rw,exec,nosuid,nodev,mode=0700,uid={uid},gid={gid},size={sizes[HOME]}",
                },
                shm_size=sizes["/dev/shm"],
                ulimits=[Ulimit(name="fsize", soft=disk, hard=disk)] if disk else None,
                log_config=LogConfig(type=LogConfig.types.NONE),
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                binds=binds,
                mounts=mounts,
            )
            sandbox.container = api.create_container(
                spec.image,
                entrypoint=["cat"],
                stdin_open=True,  # with detach=False: StdinOnce, the dead-man's switch
                user=f"{uid}:{gid}",
                working_dir=WORKSPACE,
                environment=spec.environment,
                labels=owner_labels(spec.session, spec.kernel),
                name=f"conjure-{spec.session}",
                host_config=host_config,
                network_disabled=spec.network == "none",
            )["Id"]
            # stdout too: a stream with output to send ends when the container does
            sandbox._switch = api.attach_socket(
                sandbox.container, params={"stdin": 1, "stdout": 1, "stream": 1}
            )
            threading.Thread(target=sandbox._watch, name="conjure-switch", daemon=True).start()
            if spec.remote:
                sandbox._fill_volumes()
            api.start(sandbox.container)
        except docker.errors.ImageNotFound:
            sandbox._remove()
            raise BackendUnavailable(
                f"the sandbox image {spec.image} is not on {engine_name(spec.host)}",
                hint="build it with `python -m conjure_kernel docker build --offline`",
            ) from None
        except docker.errors.DockerException as error:
            sandbox._remove()
            raise BackendError(
                f"could not start the sandbox container: {error}",
                hint="check the image and the limits (memory=, cpus=, pids=) with %backend docker",
            ) from None
        except BaseException:
            sandbox._remove()
            raise
        return sandbox

    def _mounts(self) -> tuple[list[Mount], dict[str, dict[str, str]]]:
        """Volumes (remote engine) or bind mounts (local) for the workspace and the skills."""
        spec = self.spec
        if spec.remote:
            labels = owner_labels(spec.session, spec.kernel)
            workspace = f"conjure-{spec.session}-workspace"
            skills = f"conjure-{spec.session}-skills"
            for name in (workspace, skills):
                self.client.volumes.create(name, labels=labels)
                self._volumes.append(name)
            return [
                Mount(WORKSPACE, workspace, type="volume"),
                Mount(SKILLS_ROOT, skills, type="volume", read_only=True),
            ], {}
        binds = {str(spec.workdir): {"bind": WORKSPACE, "mode": "rw"}}
        for skill in spec.skills:
            binds[str(skill.root)] = {"bind": f"{SKILLS_ROOT}/{skill.name}", "mode": "ro"}
        if os.getuid() != 0:  # give the kernel's user a name and a home inside
            for target, text in _identity_files(*spec.user).items():
                binds[self._scratch_file(target, text)] = {"bind": target, "mode": "ro"}
        else:  # root's sandbox writes through group 0
            _open_to_group(spec.workdir)
        return [], binds

    def _scratch_file(self, target: str, text: str) -> str:
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="conjure-sandbox-")
        path = Path(self._scratch.name) / Path(target).name
        path.write_text(text)
        return str(path)

    def _fill_volumes(self) -> None:
        """Copy the host workspace and the skills into the volumes of a remote sandbox.

        Skills go through a container that is created but never started, with the
        skills volume writable: the sandbox itself mounts it read-only.
        """
        uid, gid = self.spec.user
        api = self.client.api
        archive = _archive(_workspace_files(self.spec.workdir), uid, gid)
        api.put_archive(self.container, WORKSPACE, archive)
        if not self.spec.skills:
            return
        loader = api.create_container(
            self.spec.image,
            entrypoint=["true"],
            labels=owner_labels(self.spec.session, self.spec.kernel),
            host_config=api.create_host_config(
                mounts=[Mount(SKILLS_ROOT, self._volumes[1], type="volume")]
            ),
        )["Id"]
        try:
            files = [
                (
                    path,
                    posixpath.normpath(f"{skill.name}/{path.relative_to(skill.root).as_posix()}"),
                )
                for skill in self.spec.skills
                for path in [skill.root, *sorted(skill.root.rglob("*"))]
            ]
            api.put_archive(loader, SKILLS_ROOT, _archive(files, uid, gid))
        finally:
            api.remove_container(loader, force=True)

    def _watch(self) -> None:
        """Wait, in a thread, for the switch's stream to end: the container has stopped."""
        sock = getattr(self._switch, "_sock", self._switch)
        with contextlib.suppress(OSError):
            while sock.recv(_SWITCH_READ):
                pass
        self.stopped.set()

    async def remove(self) -> None:
        """Remove the container (its processes die with it) and its volumes."""
        await asyncio.to_thread(self._remove)

    async def look(self, script: str) -> str:
        """What ``script`` prints, run by an exec of its own (the shell may be busy or
        gone); empty when it cannot run."""

        def run() -> str:
            uid, gid = self.spec.user
            api = self.client.api
            try:
                made = api.exec_create(
                    self.container, ["bash", "-c", script], user=f"{uid}:{gid}", stderr=False
                )
                return api.exec_start(made["Id"]).decode(errors="replace")
            except docker.errors.DockerException:
                return ""

        return await asyncio.to_thread(run)

    async def memory_use(self) -> MemoryUse | None:
        """How the memory is taken, when the container still answers."""
        lines = (await self.look(_MEMORY_PROBE)).splitlines()
        try:
            kills = int(lines[0].removeprefix("oom_kill "))
            tmpfs = [[int(part) for part in line.split()] for line in lines[1:]]
            return MemoryUse(kills, sum((blocks - free) * size for blocks, free, size in tmpfs))
        except (IndexError, ValueError):  # not a cgroup the engine lets it read
            return None

    async def held_open(self) -> dict[int, int]:
        """The workspace files sandbox processes hold open after deleting them: their
        inode numbers and sizes (no walk of the folder sees them)."""
        found = {}
        for line in (await self.look(_HELD_OPEN)).splitlines():
            inode, _, blocks = line.partition(" ")
            if inode.isdigit() and blocks.isdigit():
                found[int(inode)] = int(blocks) * 512
        return found

    async def kill(self) -> None:
        """Stop the container now: it removes itself, and ``stopped`` is set."""
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            await asyncio.to_thread(self.client.api.kill, self.container)

    def _remove(self) -> None:
        if self._switch is not None:
            with contextlib.suppress(Exception):
                self._switch.close()
        if self.container:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                self.client.api.remove_container(self.container, force=True)
        for volume in self._volumes:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                self.client.api.remove_volume(volume, force=True)
        if self._scratch is not None:
            self._scratch.cleanup()


def size_text(size: int) -> str:
    """A byte count as a setting would say it: ``192m``, ``4g``, ``1.5g``."""
    for unit, factor in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.3g}{unit}"
    return f"{size}b"


def _open_to_group(workdir: Path) -> None:
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


def _identity_files(uid: int, gid: int) -> dict[str, str]:
    """/etc/passwd and /etc/group naming the kernel's uid ``agent``: ``whoami`` and
    programs that look up the home folder work as they would for the image's own user."""
    return {
        "/etc/passwd": f"root:x:0:0:root:/root:/bin/bash\nagent:x:{uid}:{gid}:agent:{HOME}:/bin/bash\n",
        "/etc/group": f"root:x:0:\nagent:x:{gid}:\n",
    }


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
