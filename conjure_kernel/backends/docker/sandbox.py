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

On a local engine the workspace and the skills are host folders bind-mounted (a root
kernel's opened to the sandbox's group first, see ``ownership.py``); a remote engine
cannot see this machine's folders, so both live in labelled volumes the kernel fills
through the archive API (``remote_copies.py``). What the container is made of, its
image and limits, is the ``SandboxSpec`` (``sandbox_spec.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.types import LogConfig, Mount, Ulimit

from ...errors import BackendError, BackendUnavailable
from .engine import engine_name, owner_labels
from .ownership import open_to_group
from .remote_copies import fill_volumes
from .sandbox_spec import HOME, SKILLS_ROOT, WORKSPACE, SandboxSpec

__all__ = ["MemoryUse", "Sandbox"]

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
                labels=owner_labels(spec.sandbox_id, spec.kernel_id),
                # a name of its own: the container it replaces (killed from outside, out of
                # memory) may still be being removed under the session's name
                name=f"conjure-{spec.sandbox_id}-{secrets.token_hex(3)}",
                host_config=host_config,
                network_disabled=spec.network == "none",
            )["Id"]
            # stdout too: a stream with output to send ends when the container does
            sandbox._switch = api.attach_socket(
                sandbox.container, params={"stdin": 1, "stdout": 1, "stream": 1}
            )
            threading.Thread(target=sandbox._watch, name="conjure-switch", daemon=True).start()
            if spec.remote:
                fill_volumes(api, sandbox.container, spec, sandbox._volumes[1])
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
            labels = owner_labels(spec.sandbox_id, spec.kernel_id)
            workspace = f"conjure-{spec.sandbox_id}-workspace"
            skills = f"conjure-{spec.sandbox_id}-skills"
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
            open_to_group(spec.workdir)
        return [], binds

    def _scratch_file(self, target: str, text: str) -> str:
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="conjure-sandbox-")
        path = Path(self._scratch.name) / Path(target).name
        path.write_text(text)
        return str(path)

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


def _identity_files(uid: int, gid: int) -> dict[str, str]:
    """/etc/passwd and /etc/group naming the kernel's uid ``agent``: ``whoami`` and
    programs that look up the home folder work as they would for the image's own user."""
    return {
        "/etc/passwd": f"root:x:0:0:root:/root:/bin/bash\nagent:x:{uid}:{gid}:agent:{HOME}:/bin/bash\n",
        "/etc/group": f"root:x:0:\nagent:x:{gid}:\n",
    }
