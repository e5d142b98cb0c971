"""What a sandbox is made of: the image, the limits, the user, and where the workspace is.

Split from sandbox.py: the spec is a plain value that every part of the docker backend
reads (the backend builds it from the settings, the container is made from it, the
workspace enforces and reports its limits); sandbox.py is the running container.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import docker.utils

from ...skills.skill import Skill

__all__ = [
    "HOME",
    "SANDBOX_UID",
    "SKILLS_ROOT",
    "WORKSPACE",
    "SandboxSpec",
    "sandbox_user",
    "size_text",
]

WORKSPACE = "/workspace"
SKILLS_ROOT = "/mnt/skills"
HOME = "/home/agent"
SANDBOX_UID = 1000
"""The image's ``agent`` user, who runs commands where the kernel's own user cannot."""


def sandbox_user(remote: bool) -> tuple[int, int]:
    """The uid and gid commands run as.

    Locally, the kernel's own user, so files created in the bind-mounted workspace are
    the person's; but never root: a root kernel's sandbox runs as ``agent`` in group 0,
    and the workspace hands ownership back after each command (see ``ownership``). On a
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
    sandbox_id: str = ""
    """A new random id per sandbox: its container's and volumes' names and label."""
    kernel_id: str = ""
    """The kernel that holds the conversation (``SessionOptions.kernel_id``)."""
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


def size_text(size: int) -> str:
    """A byte count as a setting would say it: ``192m``, ``4g``, ``1.5g``."""
    for unit, factor in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.3g}{unit}"
    return f"{size}b"
