"""The docker backend's settings: the image, every limit of the sandbox, and the engine.

The sizes are checked here (a size the engine would read as no limit at all, or refuse
later, fails at ``%backend`` time); what depends on the engine (its CPUs and memory,
whether it has the image) is checked when the session opens.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import docker.utils

from ..settings import BackendSettings, setting
from .images import DEFAULT_VARIANT
from .sandbox_spec import size_text

__all__ = ["DockerSettings"]

_SIZE = re.compile(r"^\d+(\.\d+)?[bkmg]?$", re.IGNORECASE)
_LEAST_MEMORY = 6 * 1024 * 1024
"""The engine's own floor for a memory limit; 0 would mean none at all."""
_LEAST_SPACE = 1024 * 1024
"""The least tmpfs or disk limit: a tmpfs of size 0 would have none at all."""


def _size(least: int, example: str, *, none: bool = False) -> Callable[[str], str]:
    """A check that the value is a size of at least ``least`` (or ``none``, when allowed)."""

    def check(value: str) -> str:
        if none and value.lower() == "none":
            return "none"
        if not _SIZE.match(value) or docker.utils.parse_bytes(value) < least:
            raise ValueError(f"expected a size of at least {size_text(least)}, such as {example}")
        return value.lower()

    return check


@dataclass(frozen=True)
class DockerSettings(BackendSettings):
    """``%backend docker key=value…``."""

    image: str = setting(
        DEFAULT_VARIANT,
        "sandbox image: full (with LibreOffice and pandoc), slim, or any local image NAME "
        "(build them: python -m conjure_kernel docker build --image full|slim)",
    )
    memory: str = setting(
        "512m",
        "memory limit, swap included (e.g. 512m, 2g)",
        check=_size(_LEAST_MEMORY, "512m or 2g"),
    )
    tmpfs: str = setting(
        "256m",
        "memory-backed room for /tmp (3/4 of it), home and /dev/shm (1/8 each), counted in "
        "memory=; at most half of memory= (a larger value is cut to that)",
        check=_size(_LEAST_SPACE, "256m"),
    )
    disk: str = setting(
        "4g",
        "what commands may write to /workspace in a session, and the largest file "
        "(e.g. 4g, 500m); a command that passes it is stopped; none: no limit",
        check=_size(_LEAST_SPACE, "4g or 500m, or none", none=True),
    )
    cpus: float = setting(1.0, "CPUs the sandbox may use", positive=True)
    pids: int = setting(256, "most processes at once in the sandbox", positive=True)
    network: str = setting("none", "network access", choices=("none", "bridge"))
    workdir: str = setting(
        "", "host folder mounted at /workspace; empty: the kernel's working directory"
    )
    timeout: float = setting(300.0, "seconds before one tool call is killed", positive=True)
    host: str = setting(
        "", "engine address (unix://, tcp://, ssh://); empty: DOCKER_HOST or the local engine"
    )
